"""The N:M functional model (sw_model/nm_model.py) against an independent dense computation.

The reference here decompresses the weights, multiplies with Python integers
(no overflow possible) and writes the wrap and the requantization out again,
so it shares nothing with the model but the decompression.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw_model.config import SparseMacConfig
from sw_model.nm_format import compress, decompress
from sw_model.nm_model import nm_accumulate, nm_dot, nm_matvec, nm_matvec_acc

PATTERNS = [(1, 4), (2, 4), (2, 8), (4, 8), (4, 4)]


def ref_wrap(x, bits):
    return ((x + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1))


def ref_requantize(acc, shift, out_bits, relu):
    y = (acc + (1 << (shift - 1))) // (1 << shift) if shift else acc  # floor division
    y = max(-(1 << (out_bits - 1)), min((1 << (out_bits - 1)) - 1, y))
    return max(y, 0) if relu else y


def ref_matvec(w, x, cfg):
    accs, outs = [], []
    for row in w.tolist():
        acc = ref_wrap(sum(a * b for a, b in zip(row, x.tolist(), strict=True)), cfg.acc_bits)
        accs.append(acc)
        outs.append(ref_requantize(acc, cfg.w_frac_bits, cfg.act_bits, cfg.relu))
    return accs, outs


def random_layer(rng, rows, k, n, m, bits, extreme):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    w = np.zeros((rows, k), dtype=np.int64)
    for r in range(rows):
        for g in range(k // m):
            pos = rng.choice(m, size=n, replace=False)
            vals = rng.integers(lo, hi + 1, size=n)
            vals = np.where(rng.random(n) < extreme, rng.choice([lo, hi], size=n), vals)
            w[r, g * m + pos] = vals
    return w


@settings(max_examples=120, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), bits=st.sampled_from([8, 16]),
       acc_extra=st.sampled_from([0, 1, 4, 24]), relu=st.booleans(),
       rows=st.integers(1, 5), groups=st.integers(1, 40), extreme=st.sampled_from([0.0, 0.5, 1.0]),
       seed=st.integers(0, 2**32 - 1))
def test_matvec_matches_dense_reference(pattern, bits, acc_extra, relu, rows, groups, extreme,
                                        seed):
    n, m = pattern
    cfg = SparseMacConfig(n=n, m=m, act_bits=bits, w_bits=bits, acc_bits=2 * bits + acc_extra,
                          w_frac_bits=bits - 4, relu=relu)
    rng = np.random.default_rng(seed)
    k = groups * m
    w = random_layer(rng, rows, k, n, m, bits, extreme)
    x = random_layer(rng, 1, k, m, m, bits, extreme)[0]
    values, indices = compress(w, n, m, bits=bits)
    want_acc, want_out = ref_matvec(decompress(values, indices, m), x, cfg)
    assert nm_matvec_acc(values, indices, x, cfg).tolist() == want_acc
    assert nm_matvec(values, indices, x, cfg).tolist() == want_out
    assert nm_matvec(values, indices, x, cfg).dtype == np.int64
    assert nm_accumulate(values[0], indices[0], x, cfg) == want_acc[0]
    assert nm_dot(values[0], indices[0], x, cfg) == want_out[0]


def test_most_negative_times_most_negative_wraps():
    # 16-bit: (-32768)**2 = 2**30; four of them are 2**32, which a 32-bit accumulator wraps to 0.
    cfg = SparseMacConfig(n=2, m=4, acc_bits=32, w_frac_bits=12)
    values = np.full((2, 2), -32768)
    indices = np.array([[0, 1], [2, 3]])
    acts = np.full(8, -32768)
    assert nm_accumulate(values, indices, acts, cfg) == 0
    # Three products: 3 * 2**30 wraps to -2**30; >> 12 is -2**18, saturated to -32768.
    acts[7] = 0
    assert nm_accumulate(values, indices, acts, cfg) == -(1 << 30)
    assert nm_dot(values, indices, acts, cfg) == -32768
    # Wider accumulator: no wrap, the positive result saturates to 32767.
    wide = SparseMacConfig(n=2, m=4, acc_bits=40, w_frac_bits=12)
    assert nm_accumulate(values, indices, acts, wide) == 3 << 30
    assert nm_dot(values, indices, acts, wide) == 32767


def test_narrow_accumulator_wraps_8bit():
    # 8-bit: (-128)**2 = 2**14; two products make 2**15, which wraps to -2**15 in 16 bits.
    cfg = SparseMacConfig(n=2, m=4, act_bits=8, w_bits=8, acc_bits=16, w_frac_bits=4, relu=True)
    values = np.array([[-128, -128]])
    indices = np.array([[1, 2]])
    acts = np.array([5, -128, -128, 7])
    assert nm_accumulate(values, indices, acts, cfg) == -32768
    assert nm_dot(values, indices, acts, cfg) == 0  # saturates to -128, then ReLU


def test_rounding_half_up():
    cfg = SparseMacConfig(n=1, m=4, act_bits=8, w_bits=8, acc_bits=16, w_frac_bits=2)
    indices = np.array([[3]])
    acts = np.array([0, 0, 0, 1])
    # acc = 6 -> 6/4 = 1.5 -> 2; acc = -6 -> -1.5 -> -1 (half towards +inf).
    assert nm_dot(np.array([[6]]), indices, acts, cfg) == 2
    assert nm_dot(np.array([[-6]]), indices, acts, cfg) == -1
    assert nm_dot(np.array([[-7]]), indices, acts, cfg) == -2


def test_selected_activation_only():
    # Activations the indices do not point at never contribute.
    cfg = SparseMacConfig(n=2, m=4, w_frac_bits=0)
    values = np.array([[3, -2]])
    indices = np.array([[0, 2]])
    assert nm_accumulate(values, indices, np.array([10, 1000, 20, 1000]), cfg) == 3 * 10 - 2 * 20


@pytest.mark.parametrize("call, exc, message", [
    (lambda c: nm_dot(np.zeros((1, 2), dtype=int), np.array([[0, 1]]), np.zeros(8, dtype=int),
                      c), ValueError, "acts must have 4 elements (1 groups of 4), not 8"),
    (lambda c: nm_dot(np.zeros((1, 3), dtype=int), np.array([[0, 1, 2]]),
                      np.zeros(4, dtype=int), c), ValueError,
     "values must hold n = 2 entries per group, not 3"),
    (lambda c: nm_dot(np.array([[40000, 0]]), np.array([[0, 1]]), np.zeros(4, dtype=int), c),
     ValueError, "values must fit in 16-bit signed range [-32768, 32767], but holds 40000"),
    (lambda c: nm_dot(np.zeros((1, 2), dtype=int), np.array([[0, 1]]), np.zeros(4), c),
     TypeError, "acts must be an integer array, not an array of dtype float64"),
    (lambda c: nm_dot(np.zeros((1, 2), dtype=int), np.array([[0, 1]]),
                      np.zeros(4, dtype=int), "2:4"), TypeError,
     "config must be a SparseMacConfig, not '2:4'"),
    (lambda c: nm_matvec(np.zeros((1, 2), dtype=int), np.array([[0, 1]]),
                         np.zeros(4, dtype=int), c), ValueError,
     "values must have 3 dimensions, not shape (1, 2)"),
    (lambda c: nm_dot(np.zeros((1, 2), dtype=int), np.array([[1, 1]]), np.zeros(4, dtype=int),
                      c), ValueError,
     "indices must be strictly ascending within a group, but group (0,) holds [1, 1]"),
])
def test_errors_name_parameter_and_value(call, exc, message):
    with pytest.raises(exc) as info:
        call(SparseMacConfig())
    assert str(info.value) == message
