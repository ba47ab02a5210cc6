"""cocotb module of the RTL benchmark (``sim/bench_eie.py``): layers run one by one.

For every layer of ``$EIE_LAYERS`` the weights are loaded through the host port
(``EIE_LOAD=port``) or already baked into the design (one layer only); this
writes the input activations, runs the layer, reads the outputs and counters,
checks them against the golden and cycle models and writes the measurements to
``$EIE_BENCH_OUT`` (JSON).
"""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hw.eie.array import cmd_layout, resp_layout
from hw.eie.program import Counter, EieProgram, Op
from sim.bench_eie import bench_layer
from sw_model.config import EieConfig
from sw_model.eie_cycles import EieTiming, layer_cycles
from sw_model.eie_model import eie_layer


class _Host:
    """Minimal host port driver: one command at a time, responses without stalls."""

    def __init__(self, dut, config):
        self.dut = dut
        self.cmd = {n: (f.offset, f.width) for n, f in cmd_layout(config)}
        self.resp = {n: (f.offset, f.width) for n, f in resp_layout(config)}

    async def send(self, op, pe=0, addr=0, data=0):
        word = 0
        for name, value in (("op", op), ("pe", pe), ("addr", addr), ("data", data)):
            offset, width = self.cmd[name]
            word |= (int(value) & ((1 << width) - 1)) << offset
        self.dut.cmd__payload.value = word
        self.dut.cmd__valid.value = 1
        while True:
            await RisingEdge(self.dut.clk)
            if self.dut.cmd__ready.value == 1:
                break
        self.dut.cmd__valid.value = 0

    async def response(self):
        self.dut.resp__ready.value = 1
        while True:
            await RisingEdge(self.dut.clk)
            if self.dut.resp__valid.value == 1:
                break
        self.dut.resp__ready.value = 0
        offset, width = self.resp["data"]
        return (int(self.dut.resp__payload.value) >> offset) & ((1 << width) - 1)


async def _run_layer(dut, host, config, timing, spec, load):
    layer, acts = bench_layer(**spec)
    prog = EieProgram([(layer, False)], config=config)
    cmds = prog.load_commands() if load == "port" else []
    started = time.perf_counter()
    for cmd in cmds + prog.input_commands(acts):
        await host.send(*cmd)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await host.send(Op.RUN, data=1)
    # Sleep until the response instead of waking Python every cycle, so the
    # speed measured is the simulator's.
    if dut.resp__valid.value != 1:
        await RisingEdge(dut.resp__valid)
    cycles = await host.response()
    wall = time.perf_counter() - started
    outs = []
    for cmd in prog.output_commands():
        await host.send(*cmd)
        value = await host.response()
        outs.append(value - (1 << 16) if value & 0x8000 else value)
    busy = []
    for pe in range(config.n_pe):
        await host.send(Op.READ_COUNTER, pe=pe, addr=Counter.BUSY)
        busy.append(await host.response())
    expect = eie_layer(layer, acts, acc_bits=config.acc_bits, w_frac_bits=config.w_frac_bits)
    model = layer_cycles(layer, acts, config=config, timing=timing)
    return {
        **spec,
        "n_in": layer.n_cols,
        "n_out": layer.n_rows,
        "cycles": cycles,
        "model_cycles": model.cycles,
        "ideal": model.ideal,
        "outputs_match": bool(np.array_equal(np.array(outs), expect)),
        "busy_match": busy == model.busy.tolist(),
        "run_seconds": wall,
        "load_commands": len(cmds),
        "load_seconds": load_seconds,
        "cycles_per_second": cycles / wall if wall else 0.0,
    }


@cocotb.test()
async def bench(dut):
    """Run each layer once; record cycles, correctness and simulation speed."""
    config = EieConfig.from_dict(json.loads(os.environ["EIE_CONFIG"]))
    timing = EieTiming(**json.loads(os.environ["EIE_TIMING"]))
    specs = json.loads(os.environ["EIE_LAYERS"])
    load = os.environ.get("EIE_LOAD", "port")
    host = _Host(dut, config)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.cmd__valid.value = 0
    dut.resp__ready.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await ClockCycles(dut.clk, config.act_depth + 1)
    results = []
    for spec in specs:
        result = await _run_layer(dut, host, config, timing, spec, load)
        dut._log.info("%s", result)
        results.append(result)
        # Written after every layer, so a long run leaves partial results.
        with open(os.environ["EIE_BENCH_OUT"], "w") as f:
            json.dump(results, f)
    for r in results:
        assert r["outputs_match"], f"{r['name']}: RTL outputs differ from the golden model"
        assert r["cycles"] == r["model_cycles"], (
            f"{r['name']}: RTL {r['cycles']} cycles, model {r['model_cycles']}")
        assert r["busy_match"], f"{r['name']}: busy counters differ from the cycle model"
