"""Pruning: exact kept counts, N:M patterns, balanced modes and error messages."""

import numpy as np
import pytest

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
