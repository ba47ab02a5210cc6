"""cocotb regression of the EIE array (``hw/eie``), run by ``tests/test_eie_rtl.py``.

The design comes from its side-car (typed configuration and timing), the jobs
from the ``.npz`` the test wrote (:func:`sim.eie_stimuli.save_jobs`). Every job
is loaded through the host command stream (with random idle cycles), run, and
read back (with random backpressure on the responses); outputs must equal
:func:`sw_model.eie_model.eie_chain` bit for bit, and the run's cycles and per-PE
busy/stall counters must equal :mod:`sw_model.eie_cycles` exactly, with the
timing the design reports. Random stalls are seeded from ``cocotb.RANDOM_SEED``.
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, RisingEdge

from hw.eie.program import EieProgram, Op
from sim.eie_host import EieHost
from sim.eie_stimuli import load_jobs
from sim.streams import TB, load_data, make_rng, randomly
from sw_model.eie_cycles import chain_cycles
from sw_model.eie_model import eie_chain


async def _setup(dut, *, stalls=0.3):
    rng = make_rng()
    tb = TB(dut, engine="eie")
    host = EieHost(tb, idle=randomly(rng, stalls), backpressure=randomly(rng, stalls))
    await tb.start()
    jobs, _ = load_jobs(load_data())
    return tb, host, jobs, rng


async def check_job(tb, host, job):
    """Load, run and read back one job; compare with the golden and cycle models."""
    prog = EieProgram(job.layers, config=tb.config)
    host.load(prog)
    for acts in job.acts:
        got = await host.run(prog, acts)
        cycles_again = await host.read_cycles()
        expect = eie_chain(job.layers, acts, config=tb.config)[-1]
        total, _ = chain_cycles(job.layers, acts, config=tb.config, timing=tb.timing)
        cocotb.log.info("job %s: %d layer(s), %d cycles (model %d), efficiency %.3f",
                        job.name, prog.n_layers, got.cycles, total.cycles, total.efficiency)
        bad = np.flatnonzero(got.outputs != expect)
        assert bad.size == 0, (
            f"job {job.name}: {bad.size} output(s) differ, first at {bad[0]}: "
            f"RTL {got.outputs[bad[0]]}, model {expect[bad[0]]}")
        assert got.cycles == total.cycles, (
            f"job {job.name}: RTL {got.cycles} cycles, model {total.cycles}")
        assert cycles_again == got.cycles, (
            f"job {job.name}: cycle counter {cycles_again} != {got.cycles}")
        assert got.busy == total.busy.tolist(), (
            f"job {job.name}: busy {got.busy}, model {total.busy}")
        assert got.stall == total.stall.tolist(), (
            f"job {job.name}: stall {got.stall}, model {total.stall}")


@cocotb.test()
async def test_jobs(dut):
    """Every job: bit-exact outputs, exact cycles and counters, random stalls on both streams."""
    tb, host, jobs, _ = await _setup(dut)
    for job in jobs:
        await check_job(tb, host, job)


@cocotb.test()
async def test_reset_mid_run(dut):
    """A reset in the middle of a chain's run, then a normal run: correct results."""
    tb, host, jobs, rng = await _setup(dut)
    chains = [job for job in jobs if len(job.layers) > 1] or jobs
    first, second = chains[0], chains[-1]
    prog = EieProgram(first.layers, config=tb.config)
    host.load(prog)
    host.send(prog.input_commands(first.acts[0]))
    host.send([(Op.RUN, 0, 0, prog.n_layers)])
    # Wait until the run has started (every command taken and the array no
    # longer accepting commands), then reset it part way through.
    while not host.cmd.empty or dut.cmd__valid.value == 1:
        await RisingEdge(tb.clk)
    await ClockCycles(tb.clk, 2)
    total, _ = chain_cycles(first.layers, first.acts[0], config=tb.config, timing=tb.timing)
    # Somewhere in the first half of the run: its response comes `total`
    # cycles after START, and must not have been taken before the reset.
    await ClockCycles(tb.clk, int(rng.integers(1, max(2, total.cycles // 2))))
    assert dut.cmd__ready.value == 0, "the run finished before the reset"
    await tb.reset(3)
    assert len(host.resp.items) == 0, "a response came out of the interrupted run"
    host.clear()
    await check_job(tb, host, second)
