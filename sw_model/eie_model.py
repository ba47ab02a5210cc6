"""Functional (bit-exact) model of an EIE PE array.

The model reads the encoded entries of an :class:`~sw_model.eie_format.EieLayer`
the way the hardware does: for every nonzero input activation ``a_j`` it walks
column ``j`` of every PE's entry stream, turns ``z`` runs into local rows and
adds ``codebook[v] * a_j`` to that row's accumulator. Columns of zero
activations are never read, and padding entries (``v = 0``) add
``codebook[0] = 0``. The model does not count cycles; that is
:mod:`sw_model.eie_cycles`.

Arithmetic (see :mod:`sw_model.fixed` and ``docs/formats.md``): activations and
shared weights are signed 16-bit, every product is exact, the accumulator is an
``acc_bits`` wide two's-complement register that wraps, and an output is the
accumulator shifted right by ``w_frac_bits`` with round-half-up, saturated to 16
bits and optionally passed through ReLU.

A layer with a bias (``EieLayer.bias``) takes ``n_inputs = n_cols - 1``
activations from the caller; its last column is the bias column, whose
activation is the constant 1.0 in the activation format,
:func:`bias_activation` (``1 << act_frac_bits``). Being nonzero, that column is
always walked, so every output gets ``bias * 2**act_frac_bits`` added to its
accumulator before requantization.
"""

import numpy as np

from .config import EieConfig
from .eie_format import EieLayer
from .fixed import (
    ACT_BITS,
    MAX_ACC_BITS,
    PROD_BITS,
    W_BITS,
    check_int,
    check_int_array,
    requantize,
    wrap,
)

__all__ = ["check_acts", "bias_activation", "eie_layer", "eie_layer_sums", "eie_chain"]


def check_acts(acts, n_inputs):
    """Validate an input activation vector for a layer with ``n_inputs`` inputs.

    ``n_inputs`` is what the caller supplies (``EieLayer.n_inputs``: without
    the bias column). Returns the vector as ``int64``; raises if it is not a
    1-D integer vector of length ``n_inputs`` within the signed 16-bit range.
    """
    acts = check_int_array("acts", acts, ACT_BITS, ndim=1)
    if acts.shape[0] != n_inputs:
        raise ValueError(f"acts must have length {n_inputs} (the layer's inputs), "
                         f"not {acts.shape[0]}")
    return acts


def bias_activation(act_frac_bits):
    """The bias column's constant activation, 1.0 with ``act_frac_bits`` fractional bits.

    ``1 << act_frac_bits``; it must fit a signed 16-bit activation, so
    ``act_frac_bits`` is at most 14 (1.0 has no 16-bit form with 15 fractional
    bits and is not rounded or saturated to a nearby value).
    """
    act_frac_bits = check_int("act_frac_bits", act_frac_bits, lo=0, hi=ACT_BITS - 1)
    if act_frac_bits > ACT_BITS - 2:
        raise ValueError(
            f"act_frac_bits must be at most {ACT_BITS - 2} for a layer with a bias (its "
            f"constant activation 1.0 = 1 << act_frac_bits must fit {ACT_BITS} bits), "
            f"not {act_frac_bits}")
    return 1 << act_frac_bits


def _check_relu(relu):
    if not isinstance(relu, (bool, np.bool_)):
        raise TypeError(f"relu must be a bool, not {relu!r}")
    return bool(relu)


def eie_layer(layer, acts, *, acc_bits=40, w_frac_bits=12, act_frac_bits=8, relu=False):
    """Output activations of one layer, ``requantize(wrap(W @ acts))``, as ``int64``.

    Parameters
    ----------
    layer : EieLayer
        The encoded weight matrix, ``(n_rows, n_cols)``.
    acts : array of int, shape (n_inputs,)
        Input activations, signed 16-bit: ``layer.n_inputs`` of them. For a
        layer with a bias, :func:`bias_activation` is appended as the bias
        column's activation, so ``W @ concat(acts, [1 << act_frac_bits])``.
    acc_bits : int
        Width of the wrapping accumulator (32 .. 62).
    w_frac_bits : int
        Fractional bits of the shared weights: the requantization shift.
    act_frac_bits : int
        Fractional bits of the activations (0 .. 15; at most 14 for a layer
        with a bias): it sets the bias column's constant 1.0.
    relu : bool
        Apply ReLU to the outputs.
    """
    acc_bits = check_int("acc_bits", acc_bits, lo=PROD_BITS, hi=MAX_ACC_BITS)
    w_frac_bits = check_int("w_frac_bits", w_frac_bits, lo=0, hi=W_BITS - 1)
    relu = _check_relu(relu)
    acc = eie_layer_sums(layer, acts, act_frac_bits=act_frac_bits)
    return requantize(wrap(acc, acc_bits), w_frac_bits, relu=relu)


def eie_layer_sums(layer, acts, *, act_frac_bits=8):
    """The exact (unwrapped) sums ``W @ acts`` of one layer, as ``int64``.

    What :func:`eie_layer` wraps to ``acc_bits`` and requantizes; the
    arguments are those of :func:`eie_layer`.
    """
    if not isinstance(layer, EieLayer):
        raise TypeError(f"layer must be an EieLayer, not {layer!r}")
    acts = check_acts(acts, layer.n_inputs)
    act_frac_bits = check_int("act_frac_bits", act_frac_bits, lo=0, hi=ACT_BITS - 1)
    if layer.bias:
        acts = np.append(acts, np.int64(bias_activation(act_frac_bits)))

    # The hardware broadcasts only nonzero activations; each PE then walks the
    # entries of that column, from p_j to p_{j+1}.
    live_cols = np.flatnonzero(acts)
    acc = np.zeros(layer.n_rows, dtype=np.int64)
    for pe in range(layer.n_pe):
        starts = layer.ptr[pe, live_cols]
        lengths = layer.ptr[pe, live_cols + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            continue
        # Entry numbers of the walked columns, in walking order.
        first = np.cumsum(lengths) - lengths
        walked = np.repeat(starts - first, lengths) + np.arange(total)
        # Local row of each entry: running sum of z + 1 restarted per column,
        # as the PE's address accumulator computes it.
        steps = np.cumsum(layer.z[pe][walked].astype(np.int64) + 1)
        col_base = np.concatenate(([0], steps))[first]
        rows = steps - np.repeat(col_base, lengths) - 1
        # Padding entries (v = 0) multiply codebook[0] = 0 and add nothing.
        products = layer.codebook[layer.v[pe][walked]] * np.repeat(acts[live_cols], lengths)
        local = np.zeros(layer.local_rows(pe), dtype=np.int64)
        # Exact int64 sums: a product is at most 2**30 in magnitude, so even
        # 2**32 of them cannot overflow int64. Wrapping to acc_bits is
        # arithmetic modulo 2**acc_bits, so wrapping once at the end equals
        # wrapping after every addition, in any order, as the hardware does.
        np.add.at(local, rows, products)
        acc[pe::layer.n_pe] = local
    return acc


def eie_chain(layers_relus, acts, *, config):
    """Run a chain of layers, each layer's output feeding the next one.

    ``layers_relus`` is a sequence of ``(EieLayer, relu)`` pairs; ``config`` (an
    :class:`~sw_model.config.EieConfig`) supplies ``acc_bits``, ``w_frac_bits``
    and ``act_frac_bits``. ``acts`` has layer 0's ``n_inputs`` activations, and
    each layer's ``n_inputs`` equals the previous layer's outputs: a bias
    column's constant is supplied for every layer that has one, the first or a
    chained one. Returns the list of every layer's output (``int64``
    vectors). Whether the layers fit the configuration's memories is a separate
    question: see :func:`sw_model.eie_format.check_fits`.
    """
    if not isinstance(config, EieConfig):
        raise TypeError(f"config must be an EieConfig, not {config!r}")
    layers_relus = list(layers_relus)
    if not layers_relus:
        raise ValueError("layers_relus must hold at least one (EieLayer, relu) pair")
    for i, item in enumerate(layers_relus):
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], EieLayer)):
            raise TypeError(f"layers_relus[{i}] must be an (EieLayer, relu) pair, not {item!r}")
        if i and item[0].n_inputs != layers_relus[i - 1][0].n_rows:
            column = " and a bias column" if item[0].bias else ""
            raise ValueError(
                f"Layer {i} has {item[0].n_inputs} inputs{column}, but layer {i - 1} has "
                f"{layers_relus[i - 1][0].n_rows} outputs")
    outputs = []
    x = acts
    for layer, relu in layers_relus:
        x = eie_layer(layer, x, acc_bits=config.acc_bits, w_frac_bits=config.w_frac_bits,
                      act_frac_bits=config.act_frac_bits, relu=relu)
        outputs.append(x)
    return outputs
