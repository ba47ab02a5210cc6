"""Functional (bit-exact) model of the N:M structured-sparse MAC unit and tile.

The model is the specification the RTL in ``hw/sparse_nm`` is checked against.
A dot product of one compressed row with a dense activation vector is:

1. for every group ``g`` and kept entry ``j``, select the activation at
   position ``g * m + indices[g, j]`` (what the RTL's index multiplexers do);
2. multiply it by ``values[g, j]``: an exact ``act_bits + w_bits`` product;
3. sum all products into an ``acc_bits`` two's-complement accumulator that
   **wraps** (:func:`sw_model.fixed.wrap`); because wrapping is addition modulo
   ``2**acc_bits``, the order of the additions (adder tree, beats) does not
   change the result;
4. requantize: ``requantize(acc, w_frac_bits, out_bits=act_bits, relu=relu)``
   (round half up, saturate, optional ReLU; :func:`sw_model.fixed.requantize`).

Every function takes the :class:`sw_model.config.SparseMacConfig` that the RTL is
built from, so widths and the pattern come from one place.
"""

import numpy as np

from .config import SparseMacConfig
from .fixed import check_int_array, requantize, wrap
from .nm_format import _check_compressed

__all__ = ["nm_accumulate", "nm_dot", "nm_matvec_acc", "nm_matvec"]


def _check_operands(values, indices, acts, config, *, row_ndim):
    if not isinstance(config, SparseMacConfig):
        raise TypeError(f"config must be a SparseMacConfig, not {config!r}")
    values, indices = _check_compressed(values, indices, config.m)
    if values.ndim != row_ndim:
        raise ValueError(
            f"values must have {row_ndim} dimensions, not shape {values.shape}")
    if values.shape[-1] != config.n:
        raise ValueError(
            f"values must hold n = {config.n} entries per group, not {values.shape[-1]}")
    check_int_array("values", values, config.w_bits)
    acts = check_int_array("acts", acts, config.act_bits, ndim=1)
    k = values.shape[-2] * config.m
    if acts.shape[0] != k:
        raise ValueError(
            f"acts must have {k} elements ({values.shape[-2]} groups of {config.m}), "
            f"not {acts.shape[0]}")
    return values, indices, acts


def _products(values, indices, acts, m):
    groups = acts.reshape(-1, m)
    selected = np.take_along_axis(
        np.broadcast_to(groups, values.shape[:-1] + (m,)), indices, axis=-1)
    # |product| < 2**61 since act_bits + w_bits <= acc_bits <= 62: exact in int64.
    return values * selected


def _wrapped_sum(products, acc_bits):
    # int64 sums are exact modulo 2**64, and 2**acc_bits divides 2**64, so
    # wrapping after the (possibly overflowing) sum equals wrapping every step.
    with np.errstate(over="ignore"):
        total = products.reshape(*products.shape[:-2], -1).sum(axis=-1, dtype=np.int64)
    return wrap(total, acc_bits)


def nm_accumulate(values, indices, acts, config):
    """Wrapped accumulator of one compressed row dotted with ``acts`` (an ``int``).

    ``values`` and ``indices`` have shape ``(K // m, n)``; ``acts`` has ``K``
    signed ``act_bits`` elements.
    """
    values, indices, acts = _check_operands(values, indices, acts, config, row_ndim=2)
    return int(_wrapped_sum(_products(values, indices, acts, config.m), config.acc_bits))


def nm_dot(values, indices, acts, config):
    """Requantized output of one compressed row dotted with ``acts`` (an ``int``)."""
    acc = nm_accumulate(values, indices, acts, config)
    return int(requantize(acc, config.w_frac_bits, out_bits=config.out_bits, relu=config.relu))


def nm_matvec_acc(values, indices, x, config):
    """Wrapped accumulators of ``W x`` for a compressed ``W`` of shape ``(rows, K // m, n)``.

    Returns an ``int64`` array of ``rows`` values.
    """
    values, indices, x = _check_operands(values, indices, x, config, row_ndim=3)
    return _wrapped_sum(_products(values, indices, x, config.m), config.acc_bits)


def nm_matvec(values, indices, x, config):
    """Requantized ``y = W x`` (``int64``, ``rows`` values in the ``act_bits`` range)."""
    acc = nm_matvec_acc(values, indices, x, config)
    return requantize(acc, config.w_frac_bits, out_bits=config.out_bits, relu=config.relu)
