"""Pruning: turn a dense float weight matrix into a sparse one.

This runs before quantization, so it works on float64 weights. Every function
takes a 2-D matrix ``w`` of shape ``(outputs, inputs)`` and returns a new float64
matrix of the same shape with the pruned weights set to 0 (the input is not
modified). Weights are ranked by magnitude; ties are broken deterministically
in favour of the lower index (row-major for whole matrices), so the same input
always gives the same result.

A target density becomes a count of kept weights with round-half-up:
``count = floor(density * size + 0.5)`` where ``size`` is the number of
weights the count applies to (the whole matrix, a row, a PE's slice or a PE's
slice of a column). "Kept" means "not forced to 0": a weight that was already 0
and happens to be kept stays 0.

* :func:`prune_magnitude`: unstructured magnitude pruning (Deep Compression),
  over the whole matrix or per row.
* :func:`prune_nm`: N:M structured sparsity along the input dimension, per row
  or vector-wise (blocks of rows sharing their kept positions).
* :func:`prune_balanced`: load-balance-aware pruning for EIE's row-interleaved
  PEs (ESE, FPGA 2017), per PE or per PE and column.
"""

import math

import numpy as np

from .fixed import check_int, is_real_dtype

__all__ = ["check_weights", "density", "prune_magnitude", "prune_nm", "prune_balanced"]


def check_weights(w):
    """Validate a real-valued 2-D weight matrix; return it as ``float64``."""
    arr = np.asarray(w)
    if not is_real_dtype(arr.dtype):
        raise TypeError(f"w must be a real-valued array, not an array of dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"w must be a 2-D matrix, not shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("w must hold only finite values")
    return arr


def _check_density(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"density must be a number, not {value!r}")
    if not 0.0 < float(value) <= 1.0:
        raise ValueError(f"density must be in the range (0, 1], not {value!r}")
    return float(value)


def _keep_count(density, size):
    """Weights to keep out of ``size``: round half up of ``density * size``."""
    return min(size, math.floor(density * size + 0.5))


def _rank(magnitudes, axis):
    """Rank of every element along ``axis`` (0 = largest), ties to the lower index."""
    # A stable sort of the negated magnitudes puts equal values in index order.
    order = np.argsort(-magnitudes, axis=axis, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(magnitudes.shape[axis]).reshape(
        [-1 if a == axis else 1 for a in range(magnitudes.ndim)]), axis=axis)
    return ranks


def density(w):
    """Fraction of nonzero entries of ``w`` (0.0 for an empty array)."""
    w = np.asarray(w)
    return np.count_nonzero(w) / w.size if w.size else 0.0


def prune_magnitude(w, density, *, scope="global"):
    """Keep the largest-magnitude weights, to ``density`` of the matrix or of each row.

    ``scope="global"`` keeps ``floor(density * w.size + 0.5)`` weights of the
    whole matrix; ``scope="row"`` keeps ``floor(density * n_cols + 0.5)`` of
    every row.
    """
    w = check_weights(w)
    density = _check_density(density)
    if scope == "global":
        ranks = _rank(np.abs(w).ravel(), axis=0).reshape(w.shape)
        keep = ranks < _keep_count(density, w.size)
    elif scope == "row":
        keep = _rank(np.abs(w), axis=1) < _keep_count(density, w.shape[1])
    else:
        raise ValueError(f"scope must be 'global' or 'row', not {scope!r}")
    return np.where(keep, w, 0.0)


def prune_nm(w, n=2, m=4, *, block_rows=1):
    """N:M structured pruning: keep the ``n`` largest of every ``m`` consecutive inputs.

    Groups are ``m`` consecutive weights of a row (the input dimension, axis 1),
    starting at column 0; ``m`` must be a power of two, ``1 <= n <= m`` and the
    number of columns a multiple of ``m``.

    ``block_rows`` > 1 prunes vector-wise, for
    :func:`sw_model.nm_format.compress` with the same ``block_rows``: rows
    ``b * block_rows`` to ``(b + 1) * block_rows - 1`` keep the same ``n``
    positions of every group, those with the largest sum of magnitudes over
    the block's rows (ties to the lower position, as in a row), and drop the
    others in all of them. A last, shorter block sums over the rows it has.
    ``block_rows=1`` (the default) is per-row N:M.
    """
    w = check_weights(w)
    m = check_int("m", m, lo=1)
    if m & (m - 1):
        raise ValueError(f"m must be a power of two, not {m!r}")
    n = check_int("n", n, lo=1, hi=m)
    block_rows = check_int("block_rows", block_rows, lo=1)
    if w.shape[1] % m:
        raise ValueError(f"The number of columns ({w.shape[1]}) must be a multiple of m ({m})")
    rows, n_groups = w.shape[0], w.shape[1] // m
    blocks = -(-rows // block_rows)
    # Zero rows fill the last block up; they add nothing to its sums.
    magnitudes = np.zeros((blocks * block_rows, n_groups, m))
    magnitudes[:rows] = np.abs(w).reshape(rows, n_groups, m)
    block_sums = magnitudes.reshape(blocks, block_rows, n_groups, m).sum(axis=1)
    keep = np.repeat(_rank(block_sums, axis=2) < n, block_rows, axis=0)[:rows]
    return np.where(keep, w.reshape(rows, n_groups, m), 0.0).reshape(w.shape)


def prune_balanced(w, density, *, n_pe, mode="pe"):
    """Load-balance-aware pruning for rows interleaved over ``n_pe`` PEs.

    Row ``i`` belongs to PE ``i % n_pe`` (EIE's interleaving).

    * ``mode="pe"`` (ESE, FPGA 2017): every PE keeps the same number of
      weights, chosen by magnitude within its own slice, so no PE has more work
      than another over the whole layer;
    * ``mode="column"``: every PE keeps the same number of weights in every
      column, so a broadcast activation gives each PE the same work and no PE
      waits for another.

    The counts are taken from the largest slice, which sets the pace of the
    whole array: with ``L = ceil(n_rows / n_pe)`` local rows,
    ``floor(density * L * n_cols + 0.5)`` per PE or ``floor(density * L + 0.5)``
    per PE and column. When ``n_rows`` is not a multiple of ``n_pe`` the PEs
    with one row fewer may hold fewer weights than that count; they then keep
    all of theirs (the count is clipped to the slice size), and the achieved
    density is a little below ``density``. PEs without rows keep nothing.
    """
    w = check_weights(w)
    density = _check_density(density)
    n_pe = check_int("n_pe", n_pe, lo=1)
    if mode not in ("pe", "column"):
        raise ValueError(f"mode must be 'pe' or 'column', not {mode!r}")
    n_rows, n_cols = w.shape
    max_local = -(-n_rows // n_pe)
    out = np.zeros_like(w)
    for pe in range(min(n_pe, n_rows)):
        local = w[pe::n_pe]
        if mode == "pe":
            count = _keep_count(density, max_local * n_cols)
            keep = _rank(np.abs(local).ravel(), axis=0).reshape(local.shape) < count
        else:
            count = _keep_count(density, max_local)
            keep = _rank(np.abs(local), axis=0) < count
        out[pe::n_pe] = np.where(keep, local, 0.0)
    return out
