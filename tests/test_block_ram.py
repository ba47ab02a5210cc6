"""hw.primitives.BlockRam: the family versions behave as the generic one, cycle for cycle.

Both versions of the same memory (same init) get the same random writes and
reads under Verilator, with ``sim/models/`` standing in for the primitives
(DP16KD, SB_SPRAM256KA); every cycle their ``r_data`` must agree, and agree
with a reference memory kept by the SystemVerilog testbench itself. The ECP5
shapes cover the 18-bit mode with blocks side by side, the 36-bit (pseudo
dual-port) mode, and a deep memory of several banks (the multiplexer after
the output registers); the iCE40 single-port shapes one and several SPRAMs
side by side, where a write cycle leaves the read register unspecified (the
reference then compares nothing until the next read).
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
# (width, depth, SB_SPRAM256KA blocks) of single-port memories on iCE40.
SPRAM_SHAPES = [(16, 16384, 1), (36, 700, 3)]


class _Pair(Elaboratable):
    """The generic and a family version of one memory on the same inputs."""

    def __init__(self, width, depth, init, family, *, single_port=False):
        self.single_port = single_port
        self.generic = BlockRam(width=width, depth=depth, init=init, single_port=single_port)
        self.other = BlockRam(width=width, depth=depth, init=init, family=family,
                              single_port=single_port)
        addr_bits = len(self.generic.r_addr)
        self.w_en, self.r_en = Signal(name="w_en"), Signal(name="r_en")
        self.w_addr = Signal(addr_bits, name="w_addr")
        self.r_addr = Signal(addr_bits, name="r_addr")
        self.w_data = Signal(width, name="w_data")
        self.q_generic = Signal(width, name="q_generic")
        self.q_family = Signal(width, name="q_family")

    def ports(self):
        return [self.w_en, self.w_addr, self.w_data, self.r_en, self.r_addr,
                self.q_generic, self.q_family]

    def elaborate(self, platform):
        m = Module()
        m.submodules.generic, m.submodules.other = self.generic, self.other
        for ram in (self.generic, self.other):
            m.d.comb += [ram.w_en.eq(self.w_en), ram.w_addr.eq(self.w_addr),
                         ram.w_data.eq(self.w_data), ram.r_en.eq(self.r_en),
                         ram.r_addr.eq(self.r_addr)]
        m.d.comb += [self.q_generic.eq(self.generic.r_data), self.q_family.eq(self.other.r_data)]
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
    wire [{w}-1:0] q_generic, q_family;
    reg [{w}-1:0] ref_mem [0:{depth}-1];
    reg [{w}-1:0] ref_read = 0, ref_out = 0;
    // A single-port memory's write cycle leaves the read register unspecified.
    reg read_known = 1, out_known = 1;
    integer cycle, k, compared = 0;
    pair dut(.clk(clk), .rst(rst), .w_en(w_en), .w_addr(w_addr), .w_data(w_data), .r_en(r_en),
             .r_addr(r_addr), .q_generic(q_generic), .q_family(q_family));
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
            out_known = read_known;
            if (r_en) begin
                ref_read = ref_mem[r_addr];
                read_known = 1;
            end
            if (w_en && {single}) read_known = 0;
            if (w_en) ref_mem[w_addr] = w_data;
            #1 clk = 0;
            if (out_known) begin
                compared = compared + 1;
                if (q_generic !== ref_out || q_family !== ref_out) begin
                    $display("MISMATCH cycle %0d: reference %h generic %h family %h", cycle,
                             ref_out, q_generic, q_family);
                    $fatal(1);
                end
            end
        end
        $display("PASS %0d", compared);
        $finish;
    end
endmodule
"""


def _run_pair(folder, pair, init, family):
    """Build and run the testbench; the number of cycles whose outputs it compared."""
    width, depth = len(pair.q_generic), len(init)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pair.v").write_text(verilog.convert(pair, name="pair", ports=pair.ports()))
    (folder / "init.hex").write_text("".join(f"{x:x}\n" for x in init))
    (folder / "tb.sv").write_text(TESTBENCH.format(w=width, depth=depth,
                                                   single=int(pair.single_port),
                                                   ab=len(pair.generic.r_addr)))
    verilator = require_verilator()
    build = subprocess.run(
        # --timing needs C++20 coroutines; one C++ file (see sim.runner._build).
        [verilator, "--binary", "--timing", "-CFLAGS", "-std=gnu++20 -fcoroutines",
         "-j", "1", "--output-split", "0", *VERILATOR_WAIVERS, "-Wno-PINMISSING",
         "--top-module", "tb", "-Mdir", "obj", "tb.sv", "pair.v",
         *map(str, PRIMITIVE_MODELS[family])],
        cwd=folder, capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run(["obj/Vtb"], cwd=folder, capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "PASS" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
    return int(run.stdout.split("PASS")[1].split()[0])


@pytest.mark.verilator
@pytest.mark.parametrize("width,depth,blocks", SHAPES,
                         ids=[f"{w}x{d}" for w, d, _ in SHAPES])
def test_ecp5_block_ram_equals_generic(build_root, width, depth, blocks):
    init = _init(width, depth)
    pair = _Pair(width, depth, init, "ecp5")
    assert pair.other.blocks == blocks
    compared = _run_pair(build_root / "block_ram" / f"{width}x{depth}", pair, init, "ecp5")
    assert compared == 6000


@pytest.mark.verilator
@pytest.mark.parametrize("width,depth,blocks", SPRAM_SHAPES,
                         ids=[f"{w}x{d}" for w, d, _ in SPRAM_SHAPES])
def test_ice40_spram_equals_generic(build_root, width, depth, blocks):
    # An SPRAM starts empty: the generic version's init is all zeros too.
    init = [0] * depth
    pair = _Pair(width, depth, init, "ice40", single_port=True)
    assert pair.other.blocks == blocks
    compared = _run_pair(build_root / "block_ram" / f"spram_{width}x{depth}", pair, init,
                         "ice40")
    # About a quarter of the cycles write; after one, nothing is compared until
    # the next read, so most cycles still are.
    assert 3000 < compared < 6000


def test_block_ram_ecp5_instances():
    """A 64 x 1024 memory is four DP16KD in the 18-bit mode with the output register."""
    text = rtlil.convert(BlockRam(width=64, depth=1024, family="ecp5"))
    assert text.count("cell \\DP16KD ") == 4
    assert text.count('parameter \\REGMODE_B "OUTREG"') == 4
    assert text.count("parameter \\DATA_WIDTH_B 18") == 4


def test_block_ram_ice40_spram_instances():
    """A single-port 36 x 1000 memory is three SPRAMs on one address, read in a register."""
    text = rtlil.convert(BlockRam(width=36, depth=1000, family="ice40", single_port=True))
    assert text.count("cell \\SB_SPRAM256KA ") == 3
    assert text.count("connect \\POWEROFF 1'1") == 3
    assert text.count("connect \\MASKWREN 4'1111") == 3
    assert "out_reg" in text
    assert "cell \\SB_SPRAM256KA" not in rtlil.convert(
        BlockRam(width=36, depth=1000, family="ice40"))


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
    with pytest.raises(ValueError, match=r"^family must be None or one of 'ecp5', 'ice40', "
                                         r"not 'gowin'$"):
        BlockRam(width=8, depth=4, family="gowin")
    with pytest.raises(ValueError, match=r"^depth must be at most 16384 for the iCE40 "
                                         r"SB_SPRAM256KA, not 16385$"):
        BlockRam(width=16, depth=16385, family="ice40", single_port=True)
    # An SPRAM has no initial contents: with a nonzero init, and without
    # single_port, an iCE40 memory is the generic one (yosys infers EBR).
    assert BlockRam(width=16, depth=4, init=[0, 1], family="ice40", single_port=True).blocks == 0
    assert BlockRam(width=16, depth=4, init=[0, 0], family="ice40", single_port=True).blocks == 1
    assert BlockRam(width=16, depth=16385, init=[1], family="ice40").blocks == 0
    with pytest.raises(ValueError, match=r"^init has 5 words, more than the depth 4$"):
        BlockRam(width=8, depth=4, init=range(5))
    with pytest.raises(ValueError, match=r"^init word 1 is 256, not a 8-bit unsigned value$"):
        BlockRam(width=8, depth=4, init=[0, 256])
