"""Amaranth-simulator unit tests of the N:M blocks: index decode, adder tree, MAC, tile.

Expected values come from ``sw_model.nm_model`` (the specification) or from
plain NumPy written here, never from the blocks under test.
"""

import gc
import itertools

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, Value, signed, unsigned
from amaranth.sim import Simulator

from hw.primitives import Multiplier
from hw.sparse_nm import (
    AdderTree,
    NMIndexDecode,
    NMMac,
    NMSelect,
    NMTile,
    mac_beat_layout,
    mac_result_layout,
    offset_bits,
    pack,
    tile_activation_beats,
    tile_result_layout,
    tile_shape,
    tile_weight_image,
    tile_weights_from_dense,
    unpack,
    weight_load_layout,
)
from sw_model.config import SparseMacConfig, SparseTileConfig
from sw_model.fixed import int_range
from sw_model.nm_format import compress
from sw_model.nm_model import nm_accumulate, nm_dot, nm_matvec, nm_matvec_acc


def run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6, if_exists=True)
    sim.add_testbench(bench)
    sim.run()


def random_nm_matrix(rng, rows, k, n, m, bits, *, fill=1.0):
    """An N:M-sparse integer matrix; each group keeps a random set of up to n positions."""
    lo, hi = int_range(bits)
    w = np.zeros((rows, k), dtype=np.int64)
    for r in range(rows):
        for g in range(k // m):
            keep = rng.choice(m, size=n, replace=False)
            vals = rng.integers(lo, hi + 1, size=n)
            vals[rng.random(n) > fill] = 0
            w[r, g * m + keep] = vals
    return w


# --- NMSelect -------------------------------------------------------------------------


@pytest.mark.parametrize("n,m,groups", [(2, 4, 2), (1, 4, 1), (2, 8, 1), (4, 8, 1)])
def test_decode_and_select_all_index_patterns(n, m, groups):
    """NMIndexDecode then NMSelect pick acts[g * m + index] for every ascending index set."""
    cfg = SparseMacConfig(n=n, m=m, groups=groups, act_bits=8, w_bits=8, acc_bits=24,
                          w_frac_bits=4)
    decode, select = NMIndexDecode(config=cfg), NMSelect(config=cfg)
    assert select.mux_inputs == m - n + 1
    assert offset_bits(cfg) == max(1, (m - n).bit_length())
    m_top = Module()
    m_top.submodules.decode, m_top.submodules.select = decode, select
    m_top.d.comb += select.offsets.eq(decode.offsets)
    rng = np.random.default_rng(1)
    patterns = list(itertools.combinations(range(m), n))

    async def bench(ctx):
        for combo in itertools.product(patterns, repeat=groups):
            acts = rng.integers(-128, 128, size=cfg.lanes)
            idx = np.array(combo).reshape(-1)
            ctx.set(select.acts, acts.tolist())
            ctx.set(decode.indices, idx.tolist())
            offsets = unpack(decode.offsets.shape(), ctx.get(Value.cast(decode.offsets)))
            assert offsets == [int(idx[k]) - k % n for k in range(cfg.mults)], combo
            got = unpack(select.selected.shape(), ctx.get(Value.cast(select.selected)))
            want = [int(acts[g * m + idx[g * n + j]]) for g in range(groups) for j in range(n)]
            assert got == want, (combo, acts)

    run(m_top, bench)


def test_decode_out_of_range_index_selects_offset_zero():
    """A descending (never compressed) index pair: entry 1 cannot reach position 0."""
    cfg = SparseMacConfig(n=2, m=4, groups=1)
    decode = NMIndexDecode(config=cfg)

    async def bench(ctx):
        ctx.set(decode.indices, [3, 0])
        assert unpack(decode.offsets.shape(), ctx.get(Value.cast(decode.offsets))) == [0, 0]

    run(decode, bench)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_decode_rejects_dense():
    with pytest.raises(ValueError, match=r"^config must be sparse \(n < m\) to have indices, "
                                         r"not 4:4$"):
        NMIndexDecode(config=SparseMacConfig(n=4, m=4))
    gc.collect()


def test_select_dense_is_wiring():
    cfg = SparseMacConfig(n=4, m=4, groups=2)
    dut = NMSelect(config=cfg)
    assert "offsets" not in dut.signature.members
    assert dut.mux_inputs == 1

    async def bench(ctx):
        acts = list(range(-4, 4))
        ctx.set(dut.acts, acts)
        assert unpack(dut.selected.shape(), ctx.get(Value.cast(dut.selected))) == acts

    run(dut, bench)


# --- AdderTree ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_adder_tree_sums_exactly(count):
    width = 6
    dut = AdderTree(width=width, count=count)
    assert dut.latency == int(np.ceil(np.log2(count)))
    assert len(dut.total) == width + dut.latency
    lo, hi = int_range(width)
    rng = np.random.default_rng(count)
    vectors = [[lo] * count, [hi] * count] + [
        rng.integers(lo, hi + 1, size=count).tolist() for _ in range(20)]

    async def bench(ctx):
        ctx.set(dut.en, 1)
        seen = []
        if dut.latency == 0:  # a wire: no clock domain to tick
            for terms in vectors:
                ctx.set(dut.terms, terms)
                seen.append(ctx.get(dut.total))
            assert seen == [sum(v) for v in vectors]
            return
        for cycle in range(len(vectors) + dut.latency):
            if cycle < len(vectors):
                ctx.set(dut.terms, vectors[cycle])
            if cycle >= dut.latency:
                seen.append(ctx.get(dut.total))
            await ctx.tick()
        assert seen == [sum(v) for v in vectors]
        # With en low the registers hold.
        held = ctx.get(dut.total)
        ctx.set(dut.en, 0)
        ctx.set(dut.terms, [1] * count)
        await ctx.tick().repeat(3)
        assert ctx.get(dut.total) == held

    run(dut, bench)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_adder_tree_rejects_bad_parameters():
    with pytest.raises(ValueError, match=r"^count must be in the range \[1, 4096\], not 0$"):
        AdderTree(width=8, count=0)
    with pytest.raises(TypeError, match=r"^width must be an integer, not 8.0$"):
        AdderTree(width=8.0, count=2)
    gc.collect()  # the half-built components warn when collected; do it under the filter


# --- NMMac ----------------------------------------------------------------------------


def mac_beats(cfg, values, indices, acts):
    """Input beats (packed) of one dot product: groups of config.groups per beat."""
    layout = mac_beat_layout(cfg)
    n_beats = values.shape[0] // cfg.groups
    beats = []
    for t in range(n_beats):
        sl = slice(t * cfg.groups, (t + 1) * cfg.groups)
        beat = {
            "acts": acts[t * cfg.lanes:(t + 1) * cfg.lanes].tolist(),
            "weights": values[sl].reshape(-1).tolist(),
            "first": int(t == 0),
            "last": int(t == n_beats - 1),
        }
        if not cfg.dense:
            beat["indices"] = indices[sl].reshape(-1).tolist()
        beats.append(pack(layout, beat))
    return beats


def simulate_mac(cfg, beats, *, rng, idle=0.0, stall=0.0, max_cycles=10_000):
    """Drive packed beats through NMMac; return (results, accept cycles, result cycles)."""
    dut = NMMac(config=cfg)
    out_layout = mac_result_layout(cfg)
    results, accepted, produced = [], [], []
    n_results = sum(unpack(mac_beat_layout(cfg), b)["last"] for b in beats)

    async def bench(ctx):
        pos = 0
        for cycle in range(max_cycles):
            valid = pos < len(beats) and rng.random() >= idle
            ctx.set(dut.i.valid, valid)
            if valid:
                ctx.set(Value.cast(dut.i.payload), beats[pos])
            ready = rng.random() >= stall
            ctx.set(dut.o.ready, ready)
            if ctx.get(dut.o.valid) and ready:
                results.append(unpack(out_layout, ctx.get(Value.cast(dut.o.payload))))
                produced.append(cycle)
            if valid and ctx.get(dut.i.ready):
                accepted.append(cycle)
                pos += 1
            if len(results) == n_results:
                return
            await ctx.tick()
        raise AssertionError("MAC did not produce all results")

    run(dut, bench)
    return results, accepted, produced, dut.latency


@pytest.mark.parametrize("n,m,groups,bits", [(2, 4, 1, 16), (1, 4, 2, 8), (2, 8, 2, 8),
                                             (4, 8, 1, 16), (4, 4, 2, 8)])
def test_mac_matches_model_with_backpressure(n, m, groups, bits):
    cfg = SparseMacConfig(n=n, m=m, groups=groups, act_bits=bits, w_bits=bits,
                          acc_bits=2 * bits + 4, w_frac_bits=bits // 2, relu=(n == 1))
    rng = np.random.default_rng(n * 100 + m * 10 + groups)
    beats, want = [], []
    for length in [1, 3, 1, 7, 2]:
        k = length * cfg.lanes
        w = random_nm_matrix(rng, 1, k, n, m, bits)
        values, indices = compress(w, n, m, bits=bits)
        acts = rng.integers(*int_range(bits), endpoint=True, size=k)
        beats += mac_beats(cfg, values[0], indices[0], acts)
        want.append({"value": nm_dot(values[0], indices[0], acts, cfg),
                     "acc": nm_accumulate(values[0], indices[0], acts, cfg)})
    results, _, _, _ = simulate_mac(cfg, beats, rng=rng, idle=0.3, stall=0.4)
    assert results == want


def test_mac_latency_without_stalls():
    cfg = SparseMacConfig(n=2, m=4, groups=4)
    rng = np.random.default_rng(7)
    k = 3 * cfg.lanes
    w = random_nm_matrix(rng, 1, k, 2, 4, 16)
    values, indices = compress(w, 2, 4)
    acts = rng.integers(-1000, 1000, size=k)
    beats = mac_beats(cfg, values[0], indices[0], acts) * 2
    results, accepted, produced, latency = simulate_mac(cfg, beats, rng=rng)
    # Decode register, the multipliers' input and product registers, a 3-level
    # tree (8 products), the accumulator and the output register.
    assert latency == 1 + 2 + 3 + 1 + 1
    assert accepted == list(range(6))
    assert produced == [2 + latency, 5 + latency]
    assert results[0] == results[1]


def test_mac_extremes_and_wrap():
    # Most negative x most negative in every lane, accumulator just wide enough to wrap.
    cfg = SparseMacConfig(n=2, m=4, groups=1, act_bits=8, w_bits=8, acc_bits=16, w_frac_bits=7)
    lo, _ = int_range(8)
    k = 4 * cfg.lanes
    values = np.full((k // 4, 2), lo)
    indices = np.tile([0, 3], (k // 4, 1))
    acts = np.full(k, lo)
    beats = mac_beats(cfg, values, indices, acts)
    results, _, _, _ = simulate_mac(cfg, beats, rng=np.random.default_rng(0))
    total = 8 * (lo * lo)  # 131072 = 2**17: wraps to 0 in 16 bits
    assert results == [{"value": 0, "acc": ((total + 2**15) % 2**16) - 2**15}]
    assert results[0]["acc"] == nm_accumulate(values, indices, acts, cfg)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_mac_rejects_bad_config():
    with pytest.raises(TypeError, match=r"^config must be a SparseMacConfig, not 4$"):
        NMMac(config=4)
    gc.collect()


# --- NMTile ---------------------------------------------------------------------------


def simulate_tile(tile, x_vectors, beats, blocks, *, rng, loads=(), idle=0.0, stall=0.0,
                  max_cycles=20_000):
    """Load words, then stream vectors; return per-vector (values, accs) and timing."""
    cfg = tile.config
    out_layout = tile_result_layout(cfg)
    load_layout = weight_load_layout(cfg)
    streams = [tile_activation_beats(x, cfg) for x in x_vectors]
    flat = [b for s in streams for b in s]
    outputs, first_accept, produced = [], [], []

    async def bench(ctx):
        ctx.set(tile.beats, beats)
        ctx.set(tile.blocks, blocks)
        for unit, addr, word in loads:
            ctx.set(tile.wload.valid, 1)
            ctx.set(Value.cast(tile.wload.payload),
                    pack(load_layout, {"unit": unit, "addr": addr, "word": word}))
            assert ctx.get(tile.wload.ready)
            await ctx.tick()
        ctx.set(tile.wload.valid, 0)
        pos = 0
        for cycle in range(max_cycles):
            valid = pos < len(flat) and rng.random() >= idle
            ctx.set(tile.x.valid, valid)
            if valid:
                ctx.set(Value.cast(tile.x.payload), flat[pos])
            ready = rng.random() >= stall
            ctx.set(tile.o.ready, ready)
            if ctx.get(tile.o.valid) and ready:
                outputs.append(unpack(out_layout, ctx.get(Value.cast(tile.o.payload))))
                produced.append(cycle)
            if valid and ctx.get(tile.x.ready):
                if pos % beats == 0:
                    first_accept.append(cycle)
                pos += 1
            if len(outputs) == blocks * len(x_vectors):
                return
            await ctx.tick()
        raise AssertionError("tile did not produce all results")

    run(tile, bench)
    return outputs, first_accept, produced


def tile_expected(outputs, rows, units):
    values = np.array([o["values"] for o in outputs]).reshape(-1)[:rows]
    accs = np.array([o["accs"] for o in outputs]).reshape(-1)[:rows]
    return values, accs


def random_shared_nm_matrix(rng, rows, k, n, m, bits, block_rows):
    """Vector-wise N:M: every block of ``block_rows`` rows keeps one set of ``n`` positions."""
    lo, hi = int_range(bits)
    w = np.zeros((rows, k), dtype=np.int64)
    for first in range(0, rows, block_rows):
        for g in range(k // m):
            keep = g * m + rng.choice(m, size=n, replace=False)
            block = slice(first, min(rows, first + block_rows))
            w[block, keep] = rng.integers(lo, hi + 1, size=(block.stop - first, n))
    return w


@pytest.mark.parametrize("n,m,shared", [(2, 4, False), (2, 2, False), (2, 4, True),
                                        (1, 4, True)])
def test_tile_matvec_with_init_and_load(n, m, shared):
    mac = SparseMacConfig(n=n, m=m, groups=2, act_bits=8, w_bits=8, acc_bits=20, w_frac_bits=5)
    cfg = SparseTileConfig(mac=mac, units=3, act_depth=8, weight_depth=32,
                           shared_indices=shared)
    rng = np.random.default_rng(n * 10 + m + 100 * shared)
    rows, k = 7, 5 * m  # neither rows nor K fill the tile evenly: padding is exercised

    def layer():
        if shared:
            return random_shared_nm_matrix(rng, rows, k, n, m, 8, cfg.units)
        return random_nm_matrix(rng, rows, k, n, m, 8)

    block_rows = cfg.units if shared else 1
    w_init = layer()
    beats, blocks = tile_shape(rows, k, cfg)
    tile = NMTile(config=cfg, init=tile_weights_from_dense(w_init, cfg))
    assert tile.fetch_latency == (6 if shared else 4)
    xs = [rng.integers(-128, 128, size=k) for _ in range(2)]
    outputs, first_accept, produced = simulate_tile(tile, xs, beats, blocks, rng=rng)
    v0, i0 = compress(w_init, n, m, bits=8, block_rows=block_rows)
    for vec, x in enumerate(xs):
        got_v, got_a = tile_expected(outputs[vec * blocks:(vec + 1) * blocks], rows, cfg.units)
        assert got_v.tolist() == nm_matvec(v0, i0, x, mac).tolist()
        assert got_a.tolist() == nm_matvec_acc(v0, i0, x, mac).tolist()
    assert [o["last"] for o in outputs] == ([0] * (blocks - 1) + [1]) * 2
    # Exact cycle count: back-to-back vectors, no stalls.
    assert first_accept == [0, blocks * beats]
    assert produced[blocks - 1] - first_accept[0] + 1 == tile.vector_cycles(beats, blocks)

    # Reload different weights through the host stream, with random stalls.
    w_new = layer()
    image = tile_weights_from_dense(w_new, cfg)
    loads = [(u, a, word) for u, words in enumerate(image) for a, word in enumerate(words)]
    tile = NMTile(config=cfg, init=tile_weights_from_dense(w_init, cfg))
    outputs, _, _ = simulate_tile(tile, xs, beats, blocks, rng=rng, loads=loads,
                                  idle=0.3, stall=0.3)
    v1, i1 = compress(w_new, n, m, bits=8, block_rows=block_rows)
    for vec, x in enumerate(xs):
        got_v, _ = tile_expected(outputs[vec * blocks:(vec + 1) * blocks], rows, cfg.units)
        assert got_v.tolist() == nm_matvec(v1, i1, x, mac).tolist()


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_tile_weight_helpers_reject_bad_input():
    cfg = SparseTileConfig(mac=SparseMacConfig(), units=2, act_depth=4, weight_depth=8)
    w = np.zeros((2, 8), dtype=np.int64)
    w[1, 4:7] = [1, 2, 3]
    with pytest.raises(ValueError, match=(
            r"^w is not 2:4 sparse: row 1, group 1 \(columns 4 to 7\) holds 3 nonzeros, "
            r"at most 2 allowed$")):
        tile_weights_from_dense(w, cfg)
    with pytest.raises(ValueError, match=(
            r"^K = 20 needs 5 beats of 4 activations, more than act_depth \(4\)$")):
        tile_shape(2, 20, cfg)
    with pytest.raises(ValueError, match=(
            r"^A 10 x 16 layer needs 20 weight words per unit, more than weight_depth \(8\)$")):
        tile_shape(10, 16, cfg)
    with pytest.raises(ValueError, match=r"^init must be a list of 2 per-unit word lists"):
        NMTile(config=cfg, init=[[]])
    with pytest.raises(ValueError, match=r"^init for unit 0 holds 9 words, more than "
                                         r"weight_depth \(8\)$"):
        NMTile(config=cfg, init=[[0] * 9, []])
    with pytest.raises(TypeError, match=r"^config must be a SparseTileConfig, not 3$"):
        tile_weight_image(np.zeros((1, 1, 2), dtype=int), np.zeros((1, 1, 2), dtype=int), 3)
    shared = SparseTileConfig(mac=SparseMacConfig(), units=2, act_depth=4, weight_depth=8,
                              shared_indices=True)
    w = np.array([[1, 2, 0, 0], [0, 0, 3, 4]])
    with pytest.raises(ValueError, match=(
            r"^w is not vector-wise 2:4 sparse in blocks of 2 rows: rows 0 to 1, group 0 "
            r"\(columns 0 to 3\) hold nonzeros in 4 positions, at most 2 allowed$")):
        tile_weights_from_dense(w, shared)
    values, indices = compress(w, 2, 4)
    with pytest.raises(ValueError, match=(
            r"^shared_indices: row 1 has indices \[2, 3\] in group 0, but row 0, the first "
            r"of its row block, has \[0, 1\]$")):
        tile_weight_image(values, indices, shared)
    gc.collect()


def test_shared_indices_config_checks():
    with pytest.raises(ValueError, match=r"^shared_indices needs a sparse mac \(n < m\), "
                                         r"not 2:2$"):
        SparseTileConfig(mac=SparseMacConfig(n=2, m=2), shared_indices=True)
    with pytest.raises(TypeError, match=r"^shared_indices must be a bool, not 1$"):
        SparseTileConfig(shared_indices=1)
    cfg = SparseTileConfig(shared_indices=True)
    assert SparseTileConfig.from_dict(cfg.to_dict()) == cfg
    # A side-car written before the field existed reads back as the per-row format.
    old = cfg.to_dict()
    del old["shared_indices"]
    assert SparseTileConfig.from_dict(old).shared_indices is False


# --- Named configurations -------------------------------------------------------------


def test_named_configs_are_deterministic_and_self_describing(tmp_path):
    from hw.generate import build, load_sidecar
    from hw.sparse_nm.configs import CONFIGS

    assert {"nm-mac-2of4", "nm-tile-2of4", "dense-tile"} <= set(CONFIGS)
    built = {}
    for name in CONFIGS:
        design = built[name] = build(name)
        v1, j1 = design.write(tmp_path / "a")
        v2, j2 = build(name).write(tmp_path / "b")
        assert v1.read_bytes() == v2.read_bytes(), name
        assert j1.read_bytes() == j2.read_bytes(), name
        info = load_sidecar(j1)
        assert info.timing.latency == design.top.latency
        cls = SparseMacConfig if info.engine == "nm_mac" else SparseTileConfig
        assert isinstance(info.config, cls) and info.config == design.top.config
    # Equal multiplier counts in the sparse/dense pairs.
    sparse, dense = built["nm-tile-2of4"].top.config, built["dense-tile"].top.config
    assert sparse.units * sparse.mac.mults == dense.units * dense.mac.mults
    assert sparse.mac.lanes == 2 * dense.mac.lanes


def test_mac_exhaustive_at_tiny_widths():
    """Every 2:4 single-beat dot product at 2-bit operands, 4-bit wrapping accumulator.

    Stands in for the optional formal proof (which needs z3): all 4**4 activation
    vectors x 4**2 weight pairs x 6 index patterns, back to back, against the model.
    """
    cfg = SparseMacConfig(n=2, m=4, groups=1, act_bits=2, w_bits=2, acc_bits=4, w_frac_bits=1)
    vals = range(-2, 2)
    layout = mac_beat_layout(cfg)
    beats, want = [], []
    for acts in itertools.product(vals, repeat=4):
        acts_arr = np.array(acts)
        for weights in itertools.product(vals, repeat=2):
            for idx in itertools.combinations(range(4), 2):
                beats.append(pack(layout, {"acts": list(acts), "weights": list(weights),
                                           "indices": list(idx), "first": 1, "last": 1}))
                values, indices = np.array([weights]), np.array([idx])
                want.append({"value": nm_dot(values, indices, acts_arr, cfg),
                             "acc": nm_accumulate(values, indices, acts_arr, cfg)})
    results, accepted, _, _ = simulate_mac(cfg, beats, rng=np.random.default_rng(0),
                                           max_cycles=len(beats) + 20)
    assert len(accepted) == len(beats) == 4**4 * 4**2 * 6
    assert results == want


def test_pack_matches_amaranth_constants():
    """pack/unpack agree with Amaranth's own layout constants (the RTL's bit positions)."""
    cfg = SparseMacConfig(n=2, m=8, groups=2, act_bits=8, w_bits=8, acc_bits=20, w_frac_bits=3)
    layout = mac_beat_layout(cfg)
    rng = np.random.default_rng(3)
    for _ in range(20):
        beat = {"acts": rng.integers(-128, 128, size=16).tolist(),
                "weights": rng.integers(-128, 128, size=4).tolist(),
                "indices": rng.integers(0, 8, size=4).tolist(),
                "first": int(rng.integers(2)), "last": int(rng.integers(2))}
        bits = pack(layout, beat)
        assert bits == layout.const(beat).as_bits()
        assert unpack(layout, bits) == beat
    with pytest.raises(ValueError, match=r"^128 does not fit in signed\(8\)$"):
        pack(layout, dict(beat, acts=[128] + beat["acts"][1:]))


# --- Multiplier (hw.primitives) ----------------------------------------------------------


@pytest.mark.parametrize("a_shape,b_shape", [(signed(16), signed(16)), (signed(8), unsigned(5)),
                                             (unsigned(3), unsigned(4))])
def test_multiplier_generic_latency_and_enable(a_shape, b_shape):
    """Products appear `latency` cycles later; with en low every register holds."""
    dut = Multiplier(a_shape, b_shape)
    assert dut.latency == 2 and dut.family is None
    assert dut.p.shape() == (Signal(a_shape) * Signal(b_shape)).shape()
    rng = np.random.default_rng(5)
    a_lo, a_hi = int_range(a_shape.width, signed=a_shape.signed)
    b_lo, b_hi = int_range(b_shape.width, signed=b_shape.signed)
    ops = [(int(rng.integers(a_lo, a_hi + 1)), int(rng.integers(b_lo, b_hi + 1)))
           for _ in range(40)] + [(a_lo, b_lo), (a_hi, b_hi), (a_lo, b_hi)]
    enables = [bool(rng.random() < 0.7) for _ in ops]

    async def bench(ctx):
        accepted = []  # operands whose input registers loaded, in order
        for (a, b), en in zip(ops, enables, strict=True):
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            ctx.set(dut.en, en)
            await ctx.tick()
            if en:
                accepted.append(a * b)
                # An operand pair enters the input registers on one enabled
                # edge and its product the output register on the next.
                if len(accepted) >= 2:
                    assert ctx.get(dut.p) == accepted[-2]
            elif len(accepted) >= 2:
                assert ctx.get(dut.p) == accepted[-2]
        ctx.set(dut.en, 1)
        await ctx.tick()
        assert ctx.get(dut.p) == accepted[-1]

    run(dut, bench)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_multiplier_rejects_bad_parameters():
    with pytest.raises(ValueError, match=r"^family must be None or one of 'ecp5', 'ice40', "
                                         r"not 'gowin'$"):
        Multiplier(signed(16), signed(16), family="gowin")

    with pytest.raises(ValueError, match=(r"^b_shape must be at most 17 bits wide for the ECP5 "
                                          r"MULT18X18D \(unsigned\), not unsigned\(18\)$")):
        Multiplier(signed(18), unsigned(18), family="ecp5")
    with pytest.raises(ValueError, match=(r"^a_shape must be at most 18 bits wide for the ECP5 "
                                          r"MULT18X18D \(signed\), not signed\(19\)$")):
        Multiplier(signed(19), signed(4), family="ecp5")
    with pytest.raises(TypeError, match=r"^a_shape must be a shape, not 'wide'$"):
        Multiplier("wide", signed(4))
    gc.collect()


def test_multiplier_ecp5_is_one_registered_mult18x18d():
    """The ECP5 version is one MULT18X18D with its A, B and output registers on CE0 = en."""
    from amaranth.back import rtlil

    text = rtlil.convert(Multiplier(signed(16), signed(16), family="ecp5"))
    assert text.count("cell \\MULT18X18D") == 1
    for param in ("REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_OUTPUT_CLK"):
        assert f'parameter \\{param} "CLK0"' in text, param
    for param in ("REG_INPUTC_CLK", "REG_PIPELINE_CLK"):
        assert f'parameter \\{param} "NONE"' in text, param
    assert "$mul" not in text
