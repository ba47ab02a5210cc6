"""hw.primitives.BlockRam: the ECP5 DP16KD version behaves as the generic one, cycle for cycle.

Both versions of the same memory (same init) get the same random writes and
reads under Verilator, with ``sim/models/ecp5_cells.v`` standing in for the
DP16KD; every cycle their ``r_data`` must agree, and agree with a reference
memory kept by the SystemVerilog testbench itself. The shapes cover the 18-bit
mode with blocks side by side, the 36-bit (pseudo dual-port) mode, and a deep
memory of several banks (the multiplexer after the output registers).
"""

import subprocess

import pytest
from amaranth.back import rtlil, verilog
from amaranth.hdl import Elaboratable, Module, Signal

from hw.primitives import BlockRam
from sim.runner import PRIMITIVE_MODELS, VERILATOR_WAIVERS
from sim.toolchain import require_verilator

# (width, depth, DP16KD blocks): 18-bit mode x4; 36-bit mode; 36-bit mode,
# shallow; 18-bit mode, 2 wide and 3 banks deep.
SHAPES = [(64, 1024, 4), (28, 512, 1), (36, 64, 1), (20, 3000, 6)]


class _Pair(Elaboratable):
    """The generic and the ECP5 version of one memory on the same inputs."""

    def __init__(self, width, depth, init):
        self.generic = BlockRam(width=width, depth=depth, init=init)
        self.ecp5 = BlockRam(width=width, depth=depth, init=init, family="ecp5")
        addr_bits = len(self.generic.r_addr)
        self.w_en, self.r_en = Signal(name="w_en"), Signal(name="r_en")
        self.w_addr = Signal(addr_bits, name="w_addr")
        self.r_addr = Signal(addr_bits, name="r_addr")
        self.w_data = Signal(width, name="w_data")
        self.q_generic = Signal(width, name="q_generic")
        self.q_ecp5 = Signal(width, name="q_ecp5")

    def ports(self):
        return [self.w_en, self.w_addr, self.w_data, self.r_en, self.r_addr,
                self.q_generic, self.q_ecp5]

    def elaborate(self, platform):
        m = Module()
        m.submodules.generic, m.submodules.ecp5 = self.generic, self.ecp5
        for ram in (self.generic, self.ecp5):
            m.d.comb += [ram.w_en.eq(self.w_en), ram.w_addr.eq(self.w_addr),
                         ram.w_data.eq(self.w_data), ram.r_en.eq(self.r_en),
                         ram.r_addr.eq(self.r_addr)]
        m.d.comb += [self.q_generic.eq(self.generic.r_data), self.q_ecp5.eq(self.ecp5.r_data)]
        return m


def _init(width, depth):
    # A fixed pattern that differs in every word and uses the top bit.
    return [(k * 0x9E3779B97F4A7C15 + (k << (width - 1))) % (1 << width) for k in range(depth)]


TESTBENCH = """
module tb;
    reg clk = 0, rst = 0;
    reg w_en = 0, r_en = 0;
    reg [{ab}-1:0] w_addr = 0, r_addr = 0;
    reg [{w}-1:0] w_data = 0;
    wire [{w}-1:0] q_generic, q_ecp5;
    reg [{w}-1:0] ref_mem [0:{depth}-1];
    reg [{w}-1:0] ref_read = 0, ref_out = 0;
    integer cycle, k;
    pair dut(.clk(clk), .rst(rst), .w_en(w_en), .w_addr(w_addr), .w_data(w_data), .r_en(r_en),
             .r_addr(r_addr), .q_generic(q_generic), .q_ecp5(q_ecp5));
    initial begin
        $readmemh("init.hex", ref_mem);
        for (cycle = 0; cycle < 6000; cycle = cycle + 1) begin
            // Never read the address written in the same cycle (unspecified).
            w_en = ($urandom % 4) == 0;
            w_addr = $urandom % {depth};
            w_data = {{$urandom, $urandom, $urandom}};
            r_en = ($urandom % 4) != 0;
            r_addr = $urandom % {depth};
            if (w_en && r_addr == w_addr) r_addr = (r_addr + 1) % {depth};
            #1 clk = 1;
            ref_out = ref_read;
            if (r_en) ref_read = ref_mem[r_addr];
            if (w_en) ref_mem[w_addr] = w_data;
            #1 clk = 0;
            if (q_generic !== ref_out || q_ecp5 !== ref_out) begin
                $display("MISMATCH cycle %0d: reference %h generic %h ecp5 %h", cycle, ref_out,
                         q_generic, q_ecp5);
                $fatal(1);
            end
        end
        $display("PASS");
        $finish;
    end
endmodule
"""


@pytest.mark.verilator
@pytest.mark.parametrize("width,depth,blocks", SHAPES,
                         ids=[f"{w}x{d}" for w, d, _ in SHAPES])
def test_ecp5_block_ram_equals_generic(build_root, width, depth, blocks):
    pair = _Pair(width, depth, _init(width, depth))
    assert pair.ecp5.blocks == blocks
    folder = build_root / "block_ram" / f"{width}x{depth}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pair.v").write_text(verilog.convert(pair, name="pair", ports=pair.ports()))
    (folder / "init.hex").write_text("".join(f"{x:x}\n" for x in _init(width, depth)))
    (folder / "tb.sv").write_text(TESTBENCH.format(w=width, depth=depth,
                                                   ab=len(pair.generic.r_addr)))
    verilator = require_verilator()
    build = subprocess.run(
        # --timing needs C++20 coroutines; one C++ file (see sim.runner._build).
        [verilator, "--binary", "--timing", "-CFLAGS", "-std=gnu++20 -fcoroutines",
         "-j", "1", "--output-split", "0", *VERILATOR_WAIVERS, "-Wno-PINMISSING",
         "--top-module", "tb", "-Mdir", "obj", "tb.sv", "pair.v",
         *map(str, PRIMITIVE_MODELS["ecp5"])],
        cwd=folder, capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run(["obj/Vtb"], cwd=folder, capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "PASS" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]


def test_block_ram_ecp5_instances():
    """A 64 x 1024 memory is four DP16KD in the 18-bit mode with the output register."""
    text = rtlil.convert(BlockRam(width=64, depth=1024, family="ecp5"))
    assert text.count("cell \\DP16KD ") == 4
    assert text.count('parameter \\REGMODE_B "OUTREG"') == 4
    assert text.count("parameter \\DATA_WIDTH_B 18") == 4


def test_block_ram_init_words_in_initval():
    """INITVAL_00 of a 36-bit memory: word 0 is rows 0 (low half) and 1, in 20-bit slots."""
    word = (0x2AAAA << 18) | 0x15555
    text = rtlil.convert(BlockRam(width=36, depth=4, init=[word, 0, 3], family="ecp5"))
    expected = 0x15555 | (0x2AAAA << 20) | (3 << 80)
    assert f"parameter \\INITVAL_00 320'{expected:0320b}" in text
    assert "INITVAL_01" not in text


def test_block_ram_checks():
    with pytest.raises(ValueError, match=r"^width must be a positive integer, not 0$"):
        BlockRam(width=0, depth=4)
    with pytest.raises(ValueError, match=r"^depth must be a positive integer, not True$"):
        BlockRam(width=8, depth=True)
    with pytest.raises(ValueError, match=r"^family must be None or one of 'ecp5', not 'ice40'$"):
        BlockRam(width=8, depth=4, family="ice40")
    with pytest.raises(ValueError, match=r"^init has 5 words, more than the depth 4$"):
        BlockRam(width=8, depth=4, init=range(5))
    with pytest.raises(ValueError, match=r"^init word 1 is 256, not a 8-bit unsigned value$"):
        BlockRam(width=8, depth=4, init=[0, 256])
