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


// Behavioural model of the Lattice ECP5 DP16KD (16-kbit block RAM), for the
// memories hw.primitives.BlockRam builds with family="ecp5".
//
// The subset modelled: both ports 18 bits wide (1024 words; port A writes,
// port B reads) or both 36 bits wide (the pseudo dual-port mode, 512 words:
// port A writes a word whose low half is on DIA and high half on DIB, port B
// reads it onto DOA (low) and DOB (high)); WRITEMODE NORMAL; chip selects
// unused; no resets asserted; REGMODE_B "NOREG" or "OUTREG" (in the 36-bit
// mode REGMODE_A must match). Anything else stops the simulation.
//
// A read loads the read register on CLKB when CEB; with OUTREG the output
// register loads it on the next CLKB edge when OCEB. INITVAL_xx holds rows
// 16 xx .. 16 xx + 15 of the block seen as 1024 x 18, in 20-bit slots; a
// 36-bit word k is rows 2k (low half) and 2k + 1 (high half).
/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNUSEDPARAM */
module DP16KD #(
    parameter DATA_WIDTH_A = 18, parameter DATA_WIDTH_B = 18,
    parameter REGMODE_A = "NOREG", parameter REGMODE_B = "NOREG",
    parameter RESETMODE = "SYNC", parameter ASYNC_RESET_RELEASE = "SYNC",
    parameter CSDECODE_A = "0b000", parameter CSDECODE_B = "0b000",
    parameter WRITEMODE_A = "NORMAL", parameter WRITEMODE_B = "NORMAL",
    parameter GSR = "ENABLED", parameter CLKAMUX = "CLKA", parameter CLKBMUX = "CLKB",
    parameter INIT_DATA = "STATIC",
    parameter [319:0] INITVAL_00 = 320'h0,
    parameter [319:0] INITVAL_01 = 320'h0,
    parameter [319:0] INITVAL_02 = 320'h0,
    parameter [319:0] INITVAL_03 = 320'h0,
    parameter [319:0] INITVAL_04 = 320'h0,
    parameter [319:0] INITVAL_05 = 320'h0,
    parameter [319:0] INITVAL_06 = 320'h0,
    parameter [319:0] INITVAL_07 = 320'h0,
    parameter [319:0] INITVAL_08 = 320'h0,
    parameter [319:0] INITVAL_09 = 320'h0,
    parameter [319:0] INITVAL_0A = 320'h0,
    parameter [319:0] INITVAL_0B = 320'h0,
    parameter [319:0] INITVAL_0C = 320'h0,
    parameter [319:0] INITVAL_0D = 320'h0,
    parameter [319:0] INITVAL_0E = 320'h0,
    parameter [319:0] INITVAL_0F = 320'h0,
    parameter [319:0] INITVAL_10 = 320'h0,
    parameter [319:0] INITVAL_11 = 320'h0,
    parameter [319:0] INITVAL_12 = 320'h0,
    parameter [319:0] INITVAL_13 = 320'h0,
    parameter [319:0] INITVAL_14 = 320'h0,
    parameter [319:0] INITVAL_15 = 320'h0,
    parameter [319:0] INITVAL_16 = 320'h0,
    parameter [319:0] INITVAL_17 = 320'h0,
    parameter [319:0] INITVAL_18 = 320'h0,
    parameter [319:0] INITVAL_19 = 320'h0,
    parameter [319:0] INITVAL_1A = 320'h0,
    parameter [319:0] INITVAL_1B = 320'h0,
    parameter [319:0] INITVAL_1C = 320'h0,
    parameter [319:0] INITVAL_1D = 320'h0,
    parameter [319:0] INITVAL_1E = 320'h0,
    parameter [319:0] INITVAL_1F = 320'h0,
    parameter [319:0] INITVAL_20 = 320'h0,
    parameter [319:0] INITVAL_21 = 320'h0,
    parameter [319:0] INITVAL_22 = 320'h0,
    parameter [319:0] INITVAL_23 = 320'h0,
    parameter [319:0] INITVAL_24 = 320'h0,
    parameter [319:0] INITVAL_25 = 320'h0,
    parameter [319:0] INITVAL_26 = 320'h0,
    parameter [319:0] INITVAL_27 = 320'h0,
    parameter [319:0] INITVAL_28 = 320'h0,
    parameter [319:0] INITVAL_29 = 320'h0,
    parameter [319:0] INITVAL_2A = 320'h0,
    parameter [319:0] INITVAL_2B = 320'h0,
    parameter [319:0] INITVAL_2C = 320'h0,
    parameter [319:0] INITVAL_2D = 320'h0,
    parameter [319:0] INITVAL_2E = 320'h0,
    parameter [319:0] INITVAL_2F = 320'h0,
    parameter [319:0] INITVAL_30 = 320'h0,
    parameter [319:0] INITVAL_31 = 320'h0,
    parameter [319:0] INITVAL_32 = 320'h0,
    parameter [319:0] INITVAL_33 = 320'h0,
    parameter [319:0] INITVAL_34 = 320'h0,
    parameter [319:0] INITVAL_35 = 320'h0,
    parameter [319:0] INITVAL_36 = 320'h0,
    parameter [319:0] INITVAL_37 = 320'h0,
    parameter [319:0] INITVAL_38 = 320'h0,
    parameter [319:0] INITVAL_39 = 320'h0,
    parameter [319:0] INITVAL_3A = 320'h0,
    parameter [319:0] INITVAL_3B = 320'h0,
    parameter [319:0] INITVAL_3C = 320'h0,
    parameter [319:0] INITVAL_3D = 320'h0,
    parameter [319:0] INITVAL_3E = 320'h0,
    parameter [319:0] INITVAL_3F = 320'h0
) (
    input DIA0, DIA1, DIA2, DIA3, DIA4, DIA5, DIA6, DIA7, DIA8, DIA9, DIA10, DIA11, DIA12, DIA13, DIA14, DIA15, DIA16, DIA17,
    input ADA0, ADA1, ADA2, ADA3, ADA4, ADA5, ADA6, ADA7, ADA8, ADA9, ADA10, ADA11, ADA12, ADA13,
    input CEA, OCEA, CLKA, WEA, CSA0, CSA1, CSA2, RSTA,
    input DIB0, DIB1, DIB2, DIB3, DIB4, DIB5, DIB6, DIB7, DIB8, DIB9, DIB10, DIB11, DIB12, DIB13, DIB14, DIB15, DIB16, DIB17,
    input ADB0, ADB1, ADB2, ADB3, ADB4, ADB5, ADB6, ADB7, ADB8, ADB9, ADB10, ADB11, ADB12, ADB13,
    input CEB, OCEB, CLKB, WEB, CSB0, CSB1, CSB2, RSTB,
    output DOA0, DOA1, DOA2, DOA3, DOA4, DOA5, DOA6, DOA7, DOA8, DOA9, DOA10, DOA11, DOA12, DOA13, DOA14, DOA15, DOA16, DOA17,
    output DOB0, DOB1, DOB2, DOB3, DOB4, DOB5, DOB6, DOB7, DOB8, DOB9, DOB10, DOB11, DOB12, DOB13, DOB14, DOB15, DOB16, DOB17
);
    localparam WIDE = DATA_WIDTH_A == 36;
    initial begin
        if (!((DATA_WIDTH_A == 18 && DATA_WIDTH_B == 18)
                || (DATA_WIDTH_A == 36 && DATA_WIDTH_B == 36))
                || (REGMODE_B != "NOREG" && REGMODE_B != "OUTREG")
                || (WIDE && REGMODE_A != REGMODE_B)
                || WRITEMODE_A != "NORMAL" || CSDECODE_A != "0b000" || CSDECODE_B != "0b000"
                || CLKAMUX != "CLKA" || CLKBMUX != "CLKB")
            $fatal(1, "DP16KD model: a setting outside the modelled subset");
    end

    function automatic [319:0] initval(input [7:0] k);
        case (k)
            8'h00: initval = INITVAL_00;
            8'h01: initval = INITVAL_01;
            8'h02: initval = INITVAL_02;
            8'h03: initval = INITVAL_03;
            8'h04: initval = INITVAL_04;
            8'h05: initval = INITVAL_05;
            8'h06: initval = INITVAL_06;
            8'h07: initval = INITVAL_07;
            8'h08: initval = INITVAL_08;
            8'h09: initval = INITVAL_09;
            8'h0A: initval = INITVAL_0A;
            8'h0B: initval = INITVAL_0B;
            8'h0C: initval = INITVAL_0C;
            8'h0D: initval = INITVAL_0D;
            8'h0E: initval = INITVAL_0E;
            8'h0F: initval = INITVAL_0F;
            8'h10: initval = INITVAL_10;
            8'h11: initval = INITVAL_11;
            8'h12: initval = INITVAL_12;
            8'h13: initval = INITVAL_13;
            8'h14: initval = INITVAL_14;
            8'h15: initval = INITVAL_15;
            8'h16: initval = INITVAL_16;
            8'h17: initval = INITVAL_17;
            8'h18: initval = INITVAL_18;
            8'h19: initval = INITVAL_19;
            8'h1A: initval = INITVAL_1A;
            8'h1B: initval = INITVAL_1B;
            8'h1C: initval = INITVAL_1C;
            8'h1D: initval = INITVAL_1D;
            8'h1E: initval = INITVAL_1E;
            8'h1F: initval = INITVAL_1F;
            8'h20: initval = INITVAL_20;
            8'h21: initval = INITVAL_21;
            8'h22: initval = INITVAL_22;
            8'h23: initval = INITVAL_23;
            8'h24: initval = INITVAL_24;
            8'h25: initval = INITVAL_25;
            8'h26: initval = INITVAL_26;
            8'h27: initval = INITVAL_27;
            8'h28: initval = INITVAL_28;
            8'h29: initval = INITVAL_29;
            8'h2A: initval = INITVAL_2A;
            8'h2B: initval = INITVAL_2B;
            8'h2C: initval = INITVAL_2C;
            8'h2D: initval = INITVAL_2D;
            8'h2E: initval = INITVAL_2E;
            8'h2F: initval = INITVAL_2F;
            8'h30: initval = INITVAL_30;
            8'h31: initval = INITVAL_31;
            8'h32: initval = INITVAL_32;
            8'h33: initval = INITVAL_33;
            8'h34: initval = INITVAL_34;
            8'h35: initval = INITVAL_35;
            8'h36: initval = INITVAL_36;
            8'h37: initval = INITVAL_37;
            8'h38: initval = INITVAL_38;
            8'h39: initval = INITVAL_39;
            8'h3A: initval = INITVAL_3A;
            8'h3B: initval = INITVAL_3B;
            8'h3C: initval = INITVAL_3C;
            8'h3D: initval = INITVAL_3D;
            8'h3E: initval = INITVAL_3E;
            8'h3F: initval = INITVAL_3F;
            default: initval = 320'h0;
        endcase
    endfunction

    reg [17:0] rows [0:1023];
    integer k, i;
    reg [319:0] slots;
    initial begin
        for (k = 0; k < 64; k = k + 1) begin
            slots = initval(k[7:0]);
            for (i = 0; i < 16; i = i + 1)
                rows[k * 16 + i] = slots[i * 20 +: 18];
        end
    end

    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
    wire [35:0] di = {{DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0}, {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0}};
    always @(posedge CLKA)
        if ({CSA2, CSA1, CSA0, RSTA} !== 4'b0000)
            $fatal(1, "DP16KD model: chip selects and RSTA are not modelled");
    always @(posedge CLKB)
        if ({CSB2, CSB1, CSB0, RSTB, WEB} !== 5'b00000)
            $fatal(1, "DP16KD model: chip selects, RSTB and writes on port B are not modelled");

    // Port A writes (byte enables on ADA[3:0] in the 36-bit mode, ADA[1:0] in the 18-bit one).
    always @(posedge CLKA)
        if (CEA && WEA) begin
            if (WIDE) begin
                if (ADA0) rows[{ada[13:5], 1'b0}][8:0] <= di[8:0];
                if (ADA1) rows[{ada[13:5], 1'b0}][17:9] <= di[17:9];
                if (ADA2) rows[{ada[13:5], 1'b1}][8:0] <= di[26:18];
                if (ADA3) rows[{ada[13:5], 1'b1}][17:9] <= di[35:27];
            end else begin
                if (ADA0) rows[ada[13:4]][8:0] <= di[8:0];
                if (ADA1) rows[ada[13:4]][17:9] <= di[17:9];
            end
        end

    // Port B reads: the read register, then (OUTREG) the output register.
    reg [35:0] read_reg = 36'd0, out_reg = 36'd0;
    always @(posedge CLKB) begin
        if (CEB)
            read_reg <= WIDE ? {rows[{adb[13:5], 1'b1}], rows[{adb[13:5], 1'b0}]}
                             : {18'd0, rows[adb[13:4]]};
        if (OCEB)
            out_reg <= read_reg;
    end
    wire [35:0] q = REGMODE_B == "OUTREG" ? out_reg : read_reg;
    wire [17:0] doa = WIDE ? q[17:0] : 18'd0;
    wire [17:0] dob = WIDE ? q[35:18] : q[17:0];
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule
/* verilator lint_on UNUSEDPARAM */
/* verilator lint_on UNUSEDSIGNAL */
