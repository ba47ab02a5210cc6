"""cocotb testbench of the EIE array (``hw/eie``), run by ``tests/test_eie_rtl.py``.

Parameters come through the environment:

* ``EIE_CONFIG``: the :class:`~sw_model.config.EieConfig` as JSON;
* ``EIE_TIMING``: the RTL's :class:`~sw_model.eie_cycles.EieTiming` as JSON;
* ``EIE_STIMULUS``: a stimulus set of :mod:`sim.eie_stimuli` (default ``basic``).

Every job is loaded through the host command stream (with random idle cycles),
run, and read back (with random backpressure on the response stream); outputs
must equal :func:`sw_model.eie_model.eie_chain` bit for bit, and the run's
cycles and per-PE busy/stall counters must equal :mod:`sw_model.eie_cycles`
exactly. NumPy is seeded from ``cocotb.RANDOM_SEED``.
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.queue import Queue
from cocotb.triggers import ClockCycles, RisingEdge

from hw.eie.array import cmd_layout, resp_layout
from hw.eie.program import Counter, EieProgram, Op
from sim.eie_stimuli import build_jobs
from sw_model.config import EieConfig
from sw_model.eie_cycles import EieTiming, chain_cycles
from sw_model.eie_model import eie_chain


def _fields(layout):
    return {name: (field.offset, field.width) for name, field in layout}


def _pack(fields, **values):
    word = 0
    for name, value in values.items():
        offset, width = fields[name]
        word |= (int(value) & ((1 << width) - 1)) << offset
    return word


def _unpack(fields, word, name):
    offset, width = fields[name]
    return (word >> offset) & ((1 << width) - 1)


def signed16(x):
    """The signed value of a 16-bit two's-complement field."""
    return x - (1 << 16) if x & 0x8000 else x


class TB:
    """Clock, reset, host command driver and response monitor of one EIE array."""

    def __init__(self, dut, *, config, rng, idle_prob=0.3, stall_prob=0.3):
        self.dut = dut
        self.config = config
        self.rng = rng
        self.idle_prob = idle_prob
        self.stall_prob = stall_prob
        self.cmd_fields = _fields(cmd_layout(config))
        self.resp_fields = _fields(resp_layout(config))
        self.cmds = Queue()
        self.resps = Queue()
        self.sent = []
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        dut.cmd__valid.value = 0
        dut.cmd__payload.value = 0
        dut.resp__ready.value = 0
        self._driver = cocotb.start_soon(self._drive())
        self._monitor = cocotb.start_soon(self._monitor_resp())

    async def reset(self):
        """Pulse reset, then wait until the accumulators are cleared."""
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, self.config.act_depth + 2)

    def send(self, op, pe=0, addr=0, data=0):
        """Queue one host command."""
        self.cmds.put_nowait(_pack(self.cmd_fields, op=op, pe=pe, addr=addr, data=data))

    async def _drive(self):
        dut = self.dut
        while True:
            word = await self.cmds.get()
            while self.rng.random() < self.idle_prob:
                await RisingEdge(dut.clk)
            dut.cmd__payload.value = word
            dut.cmd__valid.value = 1
            while True:
                await RisingEdge(dut.clk)
                if dut.cmd__ready.value == 1:
                    break
            dut.cmd__valid.value = 0

    async def _monitor_resp(self):
        dut = self.dut
        while True:
            ready = int(self.rng.random() >= self.stall_prob)
            dut.resp__ready.value = ready
            await RisingEdge(dut.clk)
            if ready and dut.resp__valid.value == 1:
                word = int(dut.resp__payload.value)
                self.resps.put_nowait((_unpack(self.resp_fields, word, "op"),
                                       _unpack(self.resp_fields, word, "data")))

    async def response(self, op):
        """The next response, which must answer a command ``op``."""
        got_op, data = await self.resps.get()
        assert got_op == op, f"response to op {got_op}, expected op {int(op)}"
        return data


async def run_job(tb, job, timing, log):
    """Load, run and read back one job; compare with the golden and cycle models."""
    cfg = tb.config
    prog = EieProgram(job.layers, config=cfg)
    for cmd in prog.load_commands() + prog.input_commands(job.acts):
        tb.send(*cmd)
    tb.send(Op.RUN, data=prog.n_layers)
    out_cmds = prog.output_commands()
    for cmd in out_cmds:
        tb.send(*cmd)
    for pe in range(cfg.n_pe):
        tb.send(Op.READ_COUNTER, pe=pe, addr=Counter.BUSY)
        tb.send(Op.READ_COUNTER, pe=pe, addr=Counter.STALL)
    tb.send(Op.READ_COUNTER, addr=Counter.CYCLES)

    cycles = await tb.response(Op.RUN)
    outs = np.array([signed16(await tb.response(Op.READ_ACT)) for _ in out_cmds],
                    dtype=np.int64)
    busy, stall = [], []
    for _ in range(cfg.n_pe):
        busy.append(await tb.response(Op.READ_COUNTER))
        stall.append(await tb.response(Op.READ_COUNTER))
    cycles_again = await tb.response(Op.READ_COUNTER)

    expect = eie_chain(job.layers, job.acts, config=cfg)[-1]
    total, _ = chain_cycles(job.layers, job.acts, config=cfg, timing=timing)
    log.info("job %s: %d layer(s), %d cycles (model %d), efficiency %.3f",
             job.name, prog.n_layers, cycles, total.cycles, total.efficiency)
    bad = np.flatnonzero(outs != expect)
    assert bad.size == 0, (
        f"job {job.name}: {bad.size} output(s) differ, first at {bad[0]}: "
        f"RTL {outs[bad[0]]}, model {expect[bad[0]]}")
    assert cycles == total.cycles, f"job {job.name}: RTL {cycles} cycles, model {total.cycles}"
    assert cycles_again == cycles, f"job {job.name}: cycle counter {cycles_again} != {cycles}"
    assert busy == total.busy.tolist(), f"job {job.name}: busy {busy}, model {total.busy}"
    assert stall == total.stall.tolist(), f"job {job.name}: stall {stall}, model {total.stall}"


def _setup(dut):
    config = EieConfig.from_dict(json.loads(os.environ["EIE_CONFIG"]))
    timing = EieTiming(**json.loads(os.environ["EIE_TIMING"]))
    seed = cocotb.RANDOM_SEED
    dut._log.info("NumPy seed %d (replay with SEED=%d)", seed, seed)
    rng = np.random.default_rng(seed)
    return config, timing, rng


@cocotb.test()
async def test_jobs(dut):
    """Every job of the stimulus set: bit-exact outputs, exact cycles and counters."""
    config, timing, rng = _setup(dut)
    tb = TB(dut, config=config, rng=random.Random(int(rng.integers(1 << 31))))
    await tb.reset()
    jobs = build_jobs(os.environ.get("EIE_STIMULUS", "basic"), config, rng)
    for job in jobs:
        await run_job(tb, job, timing, dut._log)


@cocotb.test()
async def test_reset_mid_run(dut):
    """A reset in the middle of a run, then a normal run: correct results."""
    config, timing, rng = _setup(dut)
    tb = TB(dut, config=config, rng=random.Random(int(rng.integers(1 << 31))))
    await tb.reset()
    jobs = build_jobs("chains", config, rng)
    first, second = jobs[0], jobs[-1]
    prog = EieProgram(first.layers, config=config)
    for cmd in prog.load_commands() + prog.input_commands(first.acts):
        tb.send(*cmd)
    tb.send(Op.RUN, data=prog.n_layers)
    # Wait until the run has started (the command queue is empty and the
    # array no longer accepts commands), then reset it part way through.
    while not tb.cmds.empty() or dut.cmd__valid.value == 1:
        await RisingEdge(dut.clk)
    await ClockCycles(dut.clk, 2)
    total, _ = chain_cycles(first.layers, first.acts, config=config, timing=timing)
    await ClockCycles(dut.clk, int(rng.integers(1, max(2, total.cycles - 2))))
    assert dut.cmd__ready.value == 0, "the run finished before the reset"
    await tb.reset()
    assert tb.resps.empty(), "a response came out of the interrupted run"
    await run_job(tb, second, timing, dut._log)
