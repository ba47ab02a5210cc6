"""Stimulus for the N:M benches: random N:M-sparse layers and activation vectors.

Also the regression's design points (``tests/test_sparse_nm_rtl.py``), which the
mutation subjects (:mod:`sim.mutation`) share: :func:`mac_config` and
:func:`tile_top`.
"""

import numpy as np

from sw_model.config import SparseMacConfig
from sw_model.fixed import int_range
from sw_model.nm_format import check_nm

__all__ = ["random_nm_matrix", "random_acts", "requantization_edges", "products_for",
           "mac_config", "tile_top"]


def mac_config(n, m, groups, bits):
    """Operand width ``bits``; a narrow accumulator at 8 bits so wrapping is reached quickly."""
    if bits == 8:
        return SparseMacConfig(n=n, m=m, groups=groups, act_bits=8, w_bits=8, acc_bits=20,
                               w_frac_bits=6, relu=(n == 1))
    return SparseMacConfig(n=n, m=m, groups=groups, act_bits=16, w_bits=16, acc_bits=40,
                           w_frac_bits=12)


def tile_top(config, init_shape, family=None):
    """An :class:`~hw.sparse_nm.NMTile` whose memories hold a random layer of ``init_shape``.

    ``init_shape`` ``None``: empty memories. Returns the tile and the dense
    ``(units, lanes)`` weights the testbench expects at start (``init_w``).
    ``family``: the FPGA family of the multipliers.
    """
    from hw.sparse_nm import NMTile, tile_weights_from_dense

    if init_shape is None:
        return (NMTile(config=config, family=family),
                np.zeros((config.units, config.mac.lanes), dtype=np.int64))
    mac = config.mac
    init_w = random_nm_matrix(np.random.default_rng(2016), *init_shape, mac.n, mac.m,
                              mac.w_bits, density=0.8,
                              block_rows=config.units if config.shared_indices else 1)
    top = NMTile(config=config, init=tile_weights_from_dense(init_w, config), family=family)
    return top, init_w


def random_nm_matrix(rng, rows, k, n, m, bits, *, density=1.0, block_rows=1):
    """A ``rows x k`` integer matrix with at most ``n`` nonzeros per group of ``m``.

    Each group keeps ``n`` random positions with uniform ``bits``-bit values;
    a kept value is zeroed with probability ``1 - density`` (so groups with fewer
    than ``n`` nonzeros, which exercise the padding rule, occur too). With
    ``block_rows > 1`` the rows of each block of ``block_rows`` consecutive rows
    keep the same positions (vector-wise N:M, ``compress(..., block_rows=...)``).
    """
    n, m = check_nm(n, m)
    if k % m:
        raise ValueError(f"k must be a multiple of m ({m}), not {k!r}")
    lo, hi = int_range(bits)
    groups = k // m
    blocks = -(-rows // block_rows)
    keys = rng.random((blocks, groups, m))
    keep = np.repeat(np.argsort(keys, axis=-1)[..., :n], block_rows, axis=0)[:rows]
    vals = rng.integers(lo, hi + 1, size=(rows, groups, n), dtype=np.int64)
    vals[rng.random(vals.shape) >= density] = 0
    w = np.zeros((rows, groups, m), dtype=np.int64)
    np.put_along_axis(w, keep, vals, axis=-1)
    return w.reshape(rows, k)


def random_acts(rng, k, bits, *, extreme=0.0):
    """``k`` random signed ``bits``-bit activations; a fraction ``extreme`` are the range ends."""
    lo, hi = int_range(bits)
    x = rng.integers(lo, hi + 1, size=k, dtype=np.int64)
    ends = rng.random(k) < extreme
    x[ends] = rng.choice([lo, hi], size=int(ends.sum()))
    return x


def requantization_edges(cfg, rng):
    """Accumulator values on both sides of the output stage's rounding and saturation edges.

    The output (``sw_model.fixed.requantize``) steps where ``acc + half`` crosses
    a multiple of ``1 << w_frac_bits``: at ``(k << shift) - half`` for the
    outputs ``k`` next to zero, at the saturation limits and at the ReLU floor.
    Each edge is met one below, at and one above, and, from the saturation
    and zero edges, at every power of two and at a random distance of each
    size (a comparison with an edge must look at every bit of the
    accumulator).
    """
    shift = cfg.w_frac_bits
    half = (1 << shift) >> 1
    lo, hi = int_range(cfg.out_bits)
    acc_lo, acc_hi = int_range(cfg.acc_bits)
    edges = {(k << shift) - half for k in (lo, lo + 1, -1, 0, 1, 2, hi, hi + 1)}
    values = {v for e in edges for v in (e - 1, e, e + 1)}
    for e in ((lo << shift) - half, -half, ((hi + 1) << shift) - half):
        for j in range(cfg.acc_bits - 1):
            for d in (1 << j, int(rng.integers(1 << j, 1 << (j + 1)))):
                values.update((e - d, e + d))
    return sorted(v for v in values if acc_lo <= v <= acc_hi)


def products_for(cfg, target):
    """``(weight, activation)`` pairs in the operand ranges whose products sum to ``target``."""
    _, w_hi = int_range(cfg.w_bits)
    a_lo, a_hi = int_range(cfg.act_bits)
    q, r = divmod(target, w_hi)
    pairs = []
    while q:
        a = max(a_lo, min(a_hi, q))
        pairs.append((w_hi, a))
        q -= a
    while r:
        a = min(r, a_hi)
        pairs.append((1, a))
        r -= a
    return pairs
