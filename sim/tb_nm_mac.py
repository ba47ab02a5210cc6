"""cocotb tests of the N:M MAC unit (:class:`hw.sparse_nm.NMMac`) under Verilator.

The design's typed configuration and latency come from its side-car
(:func:`sim.streams.load_design`); expected results come from
``sw_model.nm_model``. Tests of the tile are in ``sim/tb_nm_tile.py``. Run
through ``tests/test_sparse_nm_rtl.py``.
"""

import itertools
import math

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from hw.sparse_nm import mac_beat_layout, mac_result_layout, pack, unpack
from sw_model.fixed import int_range
from sw_model.nm_format import compress
from sw_model.nm_model import nm_accumulate, nm_dot

from .coverage import coverage, covered_test
from .nm_stimulus import products_for, random_acts, random_nm_matrix, requantization_edges
from .streams import TB, StreamSink, StreamSource, make_rng, randomly


def _arr(rows):
    return np.asarray(rows, dtype=np.int64)


class MacTB(TB):
    """A :class:`TB` with an input source, an output sink and the in-order scoreboard."""

    def __init__(self, dut, *, idle=None, backpressure=None):
        super().__init__(dut, engine="nm_mac")
        self.latency = self.timing.latency
        self.beat_layout = mac_beat_layout(self.config)
        self.result_layout = mac_result_layout(self.config)
        self.source = self.start_driver(StreamSource(self, "i", idle=idle))
        self.sink = self.start_driver(StreamSink(self, "o", backpressure=backpressure))
        self.expected = []
        self.patterns = set()

    def beats(self, values, indices, acts):
        """Packed input beats of one dot product (``first`` on the first, ``last`` on the last)."""
        cfg = self.config
        count = values.shape[0] // cfg.groups
        out = []
        for t in range(count):
            sl = slice(t * cfg.groups, (t + 1) * cfg.groups)
            beat = {
                "acts": acts[t * cfg.lanes:(t + 1) * cfg.lanes].tolist(),
                "weights": values[sl].reshape(-1).tolist(),
                "first": int(t == 0),
                "last": int(t == count - 1),
            }
            if not cfg.dense:
                beat["indices"] = indices[sl].reshape(-1).tolist()
            out.append(pack(self.beat_layout, beat))
        return out

    @property
    def spread(self):
        """Kept positions spread over a group of ``m``: ``n`` indices ``m // n`` apart."""
        return [j * (self.config.m // self.config.n) for j in range(self.config.n)]

    def send_dot(self, values, indices, acts):
        """Queue one dot product and its expected result (from the golden model)."""
        self._sample(values, indices, acts)
        self.source.send(self.beats(values, indices, acts))
        self.expected.append({"value": nm_dot(values, indices, acts, self.config),
                              "acc": nm_accumulate(values, indices, acts, self.config)})

    def random_dot(self, rng, n_beats, *, density=0.8, extreme=0.1):
        cfg = self.config
        k = n_beats * cfg.lanes
        w = random_nm_matrix(rng, 1, k, cfg.n, cfg.m, cfg.w_bits, density=density)
        values, indices = compress(w, cfg.n, cfg.m, bits=cfg.w_bits)
        self.send_dot(values[0], indices[0], random_acts(rng, k, cfg.act_bits, extreme=extreme))

    def _sample(self, values, indices, acts):
        """Coverage of one dot product: index patterns, extreme products, wrap-around."""
        cfg, cov = self.config, coverage()
        values, indices, acts = _arr(values), _arr(indices), _arr(acts)
        # The activation each kept weight multiplies.
        base = np.arange(values.shape[0])[:, None] * cfg.m
        picked = acts[base + indices] if not cfg.dense else acts.reshape(values.shape)
        if not cfg.dense:
            self.patterns.update(map(tuple, indices.tolist()))
            if len(self.patterns) == math.comb(cfg.m, cfg.n):
                cov.hit("nm", "all_index_patterns")
        w_lo, a_lo = int_range(cfg.w_bits)[0], int_range(cfg.act_bits)[0]
        cov.hit("nm", "extreme_product", np.count_nonzero((values == w_lo) & (picked == a_lo)))
        exact = sum(int(v) * int(a) for v, a in zip(values.ravel(), picked.ravel(),
                                                     strict=True))
        half = 1 << (cfg.acc_bits - 1)
        if not -half <= exact < half:
            cov.hit("nm", "acc_wrap")

    async def check(self, *, timeout_cycles=100_000):
        """Wait for every expected result and compare in order."""
        await self.sink.wait_for(len(self.expected), timeout_cycles=timeout_cycles)
        await ClockCycles(self.clk, self.latency + 2)
        got = [unpack(self.result_layout, payload) for _, payload in self.sink.items]
        assert len(got) == len(self.expected), (len(got), len(self.expected))
        for k, (g, e) in enumerate(zip(got, self.expected, strict=True)):
            assert g == e, f"dot product {k}: RTL {g}, model {e}"
        cov = coverage()
        cov.hit("nm", "input_stall", self.source.monitor.stalls)
        cov.hit("nm", "output_stall", self.sink.monitor.stalls)
        self.source.monitor.stalls = self.sink.monitor.stalls = 0


@covered_test
async def test_random_dots_with_stalls(dut):
    """Random dot products of 1 to 17 beats, random idle input and output backpressure."""
    rng = make_rng()
    tb = MacTB(dut, idle=randomly(rng, 0.3), backpressure=randomly(rng, 0.4))
    await tb.start()
    for _ in range(40):
        tb.random_dot(rng, int(rng.choice([1, 1, 2, 3, 5, 8, 17])))
    await tb.check()


@covered_test
async def test_extreme_operands(dut):
    """Range ends in every lane: most negative x most negative, mixed signs, all kept."""
    rng = make_rng()
    tb = MacTB(dut, idle=randomly(rng, 0.2), backpressure=randomly(rng, 0.2))
    cfg = tb.config
    await tb.start()
    a_lo, a_hi = int_range(cfg.act_bits)
    w_lo, w_hi = int_range(cfg.w_bits)
    for n_beats in (1, 4, 33):
        k = n_beats * cfg.lanes
        indices = [tb.spread] * (k // cfg.m)
        for w_val, a_val in ((w_lo, a_lo), (w_hi, a_hi), (w_lo, a_hi), (w_hi, a_lo)):
            values = [[w_val] * cfg.n] * (k // cfg.m)
            tb.send_dot(_arr(values), _arr(indices), _arr([a_val] * k))
    await tb.check()


@covered_test
async def test_requantization_boundaries(dut):
    """Accumulators next to every rounding, saturation and ReLU edge, and at every distance."""
    rng = make_rng()
    tb = MacTB(dut, idle=randomly(rng, 0.2), backpressure=randomly(rng, 0.2))
    cfg = tb.config
    await tb.start()
    a_lo, a_hi = int_range(cfg.act_bits)
    slots = cfg.groups * cfg.n
    kept = tb.spread
    for target in requantization_edges(cfg, rng):
        pairs = products_for(cfg, target)
        n_beats = max(1, -(-len(pairs) // slots))
        pairs += [(0, 0)] * (n_beats * slots - len(pairs))
        values = _arr([w for w, _ in pairs]).reshape(-1, cfg.n)
        indices = _arr([kept] * values.shape[0])
        # Activations the unkept positions hold are random: they must not count.
        acts = rng.integers(a_lo, a_hi + 1, size=n_beats * cfg.lanes, dtype=np.int64)
        for slot, (_, a) in enumerate(pairs):
            acts[(slot // cfg.n) * cfg.m + kept[slot % cfg.n]] = a
        assert nm_accumulate(values, indices, acts, cfg) == target
        tb.send_dot(values, indices, acts)
    await tb.check()


@covered_test
async def test_long_dot_products_wrap(dut):
    """Thousands of beats: random operands, then all-most-negative products that wrap."""
    rng = make_rng()
    tb = MacTB(dut, idle=randomly(rng, 0.1), backpressure=randomly(rng, 0.1))
    cfg = tb.config
    await tb.start()
    tb.random_dot(rng, 2500, extreme=0.5)
    lo_w, _ = int_range(cfg.w_bits)
    lo_a, _ = int_range(cfg.act_bits)
    # Enough lo*lo products to exceed the accumulator range at least once.
    per_beat = cfg.mults * (lo_w * lo_a)
    n_beats = min(4000, max(2, (1 << (cfg.acc_bits - 1)) // per_beat + 2))
    k = n_beats * cfg.lanes
    indices = [list(range(cfg.n))] * (k // cfg.m)
    tb.send_dot(_arr([[lo_w] * cfg.n] * (k // cfg.m)), _arr(indices), _arr([lo_a] * k))
    cocotb.log.info("long dot products: 2500 and %d beats", n_beats)
    await tb.check(timeout_cycles=40_000)


@covered_test
async def test_throughput_and_latency(dut):
    """No stalls: one beat per cycle, each result exactly `latency` cycles after its last beat."""
    rng = make_rng()
    tb = MacTB(dut)
    await tb.start()
    lengths = [1, 4, 2, 1, 7, 1, 1, 3]
    for n_beats in lengths:
        tb.random_dot(rng, n_beats)
    await tb.check()
    accepted = tb.source.accepted
    assert accepted == list(range(accepted[0], accepted[0] + sum(lengths))), accepted
    last_beats = [accepted[i - 1] for i in itertools.accumulate(lengths)]
    result_cycles = [cycle for cycle, _ in tb.sink.items]
    assert result_cycles == [c + tb.latency for c in last_beats], (result_cycles, last_beats)


@covered_test
async def test_reset_mid_stream(dut):
    """Reset in the middle of a dot product drops it; the unit then works normally."""
    rng = make_rng()
    tb = MacTB(dut, backpressure=randomly(rng, 0.3))
    await tb.start()
    tb.random_dot(rng, 50)
    await ClockCycles(tb.clk, 20)
    tb.source.clear()
    if len(tb.sink.items) < len(tb.expected):
        coverage().hit("nm", "reset_mid_stream")
    await tb.reset(3)
    assert tb.sink.items == [], "a result escaped before the reset"
    tb.expected.clear()
    for _ in range(10):
        tb.random_dot(rng, int(rng.integers(1, 6)))
    await tb.check()

