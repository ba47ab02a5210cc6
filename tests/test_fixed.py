"""Hand-computed cases for the shared fixed-point arithmetic (sw_model/fixed.py)."""

import re

import numpy as np
import pytest

from sw_model.fixed import (
    ACT_BITS,
    PROD_BITS,
    W_BITS,
    check_int,
    check_int_array,
    from_fixed,
    int_range,
    requantize,
    round_shift_right,
    saturate,
    to_fixed,
    wrap,
)


def test_widths():
    assert (ACT_BITS, W_BITS, PROD_BITS) == (16, 16, 32)


def test_int_range():
    assert int_range(16) == (-32768, 32767)
    assert int_range(8, signed=False) == (0, 255)
    assert int_range(1) == (-1, 0)


@pytest.mark.parametrize("x, bits, expected", [
    (127, 8, 127),
    (128, 8, -128),
    (255, 8, -1),
    (256, 8, 0),
    (-129, 8, 127),
    (-128, 8, -128),
    ((1 << 39), 40, -(1 << 39)),
    ((1 << 39) - 1, 40, (1 << 39) - 1),
    (3 * (1 << 40) + 5, 40, 5),
])
def test_wrap(x, bits, expected):
    assert int(wrap(x, bits)) == expected


def test_wrap_array_keeps_int64():
    out = wrap(np.array([70000, -70000, 5]), 16)
    assert out.dtype == np.int64
    # 70000 - 65536 = 4464; -70000 + 2 * 65536 = 61072 -> 61072 - 65536 = -4464
    assert out.tolist() == [4464, -4464, 5]


def test_saturate():
    assert saturate(np.array([40000, -40000, 32767, -32768, 0]), 16).tolist() == \
        [32767, -32768, 32767, -32768, 0]


@pytest.mark.parametrize("x, shift, expected", [
    (3, 1, 2),     # 1.5 -> 2
    (-3, 1, -1),   # -1.5 -> -1 (half up, towards +inf)
    (-2, 1, -1),   # -1.0 exactly
    (2, 1, 1),
    (1, 1, 1),     # 0.5 -> 1
    (-1, 1, 0),    # -0.5 -> 0
    (5, 2, 1),     # 1.25 -> 1
    (6, 2, 2),     # 1.5 -> 2
    (-6, 2, -1),   # -1.5 -> -1
    (-7, 2, -2),   # -1.75 -> -2
    (2047, 12, 0),  # 0.49975 -> 0
    (2048, 12, 1),  # 0.5 -> 1
    (-2048, 12, 0),  # -0.5 -> 0
    (-2049, 12, -1),
    (7, 0, 7),
])
def test_round_shift_right(x, shift, expected):
    assert int(round_shift_right(x, shift)) == expected


def test_requantize_saturates_both_ends_and_relu():
    shift = 12
    big = 40000 << shift
    acc = np.array([big, -big, (100 << shift) + 2048, -(5 << shift)])
    assert requantize(acc, shift).tolist() == [32767, -32768, 101, -5]
    assert requantize(acc, shift, relu=True).tolist() == [32767, 0, 101, 0]
    assert requantize(np.array([300 << 4]), 4, out_bits=8).tolist() == [127]


def test_requantize_rounds_before_saturating():
    # 32766.5 rounds up to 32767 (in range); 32767.5 rounds to 32768 -> saturates.
    acc = np.array([(32766 << 1) + 1, (32767 << 1) + 1])
    assert requantize(acc, 1).tolist() == [32767, 32767]
    assert requantize(np.array([-(32768 << 1) - 1]), 1).tolist() == [-32768]


def test_to_fixed_rounding_and_saturation():
    assert to_fixed([0.5, -0.5, 1.0, 0.25, 0.125, -0.125], 2).tolist() == [2, -2, 4, 1, 1, 0]
    # 0.125 * 4 = 0.5 rounds half up to 1; -0.5 rounds up to 0.
    assert to_fixed([1000.0, -1000.0], 8).tolist() == [32767, -32768]
    assert to_fixed([3.0], 0, bits=2).tolist() == [1]
    assert to_fixed([1.5], 12).dtype == np.int64


def test_to_fixed_rejects_non_finite():
    with pytest.raises(ValueError, match=re.escape("x must hold only finite values")):
        to_fixed([np.nan], 8)


def test_from_fixed():
    assert from_fixed(np.array([256, -128]), 8).tolist() == [1.0, -0.5]


def test_check_int_messages():
    assert check_int("depth", np.int32(4), lo=1) == 4
    with pytest.raises(TypeError, match=re.escape("depth must be an integer, not 2.0")):
        check_int("depth", 2.0)
    with pytest.raises(TypeError, match=re.escape("depth must be an integer, not True")):
        check_int("depth", True)
    with pytest.raises(ValueError, match=re.escape("depth must be at least 1, not 0")):
        check_int("depth", 0, lo=1)
    with pytest.raises(ValueError, match=re.escape("depth must be at most 8, not 9")):
        check_int("depth", 9, hi=8)
    with pytest.raises(ValueError, match=re.escape("depth must be in the range [1, 8], not 9")):
        check_int("depth", 9, lo=1, hi=8)
    with pytest.raises(ValueError, match=re.escape("depth must be in the range [1, 8], not 0")):
        check_int("depth", 0, lo=1, hi=8)


def test_check_int_array_messages():
    out = check_int_array("acts", np.array([1, -2], dtype=np.int16), 16, ndim=1)
    assert out.dtype == np.int64 and out.tolist() == [1, -2]
    with pytest.raises(TypeError, match=re.escape(
            "acts must be an integer array, not an array of dtype float64")):
        check_int_array("acts", [1.0, 2.0], 16)
    with pytest.raises(TypeError, match=re.escape(
            "acts must be an integer array, not an array of dtype bool")):
        check_int_array("acts", [True], 16)
    with pytest.raises(ValueError, match=re.escape(
            "acts must have 1 dimension(s), not shape (1, 2)")):
        check_int_array("acts", [[1, 2]], 16, ndim=1)
    with pytest.raises(ValueError, match=re.escape(
            "acts must fit in 16-bit signed range [-32768, 32767], but holds 32768")):
        check_int_array("acts", [0, 32768], 16)
    with pytest.raises(ValueError, match=re.escape(
            "acts must fit in 4-bit unsigned range [0, 15], but holds -1")):
        check_int_array("acts", [-1, 3], 4, signed=False)
