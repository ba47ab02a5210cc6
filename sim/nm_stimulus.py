"""Stimulus for the N:M benches: random N:M-sparse layers and activation vectors."""

import numpy as np

from sw_model.fixed import int_range
from sw_model.nm_format import check_nm

__all__ = ["random_nm_matrix", "random_acts"]


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
