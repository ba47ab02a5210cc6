"""Pruning: exact kept counts, N:M patterns (per row and vector-wise), balanced modes, errors."""

import numpy as np
import pytest

from sw_model.nm_format import compress, decompress
from sw_model.prune import density, prune_balanced, prune_magnitude, prune_nm


def weights(shape, seed=0):
    # Continuous random values: no zeros and no ties.
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("d", [0.01, 0.09, 0.25, 0.5, 1.0])
def test_global_density_exact(d):
    w = weights((64, 80))
    p = prune_magnitude(w, d)
    kept = int(np.floor(d * w.size + 0.5))
    assert np.count_nonzero(p) == kept
    assert density(p) == kept / w.size
    # The kept weights are exactly the largest magnitudes, unchanged.
    threshold = np.sort(np.abs(w).ravel())[::-1][kept - 1]
    assert (np.abs(p[p != 0]) >= threshold).all()
    assert (p[p != 0] == w[p != 0]).all()
    assert (np.abs(w[p == 0]) <= threshold).all()


def test_row_density_exact():
    w = weights((30, 50))
    p = prune_magnitude(w, 0.13, scope="row")      # 6.5 -> 7 per row (half up)
    assert (np.count_nonzero(p, axis=1) == 7).all()
    for row, kept in zip(w, p, strict=True):
        smallest_kept = np.abs(kept[kept != 0]).min()
        assert (np.abs(row[kept == 0]) < smallest_kept).all()


def test_ties_are_deterministic_lower_index_first():
    w = np.array([[1.0, -1.0, 1.0, 0.5]])
    assert prune_magnitude(w, 0.5).tolist() == [[1.0, -1.0, 0.0, 0.0]]
    assert prune_nm(np.array([[2.0, 2.0, 2.0, 2.0]]), 2, 4).tolist() == [[2.0, 2.0, 0.0, 0.0]]


def test_input_not_modified():
    w = weights((4, 8))
    before = w.copy()
    prune_magnitude(w, 0.5)
    prune_nm(w)
    prune_nm(w, block_rows=3)
    prune_balanced(w, 0.5, n_pe=2)
    assert (w == before).all()


@pytest.mark.parametrize("n, m", [(2, 4), (1, 4), (2, 8), (4, 8)])
def test_nm_pattern(n, m):
    w = weights((16, 64), seed=n * 10 + m)
    p = prune_nm(w, n, m)
    groups = p.reshape(16, 64 // m, m)
    assert (np.count_nonzero(groups, axis=2) == n).all()
    orig = np.abs(w.reshape(16, 64 // m, m))
    # Every kept weight is at least as large as every dropped one of its group.
    kept_min = np.where(groups != 0, orig, np.inf).min(axis=2)
    dropped_max = np.where(groups == 0, orig, -np.inf).max(axis=2)
    assert (kept_min > dropped_max).all()
    assert density(p) == n / m


def test_nm_dense_case_keeps_everything():
    w = weights((3, 8))
    assert (prune_nm(w, 4, 4) == w).all()


def _nm_reference(w, n, m, block_rows):
    """Vector-wise N:M spelled out: per block and group the n largest sums, ties to the lower."""
    out = np.zeros_like(w)
    for start in range(0, w.shape[0], block_rows):
        block = slice(start, start + block_rows)
        for g in range(0, w.shape[1], m):
            sums = np.abs(w[block, g:g + m]).sum(axis=0)
            kept = sorted(range(m), key=lambda p: (-sums[p], p))[:n]
            out[block, [g + p for p in kept]] = w[block, [g + p for p in kept]]
    return out


def _nm_per_row_before(w, n, m):
    """``prune_nm`` as it was before ``block_rows``: a stable sort of each group's magnitudes."""
    groups = w.reshape(w.shape[0], -1, m)
    order = np.argsort(-np.abs(groups), axis=2, kind="stable")
    keep = np.zeros(groups.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :n], True, axis=2)
    return np.where(keep, groups, 0.0).reshape(w.shape)


def tied_weights(shape, seed=0):
    # Small integers: many ties within a group and between block sums, and some zeros.
    return np.random.default_rng(seed).integers(-3, 4, size=shape).astype(np.float64)


@pytest.mark.parametrize("n, m", [(2, 4), (1, 4), (4, 8), (2, 8)])
def test_nm_block_rows_1_is_per_row_pruning(n, m):
    for w in (weights((13, 32), seed=n + m), tied_weights((13, 32), seed=n + m)):
        want = _nm_per_row_before(w, n, m)
        assert np.array_equal(prune_nm(w, n, m), want)
        assert np.array_equal(prune_nm(w, n, m, block_rows=1), want)
        assert np.array_equal(_nm_reference(w, n, m, 1), want)


@pytest.mark.parametrize("n, m, block_rows, rows", [
    (2, 4, 4, 16), (2, 4, 8, 16), (2, 4, 4, 10), (2, 4, 8, 10), (1, 4, 4, 9), (4, 8, 4, 7),
    (2, 4, 3, 2), (2, 4, 2, 1)])
def test_nm_vector_wise_equals_reference(n, m, block_rows, rows):
    for seed in range(3):
        for w in (weights((rows, 16), seed=seed), tied_weights((rows, 16), seed=seed)):
            assert np.array_equal(prune_nm(w, n, m, block_rows=block_rows),
                                  _nm_reference(w, n, m, block_rows))


@pytest.mark.parametrize("n, m, block_rows", [(2, 4, 4), (2, 4, 8), (1, 4, 4), (4, 8, 4)])
def test_nm_vector_wise_shares_the_mask_of_a_block(n, m, block_rows):
    rows = 4 * block_rows
    w = weights((rows, 64), seed=block_rows)
    p = prune_nm(w, n, m, block_rows=block_rows)
    kept = (p != 0).reshape(rows // block_rows, block_rows, 64 // m, m)
    # Every row of a block keeps the same positions, n of every group.
    assert (kept == kept[:, :1]).all()
    assert (kept.sum(axis=3) == n).all()
    assert density(p) == n / m
    assert (p[p != 0] == w[p != 0]).all()
    # The kept positions have the largest sums of magnitudes over the block.
    sums = np.abs(w).reshape(rows // block_rows, block_rows, 64 // m, m).sum(axis=1)
    kept_min = np.where(kept[:, 0], sums, np.inf).min(axis=2)
    dropped_max = np.where(kept[:, 0], -np.inf, sums).max(axis=2)
    assert (kept_min > dropped_max).all()


def test_nm_vector_wise_partial_last_block():
    w = weights((10, 16), seed=5)
    p = prune_nm(w, 2, 4, block_rows=4)
    # Rows 8 and 9 form a block of their own, pruned by their own sums only.
    assert np.array_equal(p[8:], prune_nm(w[8:], 2, 4, block_rows=4))
    assert np.array_equal(p[8:], prune_nm(w[8:], 2, 4, block_rows=2))
    assert np.array_equal(p[:8], prune_nm(w[:8], 2, 4, block_rows=4))
    # A block larger than the matrix: one block of all its rows.
    assert np.array_equal(prune_nm(w, 2, 4, block_rows=16), prune_nm(w, 2, 4, block_rows=10))


def test_nm_vector_wise_ties_go_to_the_lower_position():
    w = np.array([[2.0, 1.0, 1.0, 2.0],
                  [1.0, 2.0, 2.0, 1.0]])        # every position sums to 3
    assert prune_nm(w, 2, 4, block_rows=2).tolist() == [[2.0, 1.0, 0.0, 0.0],
                                                        [1.0, 2.0, 0.0, 0.0]]


@pytest.mark.parametrize("n, m, block_rows", [(2, 4, 4), (2, 4, 8), (1, 4, 4), (4, 8, 4)])
def test_nm_vector_wise_is_accepted_by_compress(n, m, block_rows):
    rows = 3 * block_rows + 1                   # a partial last block
    rng = np.random.default_rng(block_rows + n)
    w = rng.integers(1, 100, size=(rows, 32)) * rng.choice([-1, 1], size=(rows, 32))
    p = prune_nm(w, n, m, block_rows=block_rows).astype(np.int64)
    values, indices = compress(p, n, m, block_rows=block_rows)
    assert np.array_equal(decompress(values, indices, m), p)
    # Per-row pruning of the same matrix is not vector-wise.
    with pytest.raises(ValueError, match=f"^w is not vector-wise {n}:{m} sparse in blocks of "
                                         f"{block_rows} rows"):
        compress(prune_nm(w, n, m).astype(np.int64), n, m, block_rows=block_rows)


@pytest.mark.parametrize("n_rows", [64, 61])
def test_balanced_pe_equal_counts(n_rows):
    n_pe, d = 8, 0.1
    w = weights((n_rows, 40))
    p = prune_balanced(w, d, n_pe=n_pe, mode="pe")
    counts = [np.count_nonzero(p[k::n_pe]) for k in range(n_pe)]
    # The count comes from the largest slice, ceil(n_rows / n_pe) = 8 rows.
    target = int(np.floor(d * 8 * 40 + 0.5))
    assert counts == [target] * n_pe
    # Within a PE the largest magnitudes survive.
    for k in range(n_pe):
        local_w, local_p = np.abs(w[k::n_pe]), p[k::n_pe]
        assert np.abs(local_p[local_p != 0]).min() > local_w[local_p == 0].max()


def test_balanced_column_equal_counts():
    n_pe = 4
    w = weights((48, 30))
    p = prune_balanced(w, 0.25, n_pe=n_pe, mode="column")
    for k in range(n_pe):
        # 0.25 * 48 / 4 = 3 per PE and column.
        assert (np.count_nonzero(p[k::n_pe], axis=0) == 3).all()
    assert density(p) == 0.25
    # Rounding: 0.1 * 48 / 4 = 1.2 -> 1 per PE and column.
    q = prune_balanced(w, 0.1, n_pe=n_pe, mode="column")
    assert all((np.count_nonzero(q[k::n_pe], axis=0) == 1).all() for k in range(n_pe))


def test_balanced_counts_follow_the_largest_slice():
    # 5 rows over 4 PEs: PE 0 owns 2 rows, the others 1 (L = 2).
    w = weights((5, 6))
    # Column mode, density 0.5: 0.5 * 2 = 1 per PE and column, for every PE.
    p = prune_balanced(w, 0.5, n_pe=4, mode="column")
    assert [np.count_nonzero(p[k::4], axis=0).tolist() for k in range(4)] == [[1] * 6] * 4
    # PE mode, density 0.5: 0.5 * 2 * 6 = 6 per PE, for every PE.
    q = prune_balanced(w, 0.5, n_pe=4, mode="pe")
    assert [np.count_nonzero(q[k::4]) for k in range(4)] == [6, 6, 6, 6]
    # Density 1 keeps everything; the one-row PEs are clipped to their 6 weights.
    assert (prune_balanced(w, 1.0, n_pe=4, mode="pe") == w).all()
    assert (prune_balanced(w, 1.0, n_pe=4, mode="column") == w).all()
    # Density 0.75 in PE mode: 0.75 * 12 = 9 for PE 0, clipped to 6 for the rest.
    r = prune_balanced(w, 0.75, n_pe=4, mode="pe")
    assert [np.count_nonzero(r[k::4]) for k in range(4)] == [9, 6, 6, 6]
    # More PEs than rows: the PEs without rows keep nothing, the others everything.
    small = weights((2, 3))
    assert (prune_balanced(small, 1.0, n_pe=4, mode="pe") == small).all()


def test_density_helper():
    assert density(np.array([[0.0, 1.0], [2.0, 0.0]])) == 0.5
    assert density(np.zeros((0, 3))) == 0.0


@pytest.mark.parametrize("call, exc, message", [
    (lambda w: prune_magnitude(w, 0.0), ValueError, "density must be in the range (0, 1], not 0.0"),
    (lambda w: prune_magnitude(w, 1.5), ValueError, "density must be in the range (0, 1], not 1.5"),
    (lambda w: prune_magnitude(w, -0.1), ValueError,
     "density must be in the range (0, 1], not -0.1"),
    (lambda w: prune_magnitude(w, "0.5"), TypeError, "density must be a number, not '0.5'"),
    (lambda w: prune_magnitude(w, 0.5, scope="col"), ValueError,
     "scope must be 'global' or 'row', not 'col'"),
    (lambda w: prune_magnitude(w[0], 0.5), ValueError, "w must be a 2-D matrix, not shape (8,)"),
    (lambda w: prune_magnitude(w > 0, 0.5), TypeError,
     "w must be a real-valued array, not an array of dtype bool"),
    (lambda w: prune_magnitude(np.full((2, 2), np.inf), 0.5), ValueError,
     "w must hold only finite values"),
    (lambda w: prune_nm(w[:, :6], 2, 4), ValueError,
     "The number of columns (6) must be a multiple of m (4)"),
    (lambda w: prune_nm(w, 2, 6), ValueError, "m must be a power of two, not 6"),
    (lambda w: prune_nm(w, 2, 0), ValueError, "m must be at least 1, not 0"),
    (lambda w: prune_nm(w, 5, 4), ValueError, "n must be in the range [1, 4], not 5"),
    (lambda w: prune_nm(w, 0, 4), ValueError, "n must be in the range [1, 4], not 0"),
    (lambda w: prune_nm(w, 2.0, 4), TypeError, "n must be an integer, not 2.0"),
    (lambda w: prune_nm(w, 2, 4, block_rows=0), ValueError,
     "block_rows must be at least 1, not 0"),
    (lambda w: prune_nm(w, 2, 4, block_rows=2.0), TypeError,
     "block_rows must be an integer, not 2.0"),
    (lambda w: prune_nm(w, 2, 4, block_rows=True), TypeError,
     "block_rows must be an integer, not True"),
    (lambda w: prune_balanced(w, 0.5, n_pe=0), ValueError, "n_pe must be at least 1, not 0"),
    (lambda w: prune_balanced(w, 0.5, n_pe=2, mode="row"), ValueError,
     "mode must be 'pe' or 'column', not 'row'"),
    (lambda w: prune_balanced(w, 2, n_pe=2), ValueError,
     "density must be in the range (0, 1], not 2"),
])
def test_error_messages(call, exc, message):
    with pytest.raises(exc) as info:
        call(weights((4, 8)))
    assert str(info.value) == message
