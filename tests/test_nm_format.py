"""The N:M weight format (sw_model/nm_format.py): round trips, the padding rule, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw_model.nm_format import compress, decompress, index_bits, pack_indices, unpack_indices

PATTERNS = [(1, 4), (2, 4), (2, 8), (4, 8), (4, 4)]


def nm_matrix(seed, rows, groups, n, m, density):
    """A random matrix with at most n nonzeros per group of m (independent of compress)."""
    rng = np.random.default_rng(seed)
    w = np.zeros((rows, groups * m), dtype=np.int64)
    for r in range(rows):
        for g in range(groups):
            for pos in rng.choice(m, size=n, replace=False):
                if rng.random() < density:
                    w[r, g * m + pos] = rng.integers(-32768, 32768)
    return w


@settings(max_examples=150, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), rows=st.integers(1, 4), groups=st.integers(1, 6),
       density=st.sampled_from([0.0, 0.3, 0.7, 1.0]), seed=st.integers(0, 2**32 - 1))
def test_round_trip_and_padding_rule(pattern, rows, groups, density, seed):
    n, m = pattern
    w = nm_matrix(seed, rows, groups, n, m, density)
    values, indices = compress(w, n, m)
    assert values.shape == indices.shape == (rows, groups, n)
    assert values.dtype == indices.dtype == np.int64
    assert np.array_equal(decompress(values, indices, m), w)
    for r in range(rows):
        for g in range(groups):
            group = w[r, g * m:(g + 1) * m]
            nonzero = [p for p in range(m) if group[p] != 0]
            zeros = [p for p in range(m) if group[p] == 0]
            # Nonzeros plus the lowest unused positions, ascending.
            assert indices[r, g].tolist() == sorted(nonzero + zeros[:n - len(nonzero)])
            assert values[r, g].tolist() == [int(group[p]) for p in indices[r, g]]


def test_hand_example_2of4():
    w = np.array([[0, 5, 0, -3, 7, 0, 0, 0, 0, 0, 0, 0]])
    values, indices = compress(w, 2, 4)
    assert values.tolist() == [[[5, -3], [7, 0], [0, 0]]]
    assert indices.tolist() == [[[1, 3], [0, 1], [0, 1]]]
    # NVIDIA 2:4 metadata: first index in the low two bits.
    assert pack_indices(indices, 4).tolist() == [[0b1101, 0b0100, 0b0100]]


@pytest.mark.parametrize("n,m", PATTERNS + [(1, 1), (3, 16)])
def test_pack_unpack_round_trip(n, m):
    rng = np.random.default_rng(n * 64 + m)
    idx = np.sort(np.array([rng.choice(m, size=n, replace=False) for _ in range(20)]), axis=-1)
    words = pack_indices(idx, m)
    b = index_bits(m)
    expected = [sum(int(v) << (j * b) for j, v in enumerate(row)) for row in idx]
    assert words.tolist() == expected
    assert np.array_equal(unpack_indices(words, n, m), idx)


def test_index_bits():
    assert [index_bits(m) for m in (1, 2, 4, 8, 16)] == [1, 1, 2, 3, 4]


@pytest.mark.parametrize("call, exc, message", [
    (lambda: compress(np.zeros((1, 4), dtype=int), 5, 4), ValueError,
     "n must not exceed m (4), not 5"),
    (lambda: compress(np.zeros((1, 6), dtype=int), 1, 3), ValueError,
     "m must be a power of two, not 3"),
    (lambda: compress(np.zeros((1, 6), dtype=int), 2, 4), ValueError,
     "K (columns of w) must be a multiple of m (4), not 6"),
    (lambda: compress(np.zeros((1, 4)), 2, 4), TypeError,
     "w must be an integer array, not an array of dtype float64"),
    (lambda: compress(np.array([[128, 0, 0, 0]]), 2, 4, bits=8), ValueError,
     "w must fit in 8-bit signed range [-128, 127], but holds 128"),
    (lambda: compress(np.zeros(4, dtype=int), 2, 4), ValueError,
     "w must have 2 dimension(s), not shape (4,)"),
    (lambda: compress(np.array([[1, 0, 0, 0, 1, 1, 0, 1]]), 2, 4), ValueError,
     "w is not 2:4 sparse: row 0, group 1 (columns 4 to 7) holds 3 nonzeros, at most 2 allowed"),
    (lambda: compress(np.zeros((1, 4), dtype=int), 0, 4), ValueError,
     "n must be at least 1, not 0"),
    (lambda: compress(np.zeros((1, 4), dtype=int), 2, 4.0), TypeError,
     "m must be an integer, not 4.0"),
    (lambda: decompress(np.zeros((1, 1, 2), dtype=int), np.array([[[2, 1]]]), 4), ValueError,
     "indices must be strictly ascending within a group, but group (0, 0) holds [2, 1]"),
    (lambda: decompress(np.zeros((1, 1, 2), dtype=int), np.array([[[0, 4]]]), 4), ValueError,
     "indices must lie in the range [0, 3], but hold 4"),
    (lambda: decompress(np.zeros((1, 1, 2), dtype=int), np.zeros((1, 2, 2), dtype=int), 4),
     ValueError, "indices must have the shape of values (1, 1, 2), not (1, 2, 2)"),
    (lambda: decompress(np.zeros((1, 1, 2)), np.array([[[0, 1]]]), 4), TypeError,
     "values must be an integer array, not an array of dtype float64"),
    (lambda: decompress(np.zeros((1, 1, 5), dtype=int), np.zeros((1, 1, 5), dtype=int), 4),
     ValueError, "n must not exceed m (4), not 5"),
    (lambda: unpack_indices(np.array([-1]), 2, 4), ValueError,
     "words must be non-negative, but hold -1"),
    (lambda: compress(np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]), 2, 4, block_rows=3),
     ValueError, "w is not vector-wise 2:4 sparse in blocks of 3 rows: rows 0 to 2, group 0 "
                 "(columns 0 to 3) hold nonzeros in 3 positions, at most 2 allowed"),
    (lambda: compress(np.zeros((1, 4), dtype=int), 2, 4, block_rows=0), ValueError,
     "block_rows must be at least 1, not 0"),
])
def test_errors_name_parameter_and_value(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message


@settings(max_examples=100, deadline=None)
@given(pattern=st.sampled_from(PATTERNS[:4]), rows=st.integers(1, 9), groups=st.integers(1, 4),
       block_rows=st.integers(1, 4), density=st.sampled_from([0.0, 0.5, 1.0]),
       seed=st.integers(0, 2**32 - 1))
def test_shared_indices_round_trip(pattern, rows, groups, block_rows, density, seed):
    """block_rows: one index set per block of rows; still a lossless compressed form."""
    n, m = pattern
    rng = np.random.default_rng(seed)
    w = np.zeros((rows, groups * m), dtype=np.int64)
    for first in range(0, rows, block_rows):
        for g in range(groups):
            for pos in rng.choice(m, size=n, replace=False):
                for r in range(first, min(rows, first + block_rows)):
                    if rng.random() < density:
                        w[r, g * m + pos] = rng.integers(-32768, 32768)
    values, indices = compress(w, n, m, block_rows=block_rows)
    assert np.array_equal(decompress(values, indices, m), w)
    for r in range(rows):
        first = r - r % block_rows
        assert np.array_equal(indices[r], indices[first]), (r, first)
    if block_rows == 1:
        per_row = compress(w, n, m)
        assert np.array_equal(values, per_row[0]) and np.array_equal(indices, per_row[1])


def test_shared_indices_hand_example():
    # Rows 0 and 1 share positions {0, 2}; row 1 is zero at 0. Row 2 (a block of
    # its own) keeps 1 and pads with the lowest free position, 0.
    w = np.array([[5, 0, 6, 0], [0, 0, 7, 0], [0, 8, 0, 0]])
    values, indices = compress(w, 2, 4, block_rows=2)
    assert indices.tolist() == [[[0, 2]], [[0, 2]], [[0, 1]]]
    assert values.tolist() == [[[5, 6]], [[0, 7]], [[0, 8]]]
    # Per row, row 1 would keep {0, 2} too, but row 0's {0, 2} with row 1 at {2, 3}
    # cannot share: three positions.
    with pytest.raises(ValueError, match="rows 0 to 1, group 0"):
        compress(np.array([[5, 0, 6, 0], [0, 0, 7, 9]]), 2, 4, block_rows=2)
