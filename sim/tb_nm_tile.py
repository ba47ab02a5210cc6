"""cocotb tests of the N:M matrix-vector tile (:class:`hw.sparse_nm.NMTile`) under Verilator.

The typed configuration and latency come from the design's side-car; the layer
the weight memories were initialised with (``init_w``, all zeros when none) from
the ``.npz`` the test wrote. Expected results come from
``sw_model.nm_model.nm_matvec``.
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge

from hw.sparse_nm import (
    pack,
    tile_activation_beats,
    tile_result_layout,
    tile_shape,
    tile_weights_from_dense,
    unpack,
    weight_load_layout,
)
from sw_model.fixed import int_range
from sw_model.nm_format import compress
from sw_model.nm_model import nm_matvec, nm_matvec_acc

from .coverage import coverage, covered_test
from .nm_stimulus import random_acts, random_nm_matrix, requantization_edges
from .streams import TB, StreamSink, StreamSource, load_data, make_rng, randomly


class TileTB(TB):
    """Sources for ``x`` and ``wload``, a sink for ``o``, and the layer being computed."""

    def __init__(self, dut, *, idle=None, backpressure=None, load_idle=None):
        super().__init__(dut, engine="nm_tile")
        self.latency = self.timing.latency
        self.x = self.start_driver(StreamSource(self, "x", idle=idle))
        self.wload = self.start_driver(StreamSource(self, "wload", idle=load_idle))
        self.sink = self.start_driver(StreamSink(self, "o", backpressure=backpressure))
        self.result_layout = tile_result_layout(self.config)
        # Rows that share their indices (vector-wise format), 1 for per-row.
        self.block_rows = self.config.units if self.config.shared_indices else 1
        self.layer = None
        self.expected = []

    def use_layer(self, w):
        """Make ``w`` (dense, N:M sparse) the layer; set ``beats`` and ``blocks``."""
        mac = self.config.mac
        self.layer = compress(w, mac.n, mac.m, bits=mac.w_bits, block_rows=self.block_rows)
        self.rows, self.k = w.shape
        self.beats, self.blocks = tile_shape(self.rows, self.k, self.config)
        self.dut.beats.value = self.beats
        self.dut.blocks.value = self.blocks

    async def load_layer(self, w, rng=None):
        """Write ``w`` into the weight memories through ``wload`` and wait until done.

        With ``rng`` the words go in a random order (each names its unit and
        address, so any order loads the same layer); without, unit by unit.
        """
        self.use_layer(w)
        layout = weight_load_layout(self.config)
        image = tile_weights_from_dense(w, self.config)
        words = [pack(layout, {"unit": unit, "addr": addr, "word": word})
                 for unit, unit_words in enumerate(image) for addr, word in enumerate(unit_words)]
        if rng is not None:
            words = [words[k] for k in rng.permutation(len(words))]
        self.wload.send(words)
        while not self.wload.empty:
            await FallingEdge(self.clk)
        await FallingEdge(self.clk)

    def send_vector(self, x):
        """Queue one activation vector and its expected outputs (golden model)."""
        values, indices = self.layer
        self.x.send(tile_activation_beats(x, self.config))
        self.expected.append((nm_matvec(values, indices, x, self.config.mac),
                              nm_matvec_acc(values, indices, x, self.config.mac)))

    async def check(self, *, timeout_cycles=200_000):
        """Wait for every row block of every queued vector and compare with the model."""
        await self.sink.wait_for(len(self.expected) * self.blocks, timeout_cycles=timeout_cycles)
        await ClockCycles(self.clk, self.latency + 2)
        got = [unpack(self.result_layout, p) for _, p in self.sink.items]
        assert len(got) == len(self.expected) * self.blocks
        for vec, (want_v, want_a) in enumerate(self.expected):
            blocks = got[vec * self.blocks:(vec + 1) * self.blocks]
            assert [b["last"] for b in blocks] == [0] * (self.blocks - 1) + [1]
            values = np.array([b["values"] for b in blocks]).reshape(-1)[:self.rows]
            accs = np.array([b["accs"] for b in blocks]).reshape(-1)[:self.rows]
            assert accs.tolist() == want_a.tolist(), f"vector {vec}: accumulators differ"
            assert values.tolist() == want_v.tolist(), f"vector {vec}: outputs differ"

    def random_layer(self, rng, rows, k):
        mac = self.config.mac
        return random_nm_matrix(rng, rows, k, mac.n, mac.m, mac.w_bits, density=0.8,
                                block_rows=self.block_rows)


@covered_test
async def test_init_weights(dut):
    """The weights given at elaboration time (``init_w`` of the data) are used as they are."""
    rng = make_rng()
    tb = TileTB(dut, idle=randomly(rng, 0.2), backpressure=randomly(rng, 0.2))
    await tb.start()
    tb.use_layer(load_data()["init_w"])
    for _ in range(2):
        tb.send_vector(random_acts(rng, tb.k, tb.config.mac.act_bits, extreme=0.1))
    await tb.check()


@covered_test
async def test_load_and_matvec_with_stalls(dut):
    """Layers of several shapes loaded through ``wload``; vectors with random stalls."""
    rng = make_rng()
    tb = TileTB(dut, idle=randomly(rng, 0.3), backpressure=randomly(rng, 0.3),
                load_idle=randomly(rng, 0.3))
    await tb.start()
    cfg = tb.config
    m, lanes = cfg.mac.m, cfg.mac.lanes
    # Small shapes; the most beats (a whole activation memory); the most
    # blocks (every weight word, one beat each); and a shape in between
    # whose weight addresses block * beats + beat use most of the memory.
    mid = max(1, (cfg.act_depth + 1) // 2)
    shapes = [(1, m), (cfg.units, lanes), (2 * cfg.units + 1, 3 * lanes - m),
              (cfg.units, cfg.act_depth * lanes), (cfg.units * cfg.weight_depth, lanes),
              (cfg.units * (cfg.weight_depth // mid) - 1, max(m, mid * lanes - m))]
    for rows, k in shapes:
        await tb.load_layer(tb.random_layer(rng, rows, k), rng)
        tb.expected.clear()
        tb.sink.items.clear()
        for _ in range(3):
            tb.send_vector(random_acts(rng, k, cfg.mac.act_bits, extreme=0.2))
        await tb.check()


@covered_test
async def test_requantization_boundaries(dut):
    """Rows whose sums sit next to every rounding, saturation and ReLU edge of the units.

    The targets are :func:`~sim.nm_stimulus.requantization_edges` within
    reach. Every row keeps the same positions; the vector holds ``2**(act_bits
    - 2)`` at all kept positions but the last, which holds 1, so a row's weights
    spell its target in two digits.
    """
    rng = make_rng()
    tb = TileTB(dut, idle=randomly(rng, 0.2), backpressure=randomly(rng, 0.2),
                load_idle=randomly(rng, 0.2))
    await tb.start()
    cfg, mac = tb.config, tb.config.mac
    beats = min(cfg.act_depth, 2)
    k = beats * mac.lanes
    kept = [g * mac.m + j * (mac.m // mac.n) for g in range(k // mac.m) for j in range(mac.n)]
    w_lo, w_hi = int_range(mac.w_bits)
    big = 1 << (mac.act_bits - 2)
    x = random_acts(rng, k, mac.act_bits)
    x[kept[:-1]] = big
    x[kept[-1]] = 1
    n_big = len(kept) - 1
    rows = []
    for target in requantization_edges(mac, rng):
        q, r = divmod(target, big)
        if not (n_big * w_lo <= q <= n_big * w_hi and r <= w_hi):
            continue
        row = np.zeros(k, dtype=np.int64)
        row[kept[:-1]] = [q // n_big + (j < q % n_big) for j in range(n_big)]
        row[kept[-1]] = r
        assert int(row @ x) == target
        rows.append(row)
    per_load = cfg.units * (cfg.weight_depth // beats)
    for start in range(0, len(rows), per_load):
        await tb.load_layer(np.array(rows[start:start + per_load]), rng)
        tb.expected.clear()
        tb.sink.items.clear()
        tb.send_vector(x)
        await tb.check()
    cocotb.log.info("requantization edges: %d rows of %d inputs", len(rows), k)


@covered_test
async def test_vector_cycle_count(dut):
    """No stalls: back-to-back vectors, each `blocks * beats + latency` cycles long."""
    rng = make_rng()
    tb = TileTB(dut)
    await tb.start()
    cfg = tb.config
    beats = min(cfg.act_depth, 5)
    blocks = max(1, min(3, cfg.weight_depth // beats))
    rows, k = blocks * cfg.units, beats * cfg.mac.lanes
    await tb.load_layer(tb.random_layer(rng, rows, k))
    vectors = 3
    for _ in range(vectors):
        tb.send_vector(random_acts(rng, k, cfg.mac.act_bits))
    await tb.check()
    starts = tb.x.accepted[::beats]
    assert starts == [starts[0] + v * blocks * beats for v in range(vectors)], starts
    for start, v in zip(starts, range(vectors), strict=True):
        assert tb.x.accepted[v * beats:(v + 1) * beats] == list(range(start, start + beats))
    ends = [cycle for cycle, _ in tb.sink.items][blocks - 1::blocks]
    cycles = [end - start + 1 for start, end in zip(starts, ends, strict=True)]
    assert cycles == [blocks * beats + tb.latency] * vectors, (cycles, blocks, beats)
    cocotb.log.info("vector of %d beats x %d blocks: %d cycles (latency %d)",
                    beats, blocks, cycles[0], tb.latency)


@covered_test
async def test_reset_mid_vector(dut):
    """A reset in the middle of a vector drops it; weights survive and the next vector is right."""
    rng = make_rng()
    tb = TileTB(dut, backpressure=randomly(rng, 0.3))
    await tb.start()
    cfg = tb.config
    rows, k = 2 * cfg.units, 2 * cfg.mac.lanes
    await tb.load_layer(tb.random_layer(rng, rows, k))
    tb.send_vector(random_acts(rng, k, cfg.mac.act_bits))
    await ClockCycles(tb.clk, 3)
    tb.x.clear()
    if len(tb.sink.items) < tb.blocks:
        coverage().hit("nm", "reset_mid_stream")
    await tb.reset(2)
    tb.sink.items.clear()
    tb.expected.clear()
    for _ in range(2):
        tb.send_vector(random_acts(rng, k, cfg.mac.act_bits))
    await tb.check()
