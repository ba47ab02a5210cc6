"""Fixed-point number formats and the integer arithmetic every engine shares.

This module is the single place where zeroskip's rounding, wrapping and
saturation rules are written down; ``docs/formats.md`` describes the same rules
in prose. Everything on the bit-exact path is integer NumPy with explicit
dtypes. Values travel as ``numpy.int64`` arrays so that a 40-bit accumulator and
the rounding constant added to it never overflow the host type.

Formats (defaults of :class:`sw_model.config.EieConfig`):

* activation: signed 16-bit, ``act_frac_bits`` fractional bits (default 8);
* shared weight (codebook entry): signed 16-bit, ``w_frac_bits`` fractional
  bits (default 12);
* product: exact, signed 32-bit (16 x 16 bits);
* accumulator: ``acc_bits`` wide two's complement (default 40). The
  accumulator **wraps** on overflow, exactly as a hardware adder of that width
  does; it never saturates;
* output: the accumulator is shifted right arithmetically by ``w_frac_bits``
  with round-half-up (``1 << (w_frac_bits - 1)`` is added first, at full
  precision), saturated to the signed output width, then optionally passed
  through ReLU. The result is in the activation format again.
"""

import numpy as np

__all__ = [
    "ACT_BITS",
    "W_BITS",
    "PROD_BITS",
    "MAX_ACC_BITS",
    "int_range",
    "check_batch",
    "check_int",
    "check_int_array",
    "is_real_dtype",
    "wrap",
    "saturate",
    "round_shift_right",
    "requantize",
    "to_fixed",
    "from_fixed",
]

#: Width of an activation word (signed).
ACT_BITS = 16
#: Width of a shared weight, i.e. a codebook entry (signed).
W_BITS = 16
#: Width of the exact product of an activation and a weight.
PROD_BITS = ACT_BITS + W_BITS
#: Widest accumulator the model supports: the rounding constant and one more
#: addition must still fit in the host's int64.
MAX_ACC_BITS = 62
#: Bits of the host integer type every value travels in (``numpy.int64``).
_INT64_BITS = 64


def int_range(bits, *, signed=True):
    """Return ``(lo, hi)``, the inclusive range of a ``bits``-wide integer.

    ``bits`` is a positive integer and ``signed`` a ``bool``.
    """
    bits = check_int("bits", bits, lo=1)
    if not isinstance(signed, (bool, np.bool_)):
        raise TypeError(f"signed must be a bool, not {signed!r}")
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def is_real_dtype(dtype):
    """Whether ``dtype`` holds real numbers: integers or floats (not booleans)."""
    return dtype != np.bool_ and (np.issubdtype(dtype, np.integer)
                                  or np.issubdtype(dtype, np.floating))


def check_batch(name, x, n_inputs):
    """A finite real batch ``(samples, n_inputs)`` with at least one sample, as float64.

    Raises :class:`TypeError` for a non-real array and :class:`ValueError` for
    a wrong shape or a non-finite value, naming the parameter ``name``.
    """
    arr = np.asarray(x)
    if not is_real_dtype(arr.dtype):
        raise TypeError(f"{name} must be a real-valued array, not an array of dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] != n_inputs:
        raise ValueError(f"{name} must have shape (samples, {n_inputs}) with at least one "
                         f"sample, not {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold only finite values")
    return arr


def check_int(name, value, *, lo=None, hi=None):
    """Validate a scalar integer parameter and return it as a Python ``int``.

    Raises :class:`TypeError` for a non-integer (``bool`` included) and
    :class:`ValueError` for a value outside ``[lo, hi]``; both messages name
    the parameter and the value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    value = int(value)
    if lo is not None and value < lo:
        if hi is None:
            raise ValueError(f"{name} must be at least {lo}, not {value!r}")
        raise ValueError(f"{name} must be in the range [{lo}, {hi}], not {value!r}")
    if hi is not None and value > hi:
        if lo is None:
            raise ValueError(f"{name} must be at most {hi}, not {value!r}")
        raise ValueError(f"{name} must be in the range [{lo}, {hi}], not {value!r}")
    return value


def check_int_array(name, array, bits, *, signed=True, ndim=None):
    """Validate that ``array`` holds integers representable in ``bits`` bits.

    Returns the values as an ``int64`` array. Floats are rejected even when
    they hold whole numbers: nothing on the bit-exact path is silently rounded.
    """
    arr = np.asarray(array)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array, not an array of dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), not shape {arr.shape}")
    lo, hi = int_range(bits, signed=signed)
    if arr.size:
        amin, amax = int(arr.min()), int(arr.max())
        if amin < lo or amax > hi:
            bad = amin if amin < lo else amax
            kind = "signed" if signed else "unsigned"
            raise ValueError(
                f"{name} must fit in {bits}-bit {kind} range [{lo}, {hi}], "
                f"but holds {bad}")
    if arr.dtype == np.uint64:
        _int_values(name, arr)  # a width of 64 bits or more admits values int64 cannot hold
    return arr.astype(np.int64)


def _check_width(name, bits):
    """A width on the ``int64`` path: 1 to 63 bits, so its range and its mask fit ``int64``."""
    return check_int(name, bits, lo=1, hi=_INT64_BITS - 1)


def _check_shift(name, shift):
    """A shift or a count of fractional bits: 0 to :data:`MAX_ACC_BITS`."""
    return check_int(name, shift, lo=0, hi=MAX_ACC_BITS)


def _int_values(name, x):
    """``x`` as ``int64`` values; anything but integers is an error, never rounded.

    Raises :class:`TypeError` for floats, complex numbers, booleans, strings and
    objects, and :class:`ValueError` for integers that do not fit ``int64``.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind == "i":
        return arr.astype(np.int64, copy=False)
    if kind == "u":
        if arr.dtype.itemsize == 8 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise ValueError(f"{name} must fit in {_INT64_BITS}-bit signed integers, "
                             f"but holds {int(arr.max())}")
        return arr.astype(np.int64)
    if kind == "O" and arr.size and all(type(v) is int for v in arr.flat):
        # Python integers too wide for int64 become an object array.
        lo, hi = int_range(_INT64_BITS)
        bad = next(v for v in arr.flat if not lo <= v <= hi)
        raise ValueError(f"{name} must fit in {_INT64_BITS}-bit signed integers, but holds {bad}")
    if arr.ndim == 0:
        raise TypeError(f"{name} must be an integer, not {x!r}")
    raise TypeError(f"{name} must be an integer array, not an array of dtype {arr.dtype}")


def wrap(x, bits):
    """Two's-complement wrap of ``x`` to ``bits`` bits (what a ``bits``-wide adder does).

    ``x`` holds integers (floats are an error, not truncated); ``bits`` is 1 to 63.
    """
    bits = _check_width("bits", bits)
    x = _int_values("x", x)
    mask = np.int64((1 << bits) - 1)
    half = np.int64(1 << (bits - 1))
    return ((x + half) & mask) - half


def saturate(x, bits):
    """Clamp integers ``x`` to the signed ``bits``-bit range (``bits`` 1 to 63).

    Floats are an error, not truncated: quantize real values with :func:`to_fixed`.
    """
    bits = _check_width("bits", bits)
    x = _int_values("x", x)
    lo, hi = int_range(bits)
    return np.clip(x, lo, hi)


def round_shift_right(x, shift):
    """Arithmetic shift right by ``shift`` with round-half-up.

    ``1 << (shift - 1)`` is added before the shift, at full precision, so
    ``x = k + 0.5`` (in units of ``2**shift``) rounds to ``k + 1`` for both signs
    (round half towards positive infinity). ``shift = 0`` returns ``x``. ``x``
    holds integers; ``shift`` is 0 to :data:`MAX_ACC_BITS`.
    """
    shift = _check_shift("shift", shift)
    x = _int_values("x", x)
    if shift == 0:
        return x.copy()
    return (x + np.int64(1 << (shift - 1))) >> np.int64(shift)


def requantize(acc, shift, *, out_bits=ACT_BITS, relu=False):
    """Turn accumulator values into output activations.

    Round-half-up shift right by ``shift``, saturate to signed ``out_bits``,
    then ReLU if ``relu``. Returns an ``int64`` array whose values lie in the
    ``out_bits`` signed range. ``acc`` holds integers: a float accumulator is
    an error, not truncated before the rounding.
    """
    acc = _int_values("acc", acc)
    shift = _check_shift("shift", shift)
    out_bits = _check_width("out_bits", out_bits)
    if not isinstance(relu, (bool, np.bool_)):
        raise TypeError(f"relu must be a bool, not {relu!r}")
    y = saturate(round_shift_right(acc, shift), out_bits)
    if relu:
        y = np.maximum(y, 0)
    return y


def to_fixed(x, frac_bits, *, bits=ACT_BITS):
    """Quantize real values to signed fixed point: round half up, then saturate.

    This is the entry point from floating-point data (trained weights, input
    features) into the integer formats; it is the only place floats appear.
    ``x`` holds finite real numbers (integers or floats; complex numbers,
    booleans and strings are an error); ``frac_bits`` is 0 to
    :data:`MAX_ACC_BITS` and ``bits`` 1 to 63.
    """
    frac_bits = _check_shift("frac_bits", frac_bits)
    bits = _check_width("bits", bits)
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        if arr.ndim == 0:
            raise TypeError(f"x must be a real number, not {x!r}")
        raise TypeError(f"x must be an array of real numbers, not an array of dtype "
                        f"{arr.dtype}")
    x = arr.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("x must hold only finite values")
    # A value too large for the scaling becomes infinite, which saturates like any other.
    with np.errstate(over="ignore"):
        scaled = np.floor(x * float(1 << frac_bits) + 0.5)
    lo, hi = int_range(bits)
    return np.clip(scaled, lo, hi).astype(np.int64)


def from_fixed(q, frac_bits):
    """Real value of fixed-point integers ``q`` with ``frac_bits`` fractional bits."""
    frac_bits = _check_shift("frac_bits", frac_bits)
    return _int_values("q", q).astype(np.float64) / float(1 << frac_bits)
