"""The EIE functional model against independent dense computations."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw_model.config import EieConfig
from sw_model.eie_format import encode
from sw_model.eie_model import eie_chain, eie_layer
from sw_model.layers import random_layer


def reference_layer(weights, acts, *, acc_bits=40, w_frac_bits=12, relu=False):
    """Dense y = requantize(wrap(W @ a)) in Python integers, written out longhand."""
    out = []
    for row in np.asarray(weights).tolist():
        acc = sum(int(w) * int(a) for w, a in zip(row, np.asarray(acts).tolist(), strict=True))
        half = 1 << (acc_bits - 1)
        acc = (acc + half) % (1 << acc_bits) - half          # two's-complement wrap
        if w_frac_bits:
            acc = (acc + (1 << (w_frac_bits - 1))) >> w_frac_bits   # round half up
        acc = min(max(acc, -32768), 32767)                   # saturate to 16 bits
        out.append(max(acc, 0) if relu else acc)
    return out


def random_case(rng, n_rows, n_cols, density, act_density):
    idx = np.where(rng.random((n_rows, n_cols)) < density, rng.integers(1, 16, (n_rows, n_cols)), 0)
    codebook = np.concatenate(([0], rng.integers(-32768, 32768, 15)))
    acts = np.where(rng.random(n_cols) < act_density, rng.integers(-32768, 32768, n_cols), 0)
    return idx, codebook, acts


@settings(max_examples=40, deadline=None)
@given(
    n_rows=st.integers(1, 48),
    n_cols=st.integers(1, 48),
    density=st.floats(0.0, 1.0),
    act_density=st.floats(0.0, 1.0),
    n_pe=st.integers(1, 9),
    acc_bits=st.sampled_from([32, 33, 40, 62]),
    w_frac_bits=st.integers(0, 15),
    relu=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_dense_reference(n_rows, n_cols, density, act_density, n_pe, acc_bits,
                                 w_frac_bits, relu, seed):
    rng = np.random.default_rng(seed)
    idx, codebook, acts = random_case(rng, n_rows, n_cols, density, act_density)
    layer = encode(idx, codebook, config=EieConfig(n_pe=n_pe))
    got = eie_layer(layer, acts, acc_bits=acc_bits, w_frac_bits=w_frac_bits, relu=relu)
    assert got.dtype == np.int64 and got.shape == (n_rows,)
    assert got.tolist() == reference_layer(codebook[idx], acts, acc_bits=acc_bits,
                                           w_frac_bits=w_frac_bits, relu=relu)


def test_large_layer_matches_dense_int64():
    idx, codebook, acts = random_layer(1000, 700, 0.1, 0.4, seed=5)
    layer = encode(idx, codebook, config=EieConfig(n_pe=8))
    acc = codebook[idx] @ acts          # int64 and exact: |acc| < 1000 * 2**21
    expected = np.clip((acc + 2048) >> 12, -32768, 32767)
    assert (eie_layer(layer, acts) == expected).all()


def test_float_agreement_within_rounding():
    # Weights with 12 and activations with 8 fractional bits: the output in 8
    # fractional bits is the real product rounded to the nearest, so off by <= 1/2 LSB.
    rng = np.random.default_rng(11)
    idx = np.where(rng.random((64, 96)) < 0.3, rng.integers(1, 16, (64, 96)), 0)
    codebook = np.concatenate(([0], rng.integers(-2048, 2048, 15)))
    acts = rng.integers(0, 512, 96)
    w_real = codebook[idx] / 4096.0
    x_real = acts / 256.0
    y_real = w_real @ x_real
    got = eie_layer(encode(idx, codebook, config=EieConfig(n_pe=4)), acts)
    assert np.all(np.abs(got / 256.0 - y_real) <= 0.5 / 256.0)
    assert np.abs(y_real).max() < 127   # the check above never hit saturation


def test_saturation_at_both_ends():
    codebook = np.zeros(16, dtype=np.int64)
    codebook[1], codebook[2] = 32767, -32768
    idx = np.array([[1, 1], [2, 2], [1, 2]])
    acts = np.array([32767, 32767])
    got = eie_layer(encode(idx, codebook, config=EieConfig(n_pe=2)), acts)
    # 2 * 32767**2 >> 12 = 524224 -> 32767; -2 * 32768 * 32767 >> 12 -> -32768;
    # (32767 - 32768) * 32767 = -32767 -> round(-7.9998) = -8.
    assert got.tolist() == [32767, -32768, -8]
    relu = eie_layer(encode(idx, codebook, config=EieConfig(n_pe=2)), acts, relu=True)
    assert relu.tolist() == [32767, 0, 0]


def test_narrow_accumulator_wraps():
    codebook = np.zeros(16, dtype=np.int64)
    codebook[1], codebook[2] = -32768, 4096
    idx = np.array([[1, 1, 1, 1, 2]])
    acts = np.array([-32768, -32768, -32768, -32768, 100])
    layer = encode(idx, codebook, config=EieConfig(n_pe=1))
    # Sum = 4 * 2**30 + 4096 * 100 = 2**32 + 409600. A 32-bit accumulator wraps
    # to 409600 -> 409600 / 4096 = 100; a 40-bit one keeps 2**32 + 409600 -> saturates.
    assert eie_layer(layer, acts, acc_bits=32).tolist() == [100]
    assert eie_layer(layer, acts, acc_bits=40).tolist() == [32767]
    # 2**31 wraps to -2**31 in 32 bits: -2**31 / 2**12 = -524288 -> saturates low.
    half = encode(np.array([[1, 1]]), codebook, config=EieConfig(n_pe=1))
    assert eie_layer(half, np.array([-32768, -32768]), acc_bits=32).tolist() == [-32768]
    assert eie_layer(half, np.array([-32768, -32768]), acc_bits=33).tolist() == [32767]


def test_all_zero_activations_and_weights():
    idx, codebook, _ = random_case(np.random.default_rng(2), 20, 30, 0.5, 1.0)
    layer = encode(idx, codebook, config=EieConfig(n_pe=3))
    assert eie_layer(layer, np.zeros(30, dtype=np.int64)).tolist() == [0] * 20
    empty = encode(np.zeros((5, 30), dtype=np.int64), codebook, config=EieConfig(n_pe=3))
    assert eie_layer(empty, np.full(30, 7)).tolist() == [0] * 5


def test_padding_entries_add_nothing():
    # A column with long zero runs: padding entries must not contribute.
    idx = np.zeros((100, 2), dtype=np.int64)
    idx[99, 0] = 3
    idx[40, 1] = 5
    codebook = np.arange(16) * 100
    layer = encode(idx, codebook, config=EieConfig(n_pe=1))
    assert layer.n_padding.tolist() == [8]
    got = eie_layer(layer, np.array([4096, 4096]))
    expected = [0] * 100
    expected[99], expected[40] = 300, 500
    assert got.tolist() == expected


def test_chain_of_three_layers_with_relu():
    rng = np.random.default_rng(7)
    shapes = [(24, 40), (16, 24), (10, 16)]
    cfg = EieConfig(n_pe=4, acc_bits=40, w_frac_bits=12)
    chain, dense = [], []
    for (n_out, n_in), relu in zip(shapes, (True, True, False), strict=True):
        idx = np.where(rng.random((n_out, n_in)) < 0.4, rng.integers(1, 16, (n_out, n_in)), 0)
        codebook = np.concatenate(([0], rng.integers(-4096, 4096, 15)))
        chain.append((encode(idx, codebook, config=EieConfig(n_pe=4)), relu))
        dense.append((codebook[idx], relu))
    acts = rng.integers(0, 1024, 40)
    outputs = eie_chain(chain, acts, config=cfg)
    x = acts
    for (weights, relu), got in zip(dense, outputs, strict=True):
        x = reference_layer(weights, x, relu=relu)
        assert got.tolist() == x
    assert min(outputs[0].tolist() + outputs[1].tolist()) >= 0
    assert min(outputs[2].tolist()) < 0     # the last layer has no ReLU


def test_chain_uses_config_widths():
    codebook = np.zeros(16, dtype=np.int64)
    codebook[1] = 3
    layer = encode(np.array([[1]]), codebook, config=EieConfig(n_pe=1))
    cfg = EieConfig(n_pe=1, w_frac_bits=1)
    # 3 * 5 = 15 -> 15 / 2 = 7.5 -> 8.
    assert eie_chain([(layer, False)], np.array([5]), config=cfg)[0].tolist() == [8]


@pytest.mark.parametrize("acts, kwargs, exc, message", [
    (np.zeros((2, 3), dtype=int), {}, ValueError,
     "acts must have 1 dimension(s), not shape (2, 3)"),
    (np.zeros(4, dtype=int), {}, ValueError, "acts must have length 3 (the layer's inputs), not 4"),
    (np.zeros(3), {}, TypeError, "acts must be an integer array, not an array of dtype float64"),
    (np.array([0, 32768, 0]), {}, ValueError,
     "acts must fit in 16-bit signed range [-32768, 32767], but holds 32768"),
    (np.zeros(3, dtype=int), {"acc_bits": 31}, ValueError,
     "acc_bits must be in the range [32, 62], not 31"),
    (np.zeros(3, dtype=int), {"acc_bits": 63}, ValueError,
     "acc_bits must be in the range [32, 62], not 63"),
    (np.zeros(3, dtype=int), {"w_frac_bits": 16}, ValueError,
     "w_frac_bits must be in the range [0, 15], not 16"),
    (np.zeros(3, dtype=int), {"relu": 1}, TypeError, "relu must be a bool, not 1"),
])
def test_bad_layer_input(acts, kwargs, exc, message):
    layer = encode(np.ones((2, 3), dtype=int), np.arange(16), config=EieConfig(n_pe=1))
    with pytest.raises(exc) as info:
        eie_layer(layer, acts, **kwargs)
    assert str(info.value) == message


def test_bad_layer_object():
    with pytest.raises(TypeError, match=re.escape("layer must be an EieLayer, not 'w'")):
        eie_layer("w", np.zeros(3, dtype=int))


def test_bad_chains():
    a = encode(np.ones((2, 3), dtype=int), np.arange(16), config=EieConfig(n_pe=1))
    b = encode(np.ones((4, 5), dtype=int), np.arange(16), config=EieConfig(n_pe=1))
    cfg = EieConfig(n_pe=1)
    with pytest.raises(ValueError) as info:
        eie_chain([(a, True), (b, False)], np.zeros(3, dtype=int), config=cfg)
    assert str(info.value) == "Layer 1 has 5 inputs, but layer 0 has 2 outputs"
    with pytest.raises(ValueError) as info:
        eie_chain([], np.zeros(3, dtype=int), config=cfg)
    assert str(info.value) == "layers_relus must hold at least one (EieLayer, relu) pair"
    with pytest.raises(TypeError) as info:
        eie_chain([a], np.zeros(3, dtype=int), config=cfg)
    assert str(info.value).startswith("layers_relus[0] must be an (EieLayer, relu) pair, not ")


# --- benchmark layers (sw_model/layers.py) ---------------------------------------------

def test_random_layer_exact_densities_and_ranges():
    idx, codebook, acts = random_layer(300, 200, 0.09, 0.35, seed=3)
    assert idx.shape == (200, 300) and idx.dtype == np.int64
    assert np.count_nonzero(idx) == round(0.09 * 300 * 200)
    assert idx.min() >= 0 and idx.max() <= 15
    assert np.count_nonzero(acts) == round(0.35 * 300)
    assert np.abs(acts).max() <= 1024
    assert codebook[0] == 0 and len(set(codebook[1:].tolist())) == 15 and 0 not in codebook[1:]
    again = random_layer(300, 200, 0.09, 0.35, seed=3)
    assert all((a == b).all() for a, b in zip((idx, codebook, acts), again, strict=True))
    other = random_layer(300, 200, 0.09, 0.35, seed=4)
    assert not (other[0] == idx).all()
    dense = random_layer(7, 5, 1.0, 1.0, seed=0)
    assert (dense[0] != 0).all() and (dense[2] != 0).all()
    empty = random_layer(7, 5, 0.0, 0.0, seed=0)
    assert (empty[0] == 0).all() and (empty[2] == 0).all()


def test_random_layer_errors():
    with pytest.raises(ValueError) as info:
        random_layer(10, 10, 1.5, 0.5, seed=0)
    assert str(info.value) == "w_density must be in the range [0, 1], not 1.5"
    with pytest.raises(ValueError) as info:
        random_layer(0, 10, 0.5, 0.5, seed=0)
    assert str(info.value) == "n_in must be at least 1, not 0"
    with pytest.raises(TypeError) as info:
        random_layer(10, 10, 0.5, "all", seed=0)
    assert str(info.value) == "act_density must be a number, not 'all'"


def test_table3_layers():
    from sw_model.layers import table3_layers

    layers = table3_layers()
    assert [layer.name for layer in layers] == [
        "Alex-6", "Alex-7", "Alex-8", "VGG-6", "VGG-7", "VGG-8", "NT-We", "NT-Wd", "NT-LSTM"]
    vgg6 = layers[3]
    assert (vgg6.n_in, vgg6.n_out, vgg6.w_density, vgg6.act_density, vgg6.load_balance) == \
        (25088, 4096, 0.04, 0.183, 0.82)
    assert [layer.load_balance for layer in layers] == \
        [0.93, 0.96, 0.90, 0.82, 0.91, 0.87, 0.65, 0.94, 0.87]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Alex-6", "Alex-7", "Alex-8", "VGG-6", "VGG-7", "VGG-8",
                                  "NT-We", "NT-Wd", "NT-LSTM"])
def test_table3_layer_round_trip_and_product(name):
    import scipy.sparse

    from sw_model.eie_format import decode
    from sw_model.layers import table3_layers

    spec = {layer.name: layer for layer in table3_layers()}[name]
    idx, codebook, acts = random_layer(spec.n_in, spec.n_out, spec.w_density,
                                       spec.act_density, seed=1)
    layer = encode(idx, codebook, config=EieConfig(n_pe=64))
    assert (decode(layer) == idx).all()
    acc = scipy.sparse.csr_array(codebook[idx]) @ acts
    expected = np.clip((acc + 2048) >> 12, -32768, 32767)
    assert (eie_layer(layer, acts) == expected).all()
