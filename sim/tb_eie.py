"""cocotb regression of the EIE array (``hw/eie``), run by ``tests/test_eie_rtl.py``.

The design comes from its side-car (typed configuration and timing), the jobs
from the ``.npz`` the test wrote (:func:`sim.eie_stimuli.save_jobs`). Every job
is loaded through the host command stream (with random idle cycles), run, and
read back (with random backpressure on the responses); outputs must equal
:func:`sw_model.eie_model.eie_chain` bit for bit, and the run's cycles and per-PE
busy/stall counters must equal :mod:`sw_model.eie_cycles` exactly, with the
timing the design reports. Random stalls are seeded from ``cocotb.RANDOM_SEED``.

Functional coverage (:mod:`sim.coverage`): :class:`~sim.coverage.EieMonitor`
samples the array's own signals while it computes; each checked run adds the
bins of what its layers did (accumulator wrap, saturation, bias), which the
bit-exact comparison then confirms the RTL did too; the status reads and the
resets add the error codes and the states reset in.
"""

import itertools

import cocotb
import numpy as np
from amaranth.hdl import Shape
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from hw.eie.array import _State, cmd_layout
from hw.eie.program import LAYER_STRIDE, EieProgram, Error, LayerField, Op
from sim.coverage import EieMonitor, coverage, covered_test, eie_state
from sim.eie_host import EieHost
from sim.eie_stimuli import Job, load_jobs
from sim.streams import TB, load_data, make_rng, randomly
from sw_model.eie_cycles import chain_cycles
from sw_model.eie_model import eie_chain, eie_layer_sums
from sw_model.fixed import int_range, requantize, round_shift_right, wrap


async def _setup(dut, *, stalls=0.3):
    rng = make_rng()
    tb = TB(dut, engine="eie")
    cov = coverage()
    tb.reset_observers.append(
        lambda: cov.hit("eie", f"reset_in_{eie_state(dut).name.lower()}"))
    # Random values in every command's unused fields, from a generator of
    # their own (the stalls and the tests draw from ``rng`` as before).
    junk = np.random.default_rng((cocotb.RANDOM_SEED, 1))
    host = EieHost(tb, idle=randomly(rng, stalls), backpressure=randomly(rng, stalls),
                   junk=junk)
    if cov.recording:
        cocotb.start_soon(EieMonitor(tb, cov).run())
    await tb.start()
    jobs, _ = load_jobs(load_data())
    return tb, host, jobs, rng


def deepest_chain(jobs, config):
    """The job with the most layers, and of those the busiest in every layer.

    Busiest: the most nonzero inputs, on its first vector, in its layer with
    the fewest, so a run of it reads every layer's pointers and weights.
    """
    def depth_and_work(job):
        x = job.acts[0]
        inputs = [x] + eie_chain(job.layers, x, config=config)[:-1]
        return len(job.layers), min(np.count_nonzero(v) for v in inputs)
    return max(jobs, key=depth_and_work)


async def check_job(tb, host, job):
    """Load, run and read back one job; compare with the golden and cycle models."""
    prog = EieProgram(job.layers, config=tb.config)
    host.load(prog)
    for acts in job.acts:
        await check_run(tb, host, job, prog, acts)


async def check_run(tb, host, job, prog, acts):
    """Run the loaded ``prog`` on ``acts``; compare with the golden and cycle models."""
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
    cov = coverage()
    if len(got.stall) > 1 and min(got.stall) > 0:
        cov.hit("eie", "stall_every_pe")
    _layer_coverage(cov, tb.config, job.layers, acts)


def _layer_coverage(cov, cfg, layers, acts):
    """Count what the layers' sums did on ``acts``: wrap, saturation at either end, bias."""
    lo, hi = int_range(cfg.act_bits)
    x = acts
    for layer, relu in layers:
        sums = eie_layer_sums(layer, x, act_frac_bits=cfg.act_frac_bits)
        wrapped = wrap(sums, cfg.acc_bits)
        cov.hit("eie", "acc_wrap", np.count_nonzero(sums != wrapped))
        shifted = round_shift_right(wrapped, cfg.w_frac_bits)
        cov.hit("eie", "saturate_high", np.count_nonzero(shifted > hi))
        if not relu:
            cov.hit("eie", "saturate_low", np.count_nonzero(shifted < lo))
        if layer.bias:
            cov.hit("eie", "bias_layer")
        x = requantize(wrapped, cfg.w_frac_bits, out_bits=cfg.act_bits, relu=relu)


@covered_test
async def test_jobs(dut):
    """Every job: bit-exact outputs, exact cycles and counters, random stalls on both streams."""
    tb, host, jobs, _ = await _setup(dut)
    for job in jobs:
        await check_job(tb, host, job)


@covered_test
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


@covered_test
async def test_inputs_read_back(dut):
    """Before the first run after a reset READ_ACT reads the inputs written since, 0 elsewhere.

    Each round resets the array, writes a subset of the input rows and reads
    every row back: a row not written since the reset must read 0 although
    bank 0 still holds an earlier round's value there. The first round writes
    every row; then, for each bit of the local address and of the PE index,
    the rows where that bit is 0 and those where it is 1 (so a write that
    also marked a row differing from it in one bit is caught); then a random
    half, and none.
    """
    tb, host, _, rng = await _setup(dut)
    cfg = tb.config
    n = cfg.max_dim
    lo, hi = int_range(cfg.act_bits)
    mask = (1 << cfg.act_bits) - 1
    rows = np.arange(n)
    rounds = {"all": np.ones(n, dtype=bool)}
    for what, index, limit in (("row", rows // cfg.n_pe, cfg.act_depth),
                               ("pe", rows % cfg.n_pe, cfg.n_pe)):
        for bit in range((limit - 1).bit_length()):
            for value in (0, 1):
                rounds[f"{what} bit {bit} = {value}"] = (index >> bit) & 1 == value
    rounds.update({"half": rng.random(n) < 0.5, "none": np.zeros(n, dtype=bool)})
    for name, written in rounds.items():
        await tb.reset(2)
        host.clear()
        values = rng.integers(lo, hi + 1, size=n)
        values[values == 0] = 1
        host.send([(Op.WRITE_ACT, j % cfg.n_pe, j // cfg.n_pe, int(values[j]) & mask)
                   for j in np.flatnonzero(written)])
        host.send([(Op.READ_ACT, j % cfg.n_pe, j // cfg.n_pe, 0) for j in range(n)])
        got = await host.responses([Op.READ_ACT] * n, timeout_cycles=100_000)
        expect = np.where(written, values, 0) & mask
        bad = np.flatnonzero(np.array(got) != expect)
        assert bad.size == 0, (
            f"round {name}: {bad.size} row(s) read back wrong, first row {bad[0]}: "
            f"got {got[bad[0]]}, wrote {expect[bad[0]]}")


ANSWERED = (Op.READ_ACT, Op.READ_COUNTER, Op.RUN, Op.READ_STATUS)


def bad_commands(cfg):
    """``(what, (op, pe, addr, data), Error)``: commands the array must reject.

    Each carries data that would corrupt the loaded program if it landed
    anywhere (an address wrapped onto a real one, a field truncated). Cases a
    field is too narrow to express (a PE index past ``n_pe`` when ``n_pe`` is
    a power of two, say) are left out.
    """
    fields = cmd_layout(cfg)
    pe_fits = cfg.n_pe < 1 << Shape.cast(fields["pe"].shape).width
    addr_limit = 1 << Shape.cast(fields["addr"].shape).width
    pb = cfg.ptr_bits
    cases = [("reserved opcode 4", (4, 0, 0, 7), Error.OPCODE)]
    cases += [(f"opcode {op}", (op, 0, 1, 7), Error.OPCODE) for op in (12, 13, 14, 15)]
    if pe_fits:
        bad_pe = cfg.n_pe
        cases += [
            ("pointer write to a PE past n_pe", (Op.WRITE_PTR, bad_pe, 0, 0), Error.PE),
            ("matrix write to a PE past n_pe", (Op.WRITE_MATRIX, bad_pe, 0, 0), Error.PE),
            ("input write to a PE past n_pe", (Op.WRITE_ACT, bad_pe, 0, 5), Error.PE),
            ("output read of a PE past n_pe", (Op.READ_ACT, bad_pe, 0, 0), Error.PE),
            ("busy counter of a PE past n_pe", (Op.READ_COUNTER, bad_pe, 1, 0), Error.PE),
        ]
    if cfg.max_layers * 16 + 3 < addr_limit:
        cases.append(("codebook slot past max_layers",
                      (Op.WRITE_CODEBOOK, 0, cfg.max_layers * 16 + 3, 0x1234), Error.ADDRESS))
    cases += [
        ("codebook weight of 17 bits", (Op.WRITE_CODEBOOK, 0, 3, 1 << 16), Error.DATA),
        ("codebook entry 0 not zero", (Op.WRITE_CODEBOOK, 0, 0, 5), Error.DATA),
        ("pointer pair out of order", (Op.WRITE_PTR, 0, 0, 5 | (3 << pb)), Error.DATA),
        ("pointer past the matrix memory",
         (Op.WRITE_PTR, 0, 0, (cfg.max_entries + 1) << pb), Error.DATA),
        ("pointer word wider than two pointers", (Op.WRITE_PTR, 0, 0, 1 << 2 * pb), Error.DATA),
        ("input of 17 bits", (Op.WRITE_ACT, 0, 0, 1 << 16), Error.DATA),
        ("RUN of 0 layers", (Op.RUN, 0, 0, 0), Error.RUN_COUNT),
        ("RUN of more layers than the table", (Op.RUN, 0, 0, cfg.max_layers + 1),
         Error.RUN_COUNT),
        ("RUN count with high bits", (Op.RUN, 0, 0, (1 << 40) | 1), Error.RUN_COUNT),
        ("counter address 3", (Op.READ_COUNTER, 0, 3, 0), Error.ADDRESS),
    ]
    if cfg.matrix_depth < addr_limit:
        cases.append(("matrix address past matrix_depth",
                      (Op.WRITE_MATRIX, 0, cfg.matrix_depth, (1 << cfg.word_bits) - 1),
                      Error.ADDRESS))
    if cfg.word_bits < 64:
        cases.append(("matrix word too wide", (Op.WRITE_MATRIX, 0, 0, 1 << cfg.word_bits),
                      Error.DATA))
    if cfg.ptr_depth < addr_limit:
        cases.append(("pointer address past ptr_depth", (Op.WRITE_PTR, 0, cfg.ptr_depth, 0),
                      Error.ADDRESS))
    if cfg.act_depth < addr_limit:
        cases += [
            ("input address past act_depth", (Op.WRITE_ACT, 0, cfg.act_depth, 9), Error.ADDRESS),
            ("output address past act_depth", (Op.READ_ACT, 0, cfg.act_depth, 0),
             Error.ADDRESS),
        ]
    # Every table entry's field checks (a rejected value must land in no entry).
    layer_cases = [("field 6", 6, 1, Error.ADDRESS), ("field 7", 7, 1, Error.ADDRESS),
                   ("groups past act_depth", LayerField.N_GROUPS, cfg.act_depth + 1,
                    Error.DATA),
                   ("last-group lanes 0", LayerField.LAST_LANES, 0, Error.DATA),
                   ("last-group lanes past n_pe", LayerField.LAST_LANES, cfg.n_pe + 1,
                    Error.DATA),
                   ("pointer base past ptr_depth", LayerField.PTR_BASE, cfg.ptr_depth + 1,
                    Error.DATA),
                   ("codebook slot past max_layers", LayerField.CB_SLOT, cfg.max_layers,
                    Error.DATA),
                   ("ReLU flag 2", LayerField.RELU, 2, Error.DATA),
                   ("bias flag 3", LayerField.BIAS, 3, Error.DATA)]
    cases += [(f"layer {i} {what}", (Op.WRITE_LAYER, 0, i * LAYER_STRIDE + field, value), error)
              for i in range(cfg.max_layers) for what, field, value, error in layer_cases]
    if cfg.max_layers * LAYER_STRIDE < addr_limit:
        cases.append(("layer entry past max_layers",
                      (Op.WRITE_LAYER, 0, cfg.max_layers * LAYER_STRIDE, 1), Error.LAYER))
    return cases + _single_high_bits(cfg, Shape.cast(fields["data"].shape).width, addr_limit)


def _single_high_bits(cfg, data_bits, addr_limit):
    """Each bit at or above a field's limit set alone: a check must look at every bit.

    ``data_bits`` and ``addr_limit`` are the command's data width and address range.
    """
    # (what, op, address, the lowest data bit that is out of range, error).
    data_limits = [("codebook weight", Op.WRITE_CODEBOOK, 3, 16, Error.DATA),
                   ("input", Op.WRITE_ACT, 0, 16, Error.DATA),
                   ("pointer word", Op.WRITE_PTR, 0, 2 * cfg.ptr_bits, Error.DATA),
                   ("matrix word", Op.WRITE_MATRIX, 0, cfg.word_bits, Error.DATA),
                   ("RUN count", Op.RUN, 0, cfg.max_layers.bit_length(), Error.RUN_COUNT)]
    cases = [(f"{what} with data bit {k}", (op, 0, addr, 1 << k), error)
             for what, op, addr, lowest, error in data_limits
             for k in range(lowest, data_bits)]
    # (what, op, the smallest address out of range, error); data 0 is valid.
    addr_limits = [("codebook", Op.WRITE_CODEBOOK, cfg.max_layers * 16, Error.ADDRESS),
                   ("input", Op.WRITE_ACT, cfg.act_depth, Error.ADDRESS),
                   ("output", Op.READ_ACT, cfg.act_depth, Error.ADDRESS),
                   ("pointer", Op.WRITE_PTR, cfg.ptr_depth, Error.ADDRESS),
                   ("matrix", Op.WRITE_MATRIX, cfg.matrix_depth, Error.ADDRESS),
                   ("counter", Op.READ_COUNTER, 3, Error.ADDRESS),
                   ("layer", Op.WRITE_LAYER, cfg.max_layers * LAYER_STRIDE, Error.LAYER)]
    cases += [(f"{what} address bit {k}", (op, 0, 1 << k, 0), error)
              for what, op, limit, error in addr_limits
              for k in range(addr_limit.bit_length() - 1) if 1 << k >= limit]
    return cases


async def expect_rejected(host, command, error):
    """Send ``command``; it must be rejected with ``error`` (and answered if it has an answer)."""
    op = command[0]
    host.send([command])
    if op in ANSWERED:
        [(data, rejected)] = await host.answers([op])
        assert rejected and data == 0, f"{Op(op).name} answered {data:#x}, error={rejected}"
    status = await host.status()
    assert status == (error, op, 1), f"{command}: status {status}, expected {error.name}"
    coverage().hit("eie", f"error_{error.name.lower()}")


async def run_refused(host, n_layers, error):
    """RUN ``n_layers`` must be answered as rejected, with ``error`` in the status."""
    await expect_rejected(host, (Op.RUN, 0, 0, n_layers), error)


@covered_test
async def test_rejected_commands(dut):
    """Every kind of bad command is rejected with its error code and changes nothing."""
    tb, host, jobs, _ = await _setup(dut)
    assert await host.status() == (Error.NONE, 0, 0)
    job = deepest_chain(jobs, tb.config)
    prog = EieProgram(job.layers, config=tb.config)
    host.load(prog)
    cases = bad_commands(tb.config)
    for what, command, error in cases:
        cocotb.log.info("bad command: %s %s -> %s", what, command, error.name)
        await expect_rejected(host, command, error)
    # The status keeps the first error and counts the rest, also to 1023
    # (count bits 0 .. 9 set; the saturation at 65535 is proved by the
    # formal check eie_host).
    host.send([(13, 0, 0, 0), (Op.WRITE_CODEBOOK, 0, 0, 1)])
    assert await host.status() == (Error.OPCODE, 13, 2)
    assert await host.status() == (Error.NONE, 0, 0)
    many = (1 << 10) - 1
    host.send([(14, 0, 0, 0)] + [(Op.WRITE_CODEBOOK, 0, 0, k + 1) for k in range(many - 1)])
    assert await host.status() == (Error.OPCODE, 14, many)
    # Nothing the rejected commands carried reached the program or the table.
    await check_run(tb, host, job, prog, job.acts[0])


@covered_test
async def test_run_needs_a_table_and_inputs(dut):
    """RUN refuses empty table entries and consumed inputs; a reset forgets a loaded table."""
    tb, host, jobs, _ = await _setup(dut)
    chain = deepest_chain(jobs, tb.config)
    single = min(jobs, key=lambda j: len(j.layers))
    n = len(chain.layers)
    await run_refused(host, 1, Error.EMPTY_LAYER)
    prog = EieProgram(chain.layers, config=tb.config)
    host.load(prog)
    await run_refused(host, n, Error.NO_INPUTS)
    if n < tb.config.max_layers:
        host.send(prog.input_commands(chain.acts[0]))
        await run_refused(host, n + 1, Error.EMPTY_LAYER)
    await check_run(tb, host, chain, prog, chain.acts[0])
    if n >= 2:
        # Layer 1 accumulated into the inputs' bank: they are gone.
        await run_refused(host, n, Error.NO_INPUTS)
    await check_run(tb, host, chain, prog, chain.acts[-1])
    # A reset keeps the memories but forgets the host-written table.
    await tb.reset(2)
    host.send(prog.input_commands(chain.acts[0]))
    await run_refused(host, n, Error.EMPTY_LAYER)
    # A one-layer program runs again on the same inputs.
    prog1 = EieProgram(single.layers, config=tb.config)
    host.load(prog1)
    await check_run(tb, host, single, prog1, single.acts[0])
    if len(single.layers) == 1:
        host.send([(Op.RUN, 0, 0, 1)] + prog1.output_commands())
        data = await host.responses([Op.RUN] + [Op.READ_ACT] * single.layers[0][0].n_rows,
                                    timeout_cycles=10_000_000)
        expect = eie_chain(single.layers, single.acts[0], config=tb.config)[-1]
        mask = (1 << tb.config.act_bits) - 1
        assert [d & mask for d in data[1:]] == [int(x) & mask for x in expect]


@covered_test
async def test_stored_layers_run_alone(dut):
    """Each layer of a loaded chain runs alone from table entry 0.

    Entry 0 is rewritten with layer k's fields (its pointer base, codebook
    slot and flags; the pointers and matrix words stay where the chain put
    them) and RUN 1 computes layer k on the output the chain's layer k - 1
    gives: entry 0's pointer base is not always 0.
    """
    tb, host, jobs, _ = await _setup(dut)
    chain = deepest_chain(jobs, tb.config)
    prog = EieProgram(chain.layers, config=tb.config)
    host.load(prog)
    outputs = eie_chain(chain.layers, chain.acts[0], config=tb.config)
    for k in range(1, prog.n_layers):
        job = Job(f"{chain.name}, layer {k + 1} alone", chain.layers[k:k + 1], outputs[k - 1])
        host.send([(Op.WRITE_LAYER, 0, field, int(value))
                   for field, value in prog.table[k].items()])
        await check_run(tb, host, job, EieProgram(job.layers, config=tb.config), job.acts[0])


@covered_test
async def test_run_checks_exactly_its_entries(dut):
    """A RUN of n layers runs when table entries 0 .. n-1 are written, for every n.

    After a reset, the first n layers of the longest chain are loaded (their
    entries written, no other) with inputs: RUN n + 1 is refused
    (EMPTY_LAYER), RUN n runs exactly.
    """
    tb, host, jobs, _ = await _setup(dut)
    chain = deepest_chain(jobs, tb.config)
    for n in range(1, len(chain.layers) + 1):
        await tb.reset(2)
        host.clear()
        job = Job(f"{chain.name}, layers 1 to {n}", chain.layers[:n], chain.acts[0])
        prog = EieProgram(job.layers, config=tb.config)
        host.load(prog)
        if n < tb.config.max_layers:
            host.send(prog.input_commands(job.acts[0]))
            await run_refused(host, n + 1, Error.EMPTY_LAYER)
        await check_run(tb, host, job, prog, job.acts[0])


@covered_test
async def test_reset_drops_a_pending_response(dut):
    """A reset while a response waits leaves no stray response."""
    tb, host, _, _ = await _setup(dut, stalls=0.0)
    backpressure = host.resp.backpressure
    host.resp.backpressure = itertools.repeat(True)
    host.send([(Op.READ_COUNTER, 0, 0, 0)])
    while dut.resp__valid.value != 1:
        await RisingEdge(tb.clk)
    await ClockCycles(tb.clk, 3)
    await tb.reset(2)
    host.resp.backpressure = backpressure
    await ClockCycles(tb.clk, 20)
    assert len(host.resp.items) == 0, "a response survived the reset"
    assert await host.status() == (Error.NONE, 0, 0)


@covered_test
async def test_reset_in_every_state(dut):
    """A reset in each state of the central unit leaves no response and a clean status."""
    tb, host, jobs, _ = await _setup(dut, stalls=0.0)
    job = deepest_chain(jobs, tb.config)
    prog = EieProgram(job.layers, config=tb.config)
    free = host.resp.backpressure
    run = prog.input_commands(job.acts[0]) + [(Op.RUN, 0, 0, prog.n_layers)]
    commands = {
        _State.IDLE: [],
        _State.READ: [(Op.READ_ACT, 0, 0, 0)],
        _State.RESP: [(Op.READ_COUNTER, 0, 0, 0)],
        _State.START: run,
        _State.COMPUTE: run,
        _State.DONE: run,
    }
    assert set(commands) == set(_State)
    for state, sent in commands.items():
        if state in (_State.RESP, _State.DONE):
            host.resp.backpressure = itertools.repeat(True)
        if state in (_State.START, _State.COMPUTE, _State.DONE):
            host.load(prog)
        host.send(sent)
        for _ in range(100_000):
            await FallingEdge(tb.clk)
            if eie_state(dut) == state:
                break
        else:
            raise AssertionError(f"the array never reached {state.name}")
        taken = len(host.resp.items)
        await tb.reset(2, now=True)
        host.clear()
        host.resp.backpressure = free
        await ClockCycles(tb.clk, 10)
        assert len(host.resp.items) == taken, f"a response survived a reset in {state.name}"
        assert await host.status() == (Error.NONE, 0, 0), f"status after a reset in {state.name}"
    # The memories survive; the table is reloaded and the chain runs exactly.
    await check_job(tb, host, job)
