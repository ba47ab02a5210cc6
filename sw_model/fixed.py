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
    "check_int",
    "check_int_array",
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


def int_range(bits, *, signed=True):
    """Return ``(lo, hi)``, the inclusive range of a ``bits``-wide integer."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


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
    return arr.astype(np.int64)


def wrap(x, bits):
    """Two's-complement wrap of ``x`` to ``bits`` bits (what a ``bits``-wide adder does)."""
    x = np.asarray(x, dtype=np.int64)
    mask = np.int64((1 << bits) - 1)
    half = np.int64(1 << (bits - 1))
    return ((x + half) & mask) - half


def saturate(x, bits):
    """Clamp ``x`` to the signed ``bits``-bit range."""
    lo, hi = int_range(bits)
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi)


def round_shift_right(x, shift):
    """Arithmetic shift right by ``shift`` with round-half-up.

    ``1 << (shift - 1)`` is added before the shift, at full precision, so
    ``x = k + 0.5`` (in units of ``2**shift``) rounds to ``k + 1`` for both signs
    (round half towards positive infinity). ``shift = 0`` returns ``x``.
    """
    x = np.asarray(x, dtype=np.int64)
    if shift == 0:
        return x.copy()
    return (x + np.int64(1 << (shift - 1))) >> np.int64(shift)


def requantize(acc, shift, *, out_bits=ACT_BITS, relu=False):
    """Turn accumulator values into output activations.

    Round-half-up shift right by ``shift``, saturate to signed ``out_bits``,
    then ReLU if ``relu``. Returns an ``int64`` array whose values lie in the
    ``out_bits`` signed range.
    """
    y = saturate(round_shift_right(acc, shift), out_bits)
    if relu:
        y = np.maximum(y, 0)
    return y


def to_fixed(x, frac_bits, *, bits=ACT_BITS):
    """Quantize real values to signed fixed point: round half up, then saturate.

    This is the entry point from floating-point data (trained weights, input
    features) into the integer formats; it is the only place floats appear.
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("x must hold only finite values")
    scaled = np.floor(x * float(1 << frac_bits) + 0.5)
    lo, hi = int_range(bits)
    return np.clip(scaled, lo, hi).astype(np.int64)


def from_fixed(q, frac_bits):
    """Real value of fixed-point integers ``q`` with ``frac_bits`` fractional bits."""
    return np.asarray(q, dtype=np.float64) / float(1 << frac_bits)
