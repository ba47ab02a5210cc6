"""Biases as in the EIE paper: one more column per layer whose activation is the constant 1.0.

Every expected value here is computed without the code under test: dense
Python-integer sums of ``W_aug @ concat(x, [1 << act_frac_bits])``, float
networks written out with NumPy, or numbers worked out by hand.
"""

import re
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw_model.codebook import share_weights
from sw_model.config import EieConfig
from sw_model.eie_format import (
    EieLayer,
    append_bias_column,
    check_bias_flags,
    check_fits,
    decode,
    decode_weights,
    encode,
    entry_counts,
    fit_config,
    layers_from_arrays,
    layers_to_arrays,
    split_bias_column,
)
from sw_model.eie_model import bias_activation, eie_chain, eie_layer
from sw_model.train import Dataset, Mlp, iterative_prune, load_digits_dataset, train
from zeroskip.compile import start_report
from zeroskip.compression import compress
from zeroskip.demo import DemoOptions, plan_demo
from zeroskip.errors import UserError
from zeroskip.progress import Progress
from zeroskip.report import format_report
from zeroskip.training import PrunedNetwork, prune_network
from zeroskip.weights import bias_text, layer_sizes, load_weights

QUIET = Progress(quiet=True)
CODEBOOK = np.array([0, 1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 15])


def reference(weights_aug, acts, *, act_frac_bits=8, acc_bits=40, w_frac_bits=12, relu=False):
    """Longhand ``requantize(wrap(W_aug @ concat(acts, [1 << act_frac_bits])))``."""
    x = [int(a) for a in acts] + [1 << act_frac_bits]
    out = []
    for row in np.asarray(weights_aug).tolist():
        acc = sum(int(w) * a for w, a in zip(row, x, strict=True))
        half = 1 << (acc_bits - 1)
        acc = (acc + half) % (1 << acc_bits) - half
        if w_frac_bits:
            acc = (acc + (1 << (w_frac_bits - 1))) >> w_frac_bits
        acc = min(max(acc, -32768), 32767)
        out.append(max(acc, 0) if relu else acc)
    return out


def random_indices(rng, shape, density):
    return np.where(rng.random(shape) < density, rng.integers(1, 16, shape), 0)


# --- the format ---------------------------------------------------------------------------


def test_bias_layer_is_the_last_column_in_the_same_stream():
    idx = np.array([[1, 0, 2], [0, 3, 4], [5, 0, 0]])
    layer = encode(idx, CODEBOOK, config=EieConfig(n_pe=2), bias=True)
    assert layer.bias is True and (layer.n_cols, layer.n_inputs) == (3, 2)
    # PE 0 owns rows 0, 2; PE 1 row 1. Column 2 (the bias) is encoded like the others.
    assert layer.v[0].tolist() == [1, 5, 2] and layer.z[0].tolist() == [0, 0, 0]
    assert layer.ptr[0].tolist() == [0, 2, 2, 3]
    assert layer.v[1].tolist() == [3, 4] and layer.ptr[1].tolist() == [0, 0, 1, 2]
    assert np.array_equal(decode(layer), idx)
    assert np.array_equal(decode_weights(layer), CODEBOOK[idx])
    plain = encode(idx, CODEBOOK, config=EieConfig(n_pe=2))
    assert plain.bias is False and plain.n_inputs == 3
    # The flag changes nothing in the stream.
    assert all(np.array_equal(plain.entries(k), layer.entries(k)) for k in range(2))
    summary = layer.summary()
    assert (summary["bias"], summary["n_inputs"], summary["n_cols"], summary["nnz"]) == \
        (True, 2, 3, 5)


@pytest.mark.parametrize("call, exc, message", [
    (lambda: encode(np.ones((2, 3), dtype=int), CODEBOOK, config=EieConfig(n_pe=1), bias=1),
     TypeError, "bias must be a bool, not 1"),
    (lambda: encode(np.ones((2, 1), dtype=int), CODEBOOK, config=EieConfig(n_pe=1), bias=True),
     ValueError, "indices must have at least 2 columns with bias=True (the inputs and the bias "
                 "column), not shape (2, 1)"),
])
def test_encode_bias_errors(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message


def test_layer_bias_field_is_checked():
    layer = encode(np.ones((2, 1), dtype=int), CODEBOOK, config=EieConfig(n_pe=1))
    fields = dict(n_rows=2, n_cols=1, n_pe=1, entries_per_word=1, codebook=layer.codebook,
                  v=layer.v, z=layer.z, ptr=layer.ptr)
    with pytest.raises(TypeError) as info:
        EieLayer(**fields, bias="yes")
    assert str(info.value) == "bias must be a bool, not 'yes'"
    with pytest.raises(ValueError) as info:
        EieLayer(**fields, bias=True)
    assert str(info.value) == ("A layer with a bias needs n_cols >= 2 (at least one input and "
                               "the bias column), not 1")
    assert EieLayer(**fields, bias=np.bool_(False)).bias is False


def test_entry_counts_and_fit_config_see_the_bias_column():
    rng = np.random.default_rng(4)
    w_aug = [np.where(rng.random((30, 21)) < 0.3, rng.normal(size=(30, 21)), 0.0),
             np.where(rng.random((7, 31)) < 0.5, rng.normal(size=(7, 31)), 0.0)]
    w_aug[0][:, -1] = rng.normal(size=30)       # every bias nonzero
    config = fit_config(w_aug, EieConfig(n_pe=4, entries_per_word=2), pow2=False)
    layers = []
    for w in w_aug:
        idx = np.where(w != 0, 1, 0)
        layer = encode(idx, CODEBOOK, config=config, bias=True)
        assert entry_counts(w, 4).tolist() == layer.n_entries.tolist()
        layers.append(layer)
    check_fits(layers, config)
    # 31 columns (30 inputs + the bias) -> 32 pointers, and layer 1 starts at 22.
    assert config.ptr_depth == 22 + 32


def test_check_fits_names_the_bias_column():
    config = EieConfig(n_pe=1, act_depth=2, ptr_depth=8, matrix_depth=8, max_layers=1)
    layer = encode(np.ones((2, 3), dtype=int), CODEBOOK, config=config, bias=True)
    with pytest.raises(ValueError) as info:
        check_fits([layer], config)
    assert str(info.value) == ("Layer 0 has 3 columns (inputs and the bias column), more than "
                               "max_dim = 2 (act_depth 2 x n_pe 1)")


def test_arrays_round_trip_the_bias_flag_and_read_old_files(tmp_path):
    rng = np.random.default_rng(2)
    config = EieConfig(n_pe=2)
    chain = [(encode(random_indices(rng, (6, 5), 0.5), CODEBOOK, config=config, bias=True),
              True),
             (encode(random_indices(rng, (3, 6), 0.5), CODEBOOK, config=config), False)]
    np.savez(tmp_path / "m.npz", **layers_to_arrays(chain))
    arrays = dict(np.load(tmp_path / "m.npz", allow_pickle=False))
    assert arrays["layer0_shape"].tolist() == [6, 5, 2, config.entries_per_word, 1, 1]
    back = layers_from_arrays(arrays)
    assert [(layer.bias, relu) for layer, relu in back] == [(True, True), (False, False)]
    assert np.array_equal(decode(back[0][0]), decode(chain[0][0]))
    # Files written before biases existed hold 5 numbers: no bias.
    arrays["layer0_shape"] = arrays["layer0_shape"][:5]
    assert layers_from_arrays(arrays)[0][0].bias is False
    arrays["layer0_shape"] = np.array([6, 5, 2, config.entries_per_word, 1, 2])
    with pytest.raises(ValueError) as info:
        layers_from_arrays(arrays)
    assert str(info.value) == "layer0_shape: the bias flag must be 0 or 1, not 2"
    arrays["layer0_shape"] = np.array([6, 5, 2, 1])
    with pytest.raises(ValueError) as info:
        layers_from_arrays(arrays)
    assert str(info.value) == ("layer0_shape must hold 6 numbers (or 5 without the bias flag), "
                               "not [6, 5, 2, 1]")


def test_append_and_split_bias_column():
    w = np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 4.0]])
    b = np.array([0.25, -1, 0])
    w_aug = append_bias_column(w, b)
    assert w_aug.tolist() == [[1.0, -2.0, 0.25], [0.5, 0.0, -1.0], [3.0, 4.0, 0.0]]
    back_w, back_b = split_bias_column(w_aug)
    assert np.array_equal(back_w, w) and np.array_equal(back_b, b)
    assert append_bias_column(np.ones((1, 1), dtype=int), [2]).dtype == np.float64


@pytest.mark.parametrize("call, exc, message", [
    (lambda: append_bias_column(np.ones((3, 2)), np.ones(2)), ValueError,
     "b must have shape (3,), one bias per output of w, not (2,)"),
    (lambda: append_bias_column(np.ones((3, 2)), np.ones((3, 1))), ValueError,
     "b must have shape (3,), one bias per output of w, not (3, 1)"),
    (lambda: append_bias_column(np.ones((3, 2)), np.array(["a"] * 3)), TypeError,
     "b must be a real-valued array, not an array of dtype <U1"),
    (lambda: append_bias_column(np.ones((3, 2)), np.array([1, np.inf, 0])), ValueError,
     "b must hold only finite values"),
    (lambda: append_bias_column(np.ones(3), np.ones(3)), ValueError,
     "w must be a 2-D matrix, not shape (3,)"),
    (lambda: split_bias_column(np.ones((3, 1))), ValueError,
     "w_aug must have at least 2 columns (the inputs and the bias column), not shape (3, 1)"),
    (lambda: check_bias_flags([True], 2), ValueError,
     "bias must have one flag per layer (2), not 1"),
    (lambda: check_bias_flags([True, 1], 2), TypeError, "bias[1] must be a bool, not 1"),
    (lambda: check_bias_flags("yes", 3), TypeError,
     "bias must be a bool or a sequence of bools, not 'yes'"),
])
def test_bias_helper_errors(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message


def test_bias_flags():
    assert check_bias_flags(None, 2) == (False, False)
    assert check_bias_flags(True, 3) == (True, True, True)
    assert check_bias_flags([np.bool_(True), False], 2) == (True, False)


# --- the functional model -----------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n_rows=st.integers(1, 40),
    n_inputs=st.integers(1, 40),
    density=st.floats(0.0, 1.0),
    act_density=st.floats(0.0, 1.0),
    n_pe=st.integers(1, 9),
    act_frac_bits=st.integers(0, 14),
    acc_bits=st.sampled_from([32, 40]),
    relu=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_bias_layer_matches_dense_reference(n_rows, n_inputs, density, act_density, n_pe,
                                            act_frac_bits, acc_bits, relu, seed):
    rng = np.random.default_rng(seed)
    idx = random_indices(rng, (n_rows, n_inputs + 1), density)
    codebook = np.concatenate(([0], rng.integers(-32768, 32768, 15)))
    acts = np.where(rng.random(n_inputs) < act_density,
                    rng.integers(-32768, 32768, n_inputs), 0)
    layer = encode(idx, codebook, config=EieConfig(n_pe=n_pe), bias=True)
    got = eie_layer(layer, acts, acc_bits=acc_bits, act_frac_bits=act_frac_bits, relu=relu)
    assert got.tolist() == reference(codebook[idx], acts, act_frac_bits=act_frac_bits,
                                     acc_bits=acc_bits, relu=relu)


def test_worked_bias_example():
    # y = 0.5 * 2.0 + 0.25 = 1.25. Weights Q4.12: 0.5 = 2048, 0.25 = 1024; x = 2.0 = 512 in
    # Q8.8. acc = 2048 * 512 + 1024 * 256 = 1310720; (1310720 + 2048) >> 12 = 320 = 1.25.
    codebook = np.zeros(16, dtype=np.int64)
    codebook[1], codebook[2] = 2048, 1024
    layer = encode(np.array([[1, 2]]), codebook, config=EieConfig(n_pe=1), bias=True)
    assert eie_layer(layer, np.array([512])).tolist() == [320]
    # With 4 fractional activation bits the constant is 16: 2048 * 32 + 1024 * 16 = 81920
    # -> 20 = 1.25 in Q.4.
    assert eie_layer(layer, np.array([32]), act_frac_bits=4).tolist() == [20]
    # The bias column is walked even when every input is zero: 1024 * 256 >> 12 = 64.
    assert eie_layer(layer, np.array([0])).tolist() == [64]
    assert bias_activation(8) == 256 and bias_activation(0) == 1 and bias_activation(14) == 16384


def test_zero_bias_column_equals_the_bias_free_layer():
    rng = np.random.default_rng(8)
    idx = random_indices(rng, (20, 13), 0.4)
    acts = rng.integers(-1000, 1000, 13)
    with_zero_bias = np.concatenate((idx, np.zeros((20, 1), dtype=np.int64)), axis=1)
    a = eie_layer(encode(idx, CODEBOOK, config=EieConfig(n_pe=3)), acts)
    b = eie_layer(encode(with_zero_bias, CODEBOOK, config=EieConfig(n_pe=3), bias=True), acts)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("acts, kwargs, exc, message", [
    (np.zeros(3, dtype=int), {}, ValueError, "acts must have length 2 (the layer's inputs), not 3"),
    (np.zeros(2, dtype=int), {"act_frac_bits": 15}, ValueError,
     "act_frac_bits must be at most 14 for a layer with a bias (its constant activation 1.0 = "
     "1 << act_frac_bits must fit 16 bits), not 15"),
    (np.zeros(2, dtype=int), {"act_frac_bits": 16}, ValueError,
     "act_frac_bits must be in the range [0, 15], not 16"),
    (np.zeros(2, dtype=int), {"act_frac_bits": 8.0}, TypeError,
     "act_frac_bits must be an integer, not 8.0"),
])
def test_bad_bias_layer_input(acts, kwargs, exc, message):
    layer = encode(np.ones((2, 3), dtype=int), CODEBOOK, config=EieConfig(n_pe=1), bias=True)
    with pytest.raises(exc) as info:
        eie_layer(layer, acts, **kwargs)
    assert str(info.value) == message


def test_act_frac_bits_15_is_fine_without_a_bias():
    layer = encode(np.array([[1]]), CODEBOOK, config=EieConfig(n_pe=1))
    assert eie_layer(layer, np.array([4096]), act_frac_bits=15).tolist() == [1]


def test_chain_with_biases_supplies_every_constant():
    rng = np.random.default_rng(5)
    cfg = EieConfig(n_pe=3, act_frac_bits=6)
    specs = [((16, 10), True, True), ((12, 16), False, True), ((5, 12), True, False)]
    chain, dense = [], []
    for (n_out, n_in), bias, relu in specs:
        idx = random_indices(rng, (n_out, n_in + bias), 0.5)
        codebook = np.concatenate(([0], rng.integers(-3000, 3000, 15)))
        chain.append((encode(idx, codebook, config=cfg, bias=bias), relu))
        dense.append((codebook[idx], bias, relu))
    acts = rng.integers(0, 400, 10)
    outputs = eie_chain(chain, acts, config=cfg)
    x = acts.tolist()
    for (weights, bias, relu), got in zip(dense, outputs, strict=True):
        if bias:
            x = reference(weights, x, act_frac_bits=6, relu=relu)
        else:
            x = reference(np.concatenate((weights, np.zeros((len(weights), 1), int)), axis=1),
                          x, act_frac_bits=6, relu=relu)
        assert got.tolist() == x


def test_chain_checks_inputs_without_the_bias_column():
    cfg = EieConfig(n_pe=1)
    a = encode(np.ones((2, 3), dtype=int), CODEBOOK, config=cfg, bias=True)
    b = encode(np.ones((4, 4), dtype=int), CODEBOOK, config=cfg, bias=True)
    with pytest.raises(ValueError) as info:
        eie_chain([(a, True), (b, False)], np.zeros(2, dtype=int), config=cfg)
    assert str(info.value) == "Layer 1 has 3 inputs and a bias column, but layer 0 has 2 outputs"
    c = encode(np.ones((4, 3), dtype=int), CODEBOOK, config=cfg, bias=True)
    assert len(eie_chain([(a, True), (c, False)], np.zeros(2, dtype=int), config=cfg)) == 2


def test_float_layer_with_bias_through_sharing_and_encoding():
    # Weights and biases on a grid of eight values: weight sharing represents them exactly,
    # so the model's output is the float W @ x + b rounded once to Q8.8.
    rng = np.random.default_rng(12)
    grid = np.array([-0.75, -0.5, -0.25, -0.125, 0.125, 0.25, 0.5, 0.75])
    w = np.where(rng.random((9, 14)) < 0.4, rng.choice(grid, (9, 14)), 0.0)
    b = rng.choice(grid, 9)
    x = rng.integers(-64, 64, 14) / 16.0
    w_aug = append_bias_column(w, b)
    indices, codebook, report = share_weights(w_aug, w_frac_bits=12)
    assert report["max_error"] == 0.0
    layer = encode(indices, codebook, config=EieConfig(n_pe=4), bias=True)
    got = eie_layer(layer, (x * 256).astype(np.int64))
    assert got.tolist() == np.floor((w @ x + b) * 256 + 0.5).astype(int).tolist()


# --- the trainer --------------------------------------------------------------------------


def test_init_with_bias_keeps_the_weights_and_adds_zero_biases():
    plain = Mlp.init((8, 5, 3), seed=4)
    biased = Mlp.init((8, 5, 3), seed=4, bias=True)
    assert plain.bias == (False, False) and biased.bias == (True, True)
    for w, wb in zip(plain.weights, biased.weights, strict=True):
        assert wb.shape == (w.shape[0], w.shape[1] + 1)
        assert np.array_equal(wb[:, :-1], w) and not wb[:, -1].any()


def test_forward_with_biases_is_w_x_plus_b():
    rng = np.random.default_rng(0)
    w0, b0 = rng.normal(size=(4, 3)), rng.normal(size=4)
    w1 = rng.normal(size=(2, 4))
    mlp = Mlp([np.concatenate((w0, b0[:, None]), axis=1), w1], bias=[True, False])
    x = rng.normal(size=(5, 3))
    logits, acts = mlp.forward(x)
    hidden = np.maximum(x @ w0.T + b0, 0.0)
    assert np.allclose(logits, hidden @ w1.T) and np.allclose(acts[1], hidden)


def test_only_a_bias_can_learn_a_constant_label():
    # Every input is 0 and every label 1: without a bias the logits are 0 and argmax says 0.
    x = np.zeros((64, 3))
    y = np.ones(64, dtype=np.int64)
    data = Dataset(x, y, x[:16], y[:16])
    plain = Mlp.init((3, 4, 2), seed=0)
    train(plain, data, epochs=5)
    assert plain.accuracy(data.x_test, data.y_test) == 0.0
    biased = Mlp.init((3, 4, 2), seed=0, bias=True)
    train(biased, data, epochs=5)
    assert biased.accuracy(data.x_test, data.y_test) == 1.0


def test_training_with_biases_learns_and_masked_biases_stay_zero():
    data = load_digits_dataset(seed=0)
    mlp = Mlp.init((64, 32, 10), seed=0, bias=True)
    mlp.masks[0][:5, -1] = False
    train(mlp, data, epochs=8)
    assert mlp.accuracy(data.x_test, data.y_test) > 0.9
    assert not mlp.weights[0][:5, -1].any() and mlp.weights[0][5:, -1].any()
    assert mlp.weights[1][:, -1].any()


def test_iterative_prune_prunes_the_bias_column_with_the_weights():
    data = load_digits_dataset(seed=0)
    mlp = Mlp.init((64, 16, 10), seed=0, bias=True)
    train(mlp, data, epochs=2)
    seen = []

    def prune(layer, w, density):
        seen.append(w.shape)
        keep = np.abs(w) >= np.quantile(np.abs(w), 1 - density)
        return np.where(keep, w, 0.0)

    iterative_prune(mlp, data, schedule=[0.5], prune=prune, finetune_epochs=1)
    assert seen == [(16, 65), (10, 17)]
    assert mlp.density == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("call, exc, message", [
    (lambda: Mlp.init((4, 2), bias=1), TypeError, "bias must be a bool, not 1"),
    (lambda: Mlp([np.ones((2, 3))], bias=[True, True]), ValueError,
     "bias must have one flag per layer (1), not 2"),
    (lambda: Mlp([np.ones((2, 1))], bias=True), ValueError,
     "weights[0] has a bias, so it needs at least 2 columns (the inputs and the bias "
     "column), not shape (2, 1)"),
])
def test_bad_mlp_bias(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message


# --- zeroskip: weights files, pruning, compression, report --------------------------------


def _save(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_load_weights_with_biases(tmp_path):
    rng = np.random.default_rng(1)
    w0, b0, w1 = rng.normal(size=(6, 5)), rng.normal(size=6), rng.normal(size=(3, 6))
    path = _save(tmp_path / "net.npz", w0=w0, b0=b0.astype(np.float32), w1=w1,
                 x=np.ones((2, 5)))
    net = load_weights(path)
    assert net.bias == (True, False)
    assert np.array_equal(net.weights[0][:, :5], w0)
    assert np.array_equal(net.weights[0][:, 5], b0.astype(np.float32).astype(np.float64))
    assert np.array_equal(net.weights[1], w1)
    assert layer_sizes(net.weights, net.bias) == [5, 6, 3]
    assert bias_text(net.bias) == "a bias in layer 0"
    only_last = load_weights(_save(tmp_path / "b1.npz", w0=w0, w1=w1, b1=np.arange(3)))
    assert only_last.bias == (False, True) and only_last.weights[1][:, -1].tolist() == [0, 1, 2]
    plain = load_weights(_save(tmp_path / "plain.npz", w0=w0))
    assert plain.bias == (False,) and bias_text(plain.bias) == "no biases"


@pytest.mark.parametrize("arrays, message", [
    ({"w0": np.ones((4, 8)), "b0": np.ones(3)},
     "array 'b0' in {path!r} must be a vector of one bias per output, shape (4,), not shape (3,)"),
    ({"w0": np.ones((4, 8)), "b0": np.ones((4, 1))},
     "array 'b0' in {path!r} must be a vector of one bias per output, shape (4,), "
     "not shape (4, 1)"),
    ({"w0": np.ones((4, 8)), "b0": np.array(["a"] * 4)},
     "array 'b0' in {path!r} must hold numbers, not dtype <U1"),
    ({"w0": np.ones((4, 8)), "b0": np.ones(4, dtype=bool)},
     "array 'b0' in {path!r} must hold numbers, not dtype bool"),
    ({"w0": np.ones((4, 8)), "b0": np.array([1, np.nan, 0, 0])},
     "array 'b0' in {path!r} holds non-finite values"),
    ({"w0": np.ones((4, 8)), "b2": np.ones(4)},
     "array 'b2' in {path!r} is a bias for layer 2, but there is no w2 (the file has layers "
     "w0 to w0)"),
    ({"w0": np.ones((4, 8)), "b0": np.ones(4), "x": np.ones((2, 9))},
     "array 'x' in {path!r} must be numeric with shape (vectors, 8), not float64 (2, 9)"),
])
def test_load_weights_bias_errors(tmp_path, arrays, message):
    path = _save(tmp_path / "w.npz", **arrays)
    with pytest.raises(UserError) as info:
        load_weights(path)
    assert str(info.value) == message.format(path=path)


def test_prune_and_compress_carry_biases():
    rng = np.random.default_rng(3)
    dense = [append_bias_column(rng.normal(0, 0.5, (12, 10)), rng.normal(0, 2.0, 12)),
             rng.normal(0, 0.5, (4, 12))]
    pruned = prune_network(dense, density=0.3, finetune_data=None, seed=0, progress=QUIET,
                           bias=(True, False))
    assert pruned.bias == (True, False)
    # The large biases outrank most weights: the bias column is pruned as a column.
    assert np.count_nonzero(pruned.weights[0]) == round(0.3 * 12 * 11)
    assert np.count_nonzero(pruned.weights[0][:, -1]) > 0.3 * 12
    assert "biases ranked and pruned with the weights" in pruned.steps[0]
    comp = compress(pruned.weights, n_pe=3, queue_depth=4, bias=pruned.bias)
    assert comp.bias == (True, False)
    assert [layer.n_inputs for layer, _ in comp.layers] == [10, 12]
    check_fits(comp.layers, comp.config)
    # One codebook over the weights and the biases of a layer.
    _, codebook, _ = share_weights(pruned.weights[0], w_frac_bits=comp.config.w_frac_bits)
    assert np.array_equal(comp.layers[0][0].codebook, codebook)
    assert np.array_equal(decode_weights(comp.layers[0][0]) != 0, pruned.weights[0] != 0)
    assert [layer["bias"] for layer in comp.summary()["layers"]] == [True, False]
    # The golden model follows the float network with the shared weights, up to the
    # rounding of the hidden activations to Q8.8 (1/512 each).
    x = rng.uniform(0, 1, (20, 10))
    acts = np.floor(x * 256 + 0.5).astype(np.int64)
    golden = np.stack([eie_chain(comp.layers, a, config=comp.config)[-1] for a in acts])
    shared = [codebook[indices] / 4096 for codebook, indices in
              ((layer.codebook, decode(layer)) for layer, _ in comp.layers)]
    w0, b0 = split_bias_column(shared[0])
    float_out = np.maximum(acts / 256 @ w0.T + b0, 0) @ shared[1].T
    assert np.abs(golden / 256 - float_out).max() < 12 * 2 / 512
    assert np.abs(b0).max() > 1.0   # dropping the biases would fail by far


def test_digits_network_with_biases_keeps_its_accuracy_in_fixed_point():
    data = load_digits_dataset(seed=0)
    mlp = Mlp.init((64, 32, 10), seed=0, bias=True)
    train(mlp, data, epochs=15)
    pruned = prune_network(mlp.weights, density=0.5, finetune_data=None, seed=0,
                           progress=QUIET, bias=mlp.bias)
    comp = compress(pruned.weights, n_pe=4, queue_depth=4, bias=pruned.bias)
    acts = np.floor(data.x_test * 256 + 0.5).astype(np.int64)
    golden = np.stack([eie_chain(comp.layers, a, config=comp.config)[-1] for a in acts])
    float_acc = pruned.mlp(pruned.weights).accuracy(data.x_test, data.y_test)
    quant_acc = float(np.mean(np.argmax(golden, axis=1) == data.y_test))
    assert float_acc > 0.85 and abs(quant_acc - float_acc) < 0.03


def test_report_says_which_layers_have_biases():
    rng = np.random.default_rng(7)
    weights = (append_bias_column(rng.normal(0, 0.5, (12, 10)), rng.normal(size=12)),
               rng.normal(0, 0.5, (4, 12)))
    comp = compress(weights, n_pe=2, queue_depth=4, bias=(True, False))
    pruned = PrunedNetwork(dense=weights, weights=weights, history=None,
                           steps=("pruned somehow",), bias=(True, False))
    eval_set = SimpleNamespace(x=np.zeros((6, 10)), y=None, description="test data",
                               is_digits=False)
    report = start_report("zeroskip compile report", "zeroskip compile", source="a network",
                          pruned=pruned, compressed=comp, eval_set=eval_set,
                          first_steps=["loaded"])
    net = report["network"]
    assert net["sizes"] == [10, 12, 4] and net["bias"] == [True, False]
    assert net["weights"] == 12 * 11 + 4 * 12 and net["biases"] == 12
    text = format_report(report)
    assert ("layers 10 -> 12 -> 4 (inputs -> outputs), a bias in layer 0, 180 weights and "
            "biases (12 of them biases).") in text
    assert "| 0 | 10 -> 12 | yes |" in text and "| 1 | 12 -> 4 | no |" in text
    assert "- biases (a bias in layer 0) stored as EIE stores them: the last column" in text
    assert "(256 in fixed point)" in text


def test_demo_trains_with_biases_unless_asked_and_refuses_no_bias_for_weights(tmp_path):
    assert DemoOptions().bias is True
    path = _save(tmp_path / "w.npz", w0=np.ones((10, 64)), b0=np.ones(10))
    with pytest.raises(UserError, match=re.escape("--no-bias applies to the built-in MLP")):
        plan_demo(DemoOptions(out=str(tmp_path / "d"), weights=path, bias=False))
    plan = plan_demo(DemoOptions(out=str(tmp_path / "d"), weights=path))
    assert plan.network.bias == (True,)
