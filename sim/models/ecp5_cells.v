// Behavioural simulation model of the Lattice ECP5 MULT18X18D, for designs
// that hw.primitives builds with family="ecp5" (zeroskip simulates them with
// this file beside the design; synthesis uses yosys's black box instead).
//
// It models the subset of the primitive those designs use and stops the
// simulation at time 0 for any other setting: the A and B input registers,
// the pipeline register and the output register each either absent ("NONE")
// or on CLK0 with clock enable CE0 and synchronous reset RST0; C, the shift
// chains (SOURCEA/SOURCEB = 0) and the cascade outputs unused; SIGNEDA and
// SIGNEDB held constant (so it does not matter which stage samples them).
//
//   A, B (18 bits, two's complement when SIGNEDA/SIGNEDB)
//     --> [input registers, REG_INPUTA/B_CLK] --> a * b (36 bits)
//     --> [pipeline register, REG_PIPELINE_CLK] --> [output register,
//     REG_OUTPUT_CLK] --> P
/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNUSEDPARAM */
module MULT18X18D #(
    parameter REG_INPUTA_CLK = "NONE", parameter REG_INPUTA_CE = "CE0",
    parameter REG_INPUTA_RST = "RST0",
    parameter REG_INPUTB_CLK = "NONE", parameter REG_INPUTB_CE = "CE0",
    parameter REG_INPUTB_RST = "RST0",
    parameter REG_INPUTC_CLK = "NONE", parameter REG_INPUTC_CE = "CE0",
    parameter REG_INPUTC_RST = "RST0",
    parameter REG_PIPELINE_CLK = "NONE", parameter REG_PIPELINE_CE = "CE0",
    parameter REG_PIPELINE_RST = "RST0",
    parameter REG_OUTPUT_CLK = "NONE", parameter REG_OUTPUT_CE = "CE0",
    parameter REG_OUTPUT_RST = "RST0",
    parameter CLK0_DIV = "ENABLED", parameter CLK1_DIV = "ENABLED",
    parameter CLK2_DIV = "ENABLED", parameter CLK3_DIV = "ENABLED",
    parameter HIGHSPEED_CLK = "NONE", parameter GSR = "ENABLED",
    parameter CAS_MATCH_REG = "FALSE", parameter SOURCEB_MODE = "B_SHIFT",
    parameter MULT_BYPASS = "DISABLED", parameter RESETMODE = "SYNC"
) (
    input A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17,
    input B0, B1, B2, B3, B4, B5, B6, B7, B8, B9, B10, B11, B12, B13, B14, B15, B16, B17,
    input C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C15, C16, C17,
    input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    // Of the four clock, enable and reset inputs only the first are modelled.
    input CLK0, CE0, RST0,
    output P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12, P13, P14, P15, P16, P17, P18, P19, P20, P21, P22, P23, P24, P25, P26, P27, P28, P29, P30, P31, P32, P33, P34, P35
);
    // The settings this model covers; anything else is refused.
    function automatic bit stage_ok(input string clk, input string ce, input string rst);
        return clk == "NONE" || (clk == "CLK0" && ce == "CE0" && rst == "RST0");
    endfunction
    initial begin
        if (!stage_ok(REG_INPUTA_CLK, REG_INPUTA_CE, REG_INPUTA_RST)
                || !stage_ok(REG_INPUTB_CLK, REG_INPUTB_CE, REG_INPUTB_RST)
                || !stage_ok(REG_PIPELINE_CLK, REG_PIPELINE_CE, REG_PIPELINE_RST)
                || !stage_ok(REG_OUTPUT_CLK, REG_OUTPUT_CE, REG_OUTPUT_RST)
                || REG_INPUTC_CLK != "NONE" || MULT_BYPASS != "DISABLED"
                || RESETMODE != "SYNC" || HIGHSPEED_CLK != "NONE")
            $fatal(1, "MULT18X18D model: a setting outside the modelled subset");
    end
    always @(posedge CLK0)
        if (SOURCEA !== 1'b0 || SOURCEB !== 1'b0)
            $fatal(1, "MULT18X18D model: SOURCEA/SOURCEB (shift chains) are not modelled");

    wire [17:0] a_in = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b_in = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    reg [17:0] a_reg = 18'd0, b_reg = 18'd0;
    reg [35:0] pipe_reg = 36'd0, out_reg = 36'd0;
    always @(posedge CLK0) begin
        if (RST0) begin
            a_reg <= 18'd0;
            b_reg <= 18'd0;
        end else if (CE0) begin
            a_reg <= a_in;
            b_reg <= b_in;
        end
    end
    wire [17:0] a_op = REG_INPUTA_CLK == "NONE" ? a_in : a_reg;
    wire [17:0] b_op = REG_INPUTB_CLK == "NONE" ? b_in : b_reg;
    wire [35:0] a_ext = {{18{SIGNEDA & a_op[17]}}, a_op};
    wire [35:0] b_ext = {{18{SIGNEDB & b_op[17]}}, b_op};
    wire [35:0] product = a_ext * b_ext;
    always @(posedge CLK0) begin
        if (RST0) pipe_reg <= 36'd0;
        else if (CE0) pipe_reg <= product;
    end
    wire [35:0] p_pipe = REG_PIPELINE_CLK == "NONE" ? product : pipe_reg;
    always @(posedge CLK0) begin
        if (RST0) out_reg <= 36'd0;
        else if (CE0) out_reg <= p_pipe;
    end
    wire [35:0] p_out = REG_OUTPUT_CLK == "NONE" ? p_pipe : out_reg;
    assign P0 = p_out[0];
    assign P1 = p_out[1];
    assign P2 = p_out[2];
    assign P3 = p_out[3];
    assign P4 = p_out[4];
    assign P5 = p_out[5];
    assign P6 = p_out[6];
    assign P7 = p_out[7];
    assign P8 = p_out[8];
    assign P9 = p_out[9];
    assign P10 = p_out[10];
    assign P11 = p_out[11];
    assign P12 = p_out[12];
    assign P13 = p_out[13];
    assign P14 = p_out[14];
    assign P15 = p_out[15];
    assign P16 = p_out[16];
    assign P17 = p_out[17];
    assign P18 = p_out[18];
    assign P19 = p_out[19];
    assign P20 = p_out[20];
    assign P21 = p_out[21];
    assign P22 = p_out[22];
    assign P23 = p_out[23];
    assign P24 = p_out[24];
    assign P25 = p_out[25];
    assign P26 = p_out[26];
    assign P27 = p_out[27];
    assign P28 = p_out[28];
    assign P29 = p_out[29];
    assign P30 = p_out[30];
    assign P31 = p_out[31];
    assign P32 = p_out[32];
    assign P33 = p_out[33];
    assign P34 = p_out[34];
    assign P35 = p_out[35];
endmodule
/* verilator lint_on UNUSEDPARAM */
/* verilator lint_on UNUSEDSIGNAL */
