// Behavioural simulation model of the Lattice iCE40 UltraPlus SB_SPRAM256KA,
// for designs that hw.primitives builds with family="ice40" (zeroskip
// simulates them with this file beside the design; synthesis uses yosys's
// own cell library instead).
//
// 16384 words of 16 bits, one address. At a rising CLOCK edge with
// CHIPSELECT high: WREN low reads the word at ADDRESS into DATAOUT; WREN high
// writes DATAIN into the nibbles MASKWREN selects, and DATAOUT is undefined
// on the device afterwards: here it becomes the bitwise inverse of the word
// at ADDRESS before the write, so a design that uses it fails its
// simulation. CHIPSELECT low holds DATAOUT. The contents start at zero
// here (undefined on the device: designs write before they read).
// STANDBY, SLEEP and POWEROFF must stay at 0, 0 and 1; anything else stops
// the simulation.
/* verilator lint_off UNUSEDSIGNAL */
module SB_SPRAM256KA (
    input [13:0] ADDRESS,
    input [15:0] DATAIN,
    input [3:0] MASKWREN,
    input WREN,
    input CHIPSELECT,
    input CLOCK,
    input STANDBY,
    input SLEEP,
    input POWEROFF,
    output reg [15:0] DATAOUT
);
    reg [15:0] mem [0:16383];
    integer k;
    initial begin
        for (k = 0; k < 16384; k = k + 1) mem[k] = 16'h0000;
        DATAOUT = 16'h0000;
    end

    always @(posedge CLOCK) begin
        if (STANDBY !== 1'b0 || SLEEP !== 1'b0 || POWEROFF !== 1'b1) begin
            $display("SB_SPRAM256KA model: STANDBY, SLEEP, POWEROFF must be 0, 0, 1");
            $fatal(1);
        end
        if (CHIPSELECT) begin
            if (WREN) begin
                if (MASKWREN[0]) mem[ADDRESS][3:0] <= DATAIN[3:0];
                if (MASKWREN[1]) mem[ADDRESS][7:4] <= DATAIN[7:4];
                if (MASKWREN[2]) mem[ADDRESS][11:8] <= DATAIN[11:8];
                if (MASKWREN[3]) mem[ADDRESS][15:12] <= DATAIN[15:12];
                DATAOUT <= ~mem[ADDRESS];
            end else begin
                DATAOUT <= mem[ADDRESS];
            end
        end
    end
endmodule
/* verilator lint_on UNUSEDSIGNAL */

