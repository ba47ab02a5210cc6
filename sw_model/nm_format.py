"""The N:M structured-sparse weight format (2:4 by default).

A weight matrix ``w`` of shape ``(rows, K)`` is cut, along the input dimension,
into groups of ``m`` consecutive weights; ``K`` must be a multiple of ``m``. A
matrix is *N:M sparse* when every group holds at most ``n`` nonzeros. The
compressed form keeps exactly ``n`` entries per group:

* ``values[r, g, j]``: the ``j``-th kept weight of group ``g`` of row ``r``;
* ``indices[r, g, j]``: its position inside the group, ``0 <= index < m``.

Within a group the indices are strictly ascending (NVIDIA's 2:4 metadata
convention: two 2-bit indices per group of four). A group with fewer than ``n``
nonzeros is padded with zero values placed at the lowest positions not already
used, and the group is then still sorted by position. So the compressed form of
a given matrix is unique, and ``decompress(*compress(w, n, m), m) == w``.

Vector-wise N:M (``compress(..., block_rows=B)``): the rows of each block of
``B`` consecutive rows share one set of ``n`` positions per group, chosen from
the block's nonzeros with the same padding rule. It is the same compressed form
(every row still has its own ``indices``, equal within a block) under a
stronger sparsity constraint: a block may use only ``n`` of the ``m`` positions
of a group for all its rows, so pruning to it keeps less of the weights' magnitude
than per-row pruning does (see ``docs/sparse_nm.md``).

Metadata packing (:func:`pack_indices`): the ``n`` indices of a group form one
``n * index_bits(m)``-bit word, index ``j`` in bits ``[j*b, (j+1)*b)`` with
``b = index_bits(m)``; the first (lowest) index sits in the least significant
bits. For 2:4 that is a 4-bit nibble per group, exactly as in NVIDIA's sparse
tensor cores, and it is also the bit order of the RTL's index array.
"""

import numpy as np

from .fixed import W_BITS, check_int, check_int_array

__all__ = [
    "check_nm",
    "index_bits",
    "compress",
    "decompress",
    "pack_indices",
    "unpack_indices",
]


def check_nm(n, m):
    """Validate an N:M pattern and return ``(n, m)`` as Python ints.

    ``m`` must be a power of two from 1 to 64 and ``1 <= n <= m``; the messages
    are the same as those of :class:`sw_model.config.SparseMacConfig`.
    """
    m = check_int("m", m, lo=1, hi=64)
    if m & (m - 1):
        raise ValueError(f"m must be a power of two, not {m!r}")
    n = check_int("n", n, lo=1)
    if n > m:
        raise ValueError(f"n must not exceed m ({m}), not {n!r}")
    return n, m


def index_bits(m):
    """Bits of one position index inside a group of ``m`` (``log2(m)``, at least 1)."""
    return max(1, (m - 1).bit_length())


def compress(w, n, m, *, bits=W_BITS, block_rows=1):
    """Compress an N:M-sparse integer matrix.

    Parameters
    ----------
    w : array of int, shape ``(rows, K)``
        Signed ``bits``-bit weights; ``K`` a multiple of ``m``.
    n, m : int
        Pattern: at most ``n`` nonzeros in every group of ``m``.
    bits : int
        Signed width the weights must fit in.
    block_rows : int
        Rows that share their indices (the vector-wise format): rows ``b *
        block_rows`` to ``(b + 1) * block_rows - 1`` keep the same ``n``
        positions in every group, so together they may hold nonzeros in at
        most ``n`` positions of a group. ``1`` (the default) is the per-row format.

    Returns
    -------
    values, indices : ``int64`` arrays of shape ``(rows, K // m, n)``
        See the module docstring. With ``block_rows > 1`` the positions kept
        are those of the whole row block (padded by the same rule), so the
        rows of a block have equal ``indices``.
    """
    n, m = check_nm(n, m)
    bits = check_int("bits", bits, lo=2, hi=32)
    block_rows = check_int("block_rows", block_rows, lo=1)
    w = check_int_array("w", w, bits, ndim=2)
    rows, k = w.shape
    if k % m:
        raise ValueError(f"K (columns of w) must be a multiple of m ({m}), not {k!r}")
    groups = w.reshape(rows, k // m, m)
    blocks = -(-rows // block_rows)
    padded = np.zeros((blocks * block_rows, k // m, m), dtype=bool)
    padded[:rows] = groups != 0
    nonzero = padded.reshape(blocks, block_rows, k // m, m).any(axis=1)
    count = nonzero.sum(axis=-1)
    if np.any(count > n):
        b, g = (int(a[0]) for a in np.nonzero(count > n))
        where = (f"row {b}" if block_rows == 1 else
                 f"rows {b * block_rows} to {min(rows, (b + 1) * block_rows) - 1}")
        what = "holds" if block_rows == 1 else "hold nonzeros in"
        unit = "nonzeros" if block_rows == 1 else "positions"
        kind = f"{n}:{m} sparse" if block_rows == 1 else (
            f"vector-wise {n}:{m} sparse in blocks of {block_rows} rows")
        raise ValueError(
            f"w is not {kind}: {where}, group {g} (columns {g * m} to {g * m + m - 1}) "
            f"{what} {int(count[b, g])} {unit}, at most {n} allowed")
    # Pad a short group with its lowest-positioned zeros: a zero is kept when
    # fewer than (n - count) zeros come before it in the group.
    zero_rank = np.cumsum(~nonzero, axis=-1) - 1
    keep = nonzero | (~nonzero & (zero_rank < (n - count)[..., None]))
    # A stable sort of "not kept" lists the kept positions first, in ascending order.
    indices = np.argsort(~keep, axis=-1, kind="stable")[..., :n].astype(np.int64)
    indices = np.repeat(indices, block_rows, axis=0)[:rows]
    values = np.take_along_axis(groups, indices, axis=-1).astype(np.int64)
    return values, indices


def _check_compressed(values, indices, m):
    values = np.asarray(values)
    if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"values must be an integer array, not an array of dtype {values.dtype}")
    indices = np.asarray(indices)
    if indices.dtype == np.bool_ or not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(
            f"indices must be an integer array, not an array of dtype {indices.dtype}")
    if values.ndim < 2:
        raise ValueError(
            f"values must have at least 2 dimensions (..., groups, n), not shape {values.shape}")
    if indices.shape != values.shape:
        raise ValueError(
            f"indices must have the shape of values {values.shape}, not {indices.shape}")
    n = values.shape[-1]
    check_nm(n, m)
    indices = indices.astype(np.int64)
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= m:
            bad = lo if lo < 0 else hi
            raise ValueError(f"indices must lie in the range [0, {m - 1}], but hold {bad}")
        if n > 1 and np.any(np.diff(indices, axis=-1) <= 0):
            where = tuple(int(a[0]) for a in np.nonzero(np.diff(indices, axis=-1) <= 0))
            raise ValueError(
                f"indices must be strictly ascending within a group, but group "
                f"{where[:-1]} holds {indices[where[:-1]].tolist()}")
    return values.astype(np.int64), indices


def decompress(values, indices, m):
    """Rebuild the dense matrix from :func:`compress` output.

    ``values`` and ``indices`` have shape ``(..., groups, n)``; the result has
    shape ``(..., groups * m)`` and dtype ``int64``.
    """
    values, indices = _check_compressed(values, indices, m)
    *lead, groups, _ = values.shape
    dense = np.zeros((*lead, groups, m), dtype=np.int64)
    np.put_along_axis(dense, indices, values, axis=-1)
    return dense.reshape(*lead, groups * m)


def pack_indices(indices, m):
    """Pack each group's ``n`` indices into one metadata word (first index in the LSBs).

    ``indices`` has shape ``(..., n)``; returns ``int64`` words of shape ``(...)``.
    """
    _, indices = _check_compressed(np.zeros_like(np.asarray(indices)), indices, m)
    b = index_bits(m)
    if indices.shape[-1] * b > 62:
        raise ValueError(
            f"A metadata word of {indices.shape[-1]} {b}-bit indices does not fit in 62 bits")
    shifts = np.arange(indices.shape[-1], dtype=np.int64) * b
    return (indices << shifts).sum(axis=-1)


def unpack_indices(words, n, m):
    """Inverse of :func:`pack_indices`: words of shape ``(...)`` to indices ``(..., n)``."""
    n, m = check_nm(n, m)
    b = index_bits(m)
    words = check_int_array("words", words, n * b + 1)
    if words.size and int(words.min()) < 0:
        raise ValueError(f"words must be non-negative, but hold {int(words.min())}")
    shifts = np.arange(n, dtype=np.int64) * b
    return (words[..., None] >> shifts) & np.int64((1 << b) - 1)
