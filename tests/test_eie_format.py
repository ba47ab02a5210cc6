"""EIE's compressed sparse column format: worked examples, round trips, packing, limits."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw_model.config import EieConfig
from sw_model.eie_format import (
    EieLayer,
    check_fits,
    decode,
    decode_weights,
    encode,
    entry_counts,
    fit_config,
    layers_from_arrays,
    layers_to_arrays,
    memory_layout,
)

CODEBOOK = np.array([0, 1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 15])


def naive_encode(indices, n_pe):
    """Entry-by-entry reference encoder, written the way a sequential encoder would run."""
    n_rows, n_cols = indices.shape
    vs, zs, ptrs = [], [], []
    for pe in range(n_pe):
        v, z, ptr = [], [], [0]
        for col in range(n_cols):
            run = 0
            for row in range(pe, n_rows, n_pe):
                value = int(indices[row, col])
                if value == 0:
                    run += 1
                    continue
                while run >= 16:
                    v.append(0)
                    z.append(15)
                    run -= 16
                v.append(value)
                z.append(run)
                run = 0
            ptr.append(len(v))
        vs.append(v)
        zs.append(z)
        ptrs.append(ptr)
    return vs, zs, ptrs


def random_indices(rng, shape, density):
    return np.where(rng.random(shape) < density, rng.integers(1, 16, shape), 0)


def test_paper_padding_example():
    # Section III of the paper: [0, 0, 1, 2, <18 zeros>, 3] -> v = [1,2,0,3], z = [2,0,15,2].
    column = np.array([0, 0, 1, 2] + [0] * 18 + [3])
    layer = encode(column[:, None], CODEBOOK, config=EieConfig(n_pe=1, entries_per_word=2))
    assert layer.v[0].tolist() == [1, 2, 0, 3]
    assert layer.z[0].tolist() == [2, 0, 15, 2]
    assert layer.ptr.tolist() == [[0, 4]]
    assert layer.entries(0).tolist() == [0x21, 0x02, 0xF0, 0x23]
    assert layer.entry_rows(0).tolist() == [2, 3, 19, 22]
    assert layer.entry_cols(0).tolist() == [0, 0, 0, 0]
    assert layer.n_padding.tolist() == [1] and layer.nnz == 3
    assert decode(layer).tolist() == column[:, None].tolist()


def test_paper_figure3_pe0():
    # Figures 2 and 3 of the paper: a 16 x 8 matrix over 4 PEs; PE0 owns rows 0, 4, 8, 12.
    pe0 = [(0, 0), (8, 0), (12, 0), (4, 1), (0, 2), (12, 2), (0, 4), (4, 4), (0, 5),
           (12, 5), (0, 6), (8, 7), (12, 7)]
    indices = np.zeros((16, 8), dtype=np.int64)
    for n, (row, col) in enumerate(pe0):
        indices[row, col] = 1 + n % 15
    # Other PEs' rows get something too; they must not disturb PE0.
    indices[1::4, :] = 7
    layer = encode(indices, CODEBOOK, config=EieConfig(n_pe=4))
    assert layer.v[0].tolist() == [1 + n % 15 for n in range(13)]
    assert layer.z[0].tolist() == [0, 1, 0, 1, 0, 2, 0, 0, 0, 2, 0, 2, 0]
    assert layer.ptr[0].tolist() == [0, 3, 4, 6, 6, 8, 10, 11, 13]
    assert layer.ptr[1].tolist() == [0, 4, 8, 12, 16, 20, 24, 28, 32]
    assert layer.ptr[2].tolist() == [0] * 9
    even, odd = layer.ptr_banks(0)
    assert even.tolist() == [0, 4, 6, 10, 13]
    assert odd.tolist() == [3, 6, 8, 11]
    assert (decode(layer) == indices).all()


@pytest.mark.parametrize("gap, pads, z", [
    (0, 0, 0), (14, 0, 14), (15, 0, 15), (16, 1, 0), (17, 1, 1), (30, 1, 14), (31, 1, 15),
    (32, 2, 0), (45, 2, 13), (46, 2, 14), (47, 2, 15), (48, 3, 0),
])
def test_zero_runs(gap, pads, z):
    # The same run at the start of a column and between two nonzeros.
    for lead in (0, 1):
        column = [5] * lead + [0] * gap + [9] + [0] * 40
        layer = encode(np.array(column)[:, None], CODEBOOK, config=EieConfig(n_pe=1))
        assert layer.v[0].tolist() == [5] * lead + [0] * pads + [9]
        assert layer.z[0].tolist() == [0] * lead + [15] * pads + [z]
        assert layer.n_padding.tolist() == [pads]
        # The padding entries stand on zero rows 15, 31, ... after the previous entry.
        assert layer.entry_rows(0).tolist() == \
            [0] * lead + [lead + 15 + 16 * p for p in range(pads)] + [lead + gap]


def test_zero_run_padding_counts_from_the_brief():
    # Runs of 15, 16, 30, 31, 45, 46 zeros need 0, 1, 1, 1, 2, 2 padding entries.
    counts = []
    for gap in (15, 16, 30, 31, 45, 46):
        layer = encode(np.array([0] * gap + [1])[:, None], CODEBOOK, config=EieConfig(n_pe=1))
        counts.append(int(layer.n_padding[0]))
    assert counts == [0, 1, 1, 1, 2, 2]


def test_interleaving_and_local_rows():
    indices = np.zeros((10, 3), dtype=np.int64)
    indices[9, 1] = 4   # PE 1, local row 2
    indices[2, 2] = 6   # PE 2, local row 0
    layer = encode(indices, CODEBOOK, config=EieConfig(n_pe=4))
    assert [layer.local_rows(k) for k in range(4)] == [3, 3, 2, 2]
    assert layer.v[1].tolist() == [4] and layer.z[1].tolist() == [2]
    assert layer.ptr[1].tolist() == [0, 0, 1, 1]
    assert layer.entry_cols(1).tolist() == [1]
    assert layer.v[2].tolist() == [6] and layer.ptr[2].tolist() == [0, 0, 0, 1]
    assert layer.n_entries.tolist() == [0, 1, 1, 0]
    few = encode(np.ones((2, 1), dtype=np.int64), CODEBOOK, config=EieConfig(n_pe=4))
    assert [few.local_rows(k) for k in range(4)] == [1, 1, 0, 0]
    assert few.n_entries.tolist() == [1, 1, 0, 0]


def test_all_zero_rows_columns_and_matrix():
    zero = encode(np.zeros((5, 4), dtype=np.int64), CODEBOOK, config=EieConfig(n_pe=2))
    assert zero.n_entries.tolist() == [0, 0]
    assert zero.ptr.tolist() == [[0] * 5, [0] * 5]
    assert zero.words(0).shape == (0,) and zero.nnz == 0
    assert (decode(zero) == 0).all()
    indices = np.zeros((6, 5), dtype=np.int64)
    indices[:, 1] = 3        # one full column
    indices[4, :] = 2        # one full row
    indices[:, 3] = 0        # an empty column in between
    layer = encode(indices, CODEBOOK, config=EieConfig(n_pe=3))
    assert (decode(layer) == indices).all()
    assert layer.ptr[0].tolist() == [0, 0, 2, 2, 2, 2]
    assert layer.ptr[1].tolist() == [0, 1, 3, 4, 4, 5]


def test_word_packing_by_hand():
    column = np.array([0, 0, 1, 2] + [0] * 18 + [3])[:, None]
    # Entries 0x21, 0x02, 0xF0, 0x23; entry e at bits 8 * (e % epw).
    expected = {
        1: [0x21, 0x02, 0xF0, 0x23],
        2: [0x0221, 0x23F0],
        4: [0x23F00221],
        8: [0x23F00221],
    }
    for epw, words in expected.items():
        layer = encode(column, CODEBOOK, config=EieConfig(n_pe=1, entries_per_word=epw))
        assert layer.words(0).dtype == np.uint64
        assert layer.words(0).tolist() == words
    # Columns are not word aligned: the stream simply continues.
    two_cols = np.array([[1, 0], [2, 0], [0, 3], [0, 0], [0, 0], [0, 4], [5, 0]])
    layer = encode(two_cols, CODEBOOK, config=EieConfig(n_pe=1, entries_per_word=2))
    assert layer.entries(0).tolist() == [0x01, 0x02, 0x45, 0x23, 0x24]
    assert layer.words(0).tolist() == [0x0201, 0x2345, 0x0024]
    full = encode(np.full((8, 1), 15), CODEBOOK, config=EieConfig(n_pe=1, entries_per_word=8))
    assert full.words(0).tolist() == [0x0F0F0F0F0F0F0F0F]
    top = encode(np.array([[0]] * 15 + [[15]]), CODEBOOK,
                 config=EieConfig(n_pe=1, entries_per_word=8))
    assert top.entries(0).tolist() == [0xFF]


def test_pointer_banks_odd_and_even_column_counts():
    rng = np.random.default_rng(3)
    for n_cols in (1, 2, 7, 8):
        layer = encode(random_indices(rng, (9, n_cols), 0.5), CODEBOOK, config=EieConfig(n_pe=2))
        for pe in range(2):
            even, odd = layer.ptr_banks(pe)
            assert len(even) == n_cols // 2 + 1 and len(odd) == (n_cols + 1) // 2
            for j in range(n_cols + 1):
                bank = even if j % 2 == 0 else odd
                assert bank[j // 2] == layer.ptr[pe, j]


@settings(max_examples=40, deadline=None)
@given(
    n_rows=st.integers(1, 512),
    n_cols=st.integers(1, 512),
    density=st.floats(0.0, 1.0),
    n_pe=st.integers(1, 16),
    epw=st.sampled_from([1, 2, 4, 8]),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip(n_rows, n_cols, density, n_pe, epw, seed):
    rng = np.random.default_rng(seed)
    indices = random_indices(rng, (n_rows, n_cols), density)
    layer = encode(indices, CODEBOOK, config=EieConfig(n_pe=n_pe, entries_per_word=epw))
    assert (decode(layer) == indices).all()
    assert (decode_weights(layer) == CODEBOOK[indices]).all()
    assert layer.nnz == np.count_nonzero(indices)
    for pe in range(n_pe):
        v, z = layer.v[pe], layer.z[pe]
        assert v.dtype == np.uint8 and z.dtype == np.uint8
        assert z.max(initial=0) <= 15 and v.max(initial=0) <= 15
        assert (z[v == 0] == 15).all()
        assert layer.ptr[pe, 0] == 0 and layer.ptr[pe, -1] == len(v)
        assert (np.diff(layer.ptr[pe]) >= 0).all()
        rows = layer.entry_rows(pe)
        assert (rows < layer.local_rows(pe)).all()
        # Unpack the words again and compare with the entry bytes.
        words = layer.words(pe)
        assert len(words) == -(-len(v) // epw)
        unpacked = [(int(w) >> (8 * s)) & 0xFF for w in words for s in range(epw)]
        assert unpacked[:len(v)] == layer.entries(pe).tolist()
        assert not any(unpacked[len(v):])


@settings(max_examples=30, deadline=None)
@given(
    n_rows=st.integers(1, 80),
    n_cols=st.integers(1, 12),
    density=st.floats(0.0, 1.0),
    n_pe=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_naive_encoder(n_rows, n_cols, density, n_pe, seed):
    rng = np.random.default_rng(seed)
    # Low densities give long zero runs, i.e. padding.
    indices = random_indices(rng, (n_rows, n_cols), density * density)
    layer = encode(indices, CODEBOOK, config=EieConfig(n_pe=n_pe))
    vs, zs, ptrs = naive_encode(indices, n_pe)
    for pe in range(n_pe):
        assert layer.v[pe].tolist() == vs[pe]
        assert layer.z[pe].tolist() == zs[pe]
        assert layer.ptr[pe].tolist() == ptrs[pe]


def test_arrays_are_read_only():
    layer = encode(np.eye(4, dtype=np.int64), CODEBOOK, config=EieConfig(n_pe=2))
    with pytest.raises(ValueError):
        layer.v[0][0] = 3
    with pytest.raises(ValueError):
        layer.ptr[0, 0] = 3
    with pytest.raises(ValueError):
        layer.codebook[1] = 3


def test_summary_by_hand():
    indices = np.zeros((4, 3), dtype=np.int64)
    indices[0, 0] = 1
    indices[2, 0] = 2
    indices[2, 2] = 3
    indices[1, 1] = 4
    # A tall matrix so that PE 1's slice of column 2 has a long zero run.
    tall = np.zeros((2 * 41, 3), dtype=np.int64)
    tall[:4] = indices
    tall[81, 2] = 5          # PE 1, local row 40, the only entry of its column 2
    layer = encode(tall, CODEBOOK, config=EieConfig(n_pe=2, entries_per_word=4))
    # PE 0: col 0 rows 0, 1 (global 0, 2); col 2 row 1 (global 2). 3 entries, no padding.
    # PE 1: col 1 row 0 (global 1); col 2 row 40 (global 81): gap 40 -> 2 pads, z = 8.
    assert layer.n_entries.tolist() == [3, 4]
    assert layer.n_padding.tolist() == [0, 2]
    assert layer.z[1].tolist() == [0, 15, 15, 8]
    s = layer.summary(ptr_bits=10)
    assert s["nnz"] == 5 and s["entries"] == 7 and s["padding"] == 2
    assert s["entries_per_pe"] == [3, 4] and s["words_per_pe"] == [1, 1]
    assert s["matrix_bits"] == 2 * 32
    assert s["ptr_width"] == 10 and s["pointer_bits"] == 2 * 4 * 10
    assert s["codebook_bits"] == 16 * 16
    assert s["memory_bits"] == 64 + 80 + 256
    assert s["load_mean"] == 3.5 and s["load_max"] == 4
    assert s["load_balance"] == 3.5 / 4
    assert s["density"] == 5 / (82 * 3)
    # Default pointer width: enough for the largest pointer, 4 -> 3 bits.
    assert layer.summary()["pointer_bits"] == 2 * 4 * 3
    assert encode(np.zeros((2, 2), dtype=np.int64), CODEBOOK, config=EieConfig(n_pe=2)).summary()[
        "load_balance"] == 1.0


# --- fitting a chain of layers into an EieConfig ---------------------------------------

def _layer(n_rows, n_cols, *, n_pe=2, epw=2, fill=1):
    return encode(np.full((n_rows, n_cols), fill), CODEBOOK,
                  config=EieConfig(n_pe=n_pe, entries_per_word=epw))


def test_memory_layout_and_fit():
    cfg = EieConfig(n_pe=2, entries_per_word=2, act_depth=4, matrix_depth=11, ptr_depth=12,
                    max_layers=2)
    a = _layer(3, 4)     # PE 0: 2 rows x 4 cols = 8 entries = 4 words; PE 1: 4 entries = 2 words
    b = _layer(8, 3)     # PE 0/1: 4 x 3 = 12 entries = 6 words each
    layout = memory_layout([a, (b, True)], cfg)
    assert layout[0] == {"matrix_base": [0, 0], "matrix_words": [4, 2], "ptr_base": 0,
                         "ptr_len": 5}
    # a's pointer block is 5 long; b starts at the next even address, 6.
    assert layout[1] == {"matrix_base": [4, 2], "matrix_words": [6, 6], "ptr_base": 6,
                         "ptr_len": 4}
    check_fits([a, (b, True)], cfg)      # 10 words of PE 0, 10 pointers: fits
    odd = _layer(3, 3, fill=0)           # no entries at all
    assert memory_layout([odd], cfg)[0]["matrix_words"] == [0, 0]


def test_layers_start_at_word_boundaries():
    cfg = EieConfig(n_pe=1, entries_per_word=4, matrix_depth=2, act_depth=8, ptr_depth=64)
    one = _layer(1, 1, n_pe=1, epw=4)        # 1 entry -> 1 word
    check_fits([one, one], cfg)
    with pytest.raises(ValueError) as info:
        check_fits([one, one, one], cfg)
    assert str(info.value) == ("PE 0 needs 3 sparse-matrix words over all layers, "
                               "more than matrix_depth = 2 (8 entries)")


@pytest.mark.parametrize("layers, cfg_kwargs, message", [
    (lambda: [_layer(2, 2)] * 3, {"max_layers": 2},
     "3 layers do not fit the layer table (max_layers = 2)"),
    (lambda: [_layer(2, 2, n_pe=4)], {},
     "Layer 0 is encoded for n_pe = 4, but the configuration has n_pe = 2"),
    (lambda: [_layer(2, 2), _layer(2, 2, epw=4)], {},
     "Layer 1 is encoded with entries_per_word = 4, but the configuration has "
     "entries_per_word = 2"),
    (lambda: [_layer(9, 2)], {},
     "Layer 0 has 9 outputs, more than max_dim = 8 (act_depth 4 x n_pe 2)"),
    (lambda: [_layer(2, 2), _layer(2, 9)], {},
     "Layer 1 has 9 inputs, more than max_dim = 8 (act_depth 4 x n_pe 2)"),
    (lambda: [_layer(8, 8)], {"matrix_depth": 15},
     "PE 0 needs 16 sparse-matrix words over all layers, more than matrix_depth = 15 "
     "(30 entries)"),
    (lambda: [_layer(2, 8), _layer(8, 2)], {"ptr_depth": 12},
     "The layers need 13 column-pointer entries, more than ptr_depth = 12"),
    (lambda: [], {}, "layers must hold at least one layer"),
])
def test_check_fits_messages(layers, cfg_kwargs, message):
    cfg = EieConfig(**{"n_pe": 2, "entries_per_word": 2, "act_depth": 4, "matrix_depth": 64,
                       "ptr_depth": 64, "max_layers": 4, **cfg_kwargs})
    with pytest.raises(ValueError) as info:
        check_fits(layers(), cfg)
    assert str(info.value) == message


def test_check_fits_exact_limits_pass():
    cfg = EieConfig(n_pe=2, entries_per_word=2, act_depth=4, matrix_depth=16, ptr_depth=13,
                    max_layers=2)
    # PE 0: 4 x 8 entries = 16 words; pointers: 3 (+1 to even) + 9 = 13.
    check_fits([_layer(2, 2, fill=0), _layer(8, 8)], cfg)


def test_check_fits_rejects_non_layers():
    with pytest.raises(TypeError, match=re.escape(
            "layers[0] must be an EieLayer or an (EieLayer, relu) pair, not 'x'")):
        check_fits(["x"], EieConfig())


# --- bad input ------------------------------------------------------------------------

@pytest.mark.parametrize("indices, exc, message", [
    (np.arange(4), ValueError, "indices must be a 2-D matrix, not shape (4,)"),
    (np.zeros((2, 2, 2), dtype=int), ValueError,
     "indices must be a 2-D matrix, not shape (2, 2, 2)"),
    (np.zeros((0, 3), dtype=int), ValueError,
     "indices must have at least one row and one column, not shape (0, 3)"),
    (np.ones((2, 2)), TypeError, "indices must be an integer array, not an array of dtype float64"),
    (np.ones((2, 2), dtype=bool), TypeError,
     "indices must be an integer array, not an array of dtype bool"),
    (np.array([[0, 16]]), ValueError, "indices must be codebook indices 0..15, but hold 16"),
    (np.array([[-1, 3]]), ValueError, "indices must be codebook indices 0..15, but hold -1"),
])
def test_bad_indices(indices, exc, message):
    with pytest.raises(exc) as info:
        encode(indices, CODEBOOK, config=EieConfig(n_pe=1))
    assert str(info.value) == message


@pytest.mark.parametrize("codebook, exc, message", [
    (np.arange(17), ValueError,
     "codebook must have exactly 16 entries (indices are 4-bit; codebooks with more than "
     "16 entries are not supported), not 17"),
    (np.arange(15), ValueError, "codebook must have exactly 16 entries, not 15"),
    (np.arange(1, 17), ValueError, "codebook[0] must be 0 (index 0 marks zero weights), not 1"),
    (np.array([0] * 15 + [32768]), ValueError,
     "codebook must fit in 16-bit signed range [-32768, 32767], but holds 32768"),
    (np.zeros(16), TypeError, "codebook must be an integer array, not an array of dtype float64"),
    (np.zeros((4, 4), dtype=int), ValueError,
     "codebook must have 1 dimension(s), not shape (4, 4)"),
])
def test_bad_codebook(codebook, exc, message):
    with pytest.raises(exc) as info:
        encode(np.eye(2, dtype=int), codebook, config=EieConfig(n_pe=1))
    assert str(info.value) == message


def test_encode_needs_a_config():
    with pytest.raises(TypeError, match=r"^config must be an EieConfig, not 4$"):
        encode(np.eye(2, dtype=int), CODEBOOK, config=4)


@pytest.mark.parametrize("matrices, message", [
    ([], "matrices must be a non-empty list of 2-D weight matrices, not []"),
    ([np.ones(3)], "matrices[0] must be a non-empty 2-D (outputs, inputs) matrix, not shape (3,)"),
])
def test_fit_config_rejects_bad_matrices(matrices, message):
    with pytest.raises(ValueError) as info:
        fit_config(matrices, EieConfig())
    assert str(info.value) == message


def test_bad_pe_argument():
    layer = encode(np.eye(2, dtype=int), CODEBOOK, config=EieConfig(n_pe=2))
    with pytest.raises(ValueError, match=re.escape("pe must be in the range [0, 1], not 2")):
        layer.entries(2)


def test_layer_constructor_checks_shapes():
    layer = encode(np.eye(2, dtype=int), CODEBOOK, config=EieConfig(n_pe=2))
    with pytest.raises(ValueError, match=re.escape(
            "v and z must hold one array per PE (3), not 2 and 2")):
        EieLayer(n_rows=2, n_cols=2, n_pe=3, entries_per_word=8, codebook=layer.codebook,
                 v=layer.v, z=layer.z, ptr=layer.ptr)
    with pytest.raises(ValueError, match=re.escape("ptr must have shape (2, 4), not (2, 3)")):
        EieLayer(n_rows=2, n_cols=3, n_pe=2, entries_per_word=8, codebook=layer.codebook,
                 v=layer.v, z=layer.z, ptr=layer.ptr)


def test_any_integer_dtype_and_layout():
    rng = np.random.default_rng(8)
    indices = random_indices(rng, (37, 23), 0.3)
    reference = encode(indices, CODEBOOK, config=EieConfig(n_pe=3))
    for variant in (indices.astype(np.uint8), indices.astype(np.int16),
                    np.asfortranarray(indices), indices.T.copy().T):
        layer = encode(variant, CODEBOOK.astype(np.int16), config=EieConfig(n_pe=3))
        assert layer.codebook.dtype == np.int64
        for pe in range(3):
            assert (layer.entries(pe) == reference.entries(pe)).all()
        assert (layer.ptr == reference.ptr).all()


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(
    n_rows=st.integers(1, 300),
    n_cols=st.integers(1, 40),
    density=st.floats(0.0, 1.0),
    n_pe=st.integers(1, 70),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_naive_encoder_sweep(n_rows, n_cols, density, n_pe, seed):
    rng = np.random.default_rng(seed)
    indices = random_indices(rng, (n_rows, n_cols), density ** 3)
    layer = encode(indices, CODEBOOK, config=EieConfig(n_pe=n_pe))
    vs, zs, ptrs = naive_encode(indices, n_pe)
    for pe in range(n_pe):
        assert layer.v[pe].tolist() == vs[pe]
        assert layer.z[pe].tolist() == zs[pe]
        assert layer.ptr[pe].tolist() == ptrs[pe]
    assert (decode(layer) == indices).all()


@pytest.mark.parametrize("shape, n_pe", [
    ((200, 1100), 64),     # n_pe * n_cols > 2**16: two 16/8-bit sort passes
    ((3, 70000), 1),       # n_cols > 2**16: the generic stable sort
    ((70, 300), 300),      # n_pe > 256 and more PEs than rows
])
def test_large_key_sort_paths(shape, n_pe):
    rng = np.random.default_rng(sum(shape) + n_pe)
    indices = random_indices(rng, shape, 0.05)
    layer = encode(indices, CODEBOOK, config=EieConfig(n_pe=n_pe))
    vs, zs, ptrs = naive_encode(indices, n_pe)
    assert [v.tolist() for v in layer.v] == vs
    assert [z.tolist() for z in layer.z] == zs
    assert layer.ptr.tolist() == ptrs


@pytest.mark.parametrize("n_pe, epw", [(1, 1), (3, 2), (4, 8)])
def test_entry_counts_equal_encoded_streams(n_pe, epw):
    rng = np.random.default_rng(n_pe)
    indices = random_indices(rng, (70, 9), 0.2)
    layer = encode(indices, CODEBOOK, config=EieConfig(n_pe=n_pe, entries_per_word=epw))
    # Float weights with the same nonzero pattern count the same entries.
    weights = np.where(indices != 0, rng.normal(size=indices.shape) + 5.0, 0.0)
    assert entry_counts(weights, n_pe).tolist() == layer.n_entries.tolist()


def test_fit_config_sizes_fit_the_encoded_layers():
    rng = np.random.default_rng(3)
    shapes = [(40, 23), (17, 40), (5, 17)]
    mats = [random_indices(rng, shape, 0.3) for shape in shapes]
    base = EieConfig(n_pe=4, entries_per_word=2, queue_depth=3)
    for pow2 in (True, False):
        config = fit_config(mats, base, pow2=pow2)
        layers = [encode(m, CODEBOOK, config=config) for m in mats]
        check_fits(layers, config)
        assert (config.n_pe, config.queue_depth, config.max_layers) == (4, 3, 3)
        assert config.act_depth == (16 if pow2 else 10)
    exact = fit_config(mats, base, pow2=False)
    words = sum(-(-encode(m, CODEBOOK, config=exact).n_entries // 2) for m in mats)
    assert exact.matrix_depth == int(words.max())
    # One layer at a time: the largest decides, one layer-table slot.
    single = fit_config(mats, base, at_once=False, pow2=False)
    # The widest layer has 40 inputs: 41 pointers, from an even address.
    assert single.max_layers == 1 and single.ptr_depth == 42
    for m in mats:
        check_fits([encode(m, CODEBOOK, config=single)], single)


def test_layers_round_trip_through_npz(tmp_path):
    rng = np.random.default_rng(9)
    config = EieConfig(n_pe=3, entries_per_word=4)
    chain = [(encode(random_indices(rng, (40, 11), 0.3), CODEBOOK, config=config), True),
             (encode(random_indices(rng, (5, 40), 0.5), -CODEBOOK, config=config), False)]
    np.savez(tmp_path / "m.npz", **layers_to_arrays(chain, prefix="job0_"))
    back = layers_from_arrays(np.load(tmp_path / "m.npz", allow_pickle=False), prefix="job0_")
    assert [relu for _, relu in back] == [True, False]
    for (a, _), (b, _) in zip(chain, back, strict=True):
        assert np.array_equal(decode(a), decode(b))
        assert np.array_equal(a.codebook, b.codebook) and np.array_equal(a.ptr, b.ptr)
        assert all(np.array_equal(a.entries(k), b.entries(k)) for k in range(3))
    with pytest.raises(ValueError, match=r"^layer data lacks the array job1_layers$"):
        layers_from_arrays({}, prefix="job1_")
