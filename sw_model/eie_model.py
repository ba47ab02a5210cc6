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
"""

import numpy as np

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

__all__ = ["check_acts", "eie_layer", "eie_chain"]


def check_acts(acts, n_cols):
    """Validate an input activation vector for a layer with ``n_cols`` inputs.

    Returns it as ``int64``; raises if it is not a 1-D integer vector of length
    ``n_cols`` within the signed 16-bit range.
    """
    acts = check_int_array("acts", acts, ACT_BITS, ndim=1)
    if acts.shape[0] != n_cols:
        raise ValueError(f"acts must have length {n_cols} (the layer's inputs), "
                         f"not {acts.shape[0]}")
    return acts


def _check_relu(relu):
    if not isinstance(relu, (bool, np.bool_)):
        raise TypeError(f"relu must be a bool, not {relu!r}")
    return bool(relu)


def eie_layer(layer, acts, *, acc_bits=40, w_frac_bits=12, relu=False):
    """Output activations of one layer, ``requantize(wrap(W @ acts))``, as ``int64``.

    Parameters
    ----------
    layer : EieLayer
        The encoded weight matrix, ``(n_rows, n_cols)``.
    acts : array of int, shape (n_cols,)
        Input activations, signed 16-bit.
    acc_bits : int
        Width of the wrapping accumulator (32 .. 62).
    w_frac_bits : int
        Fractional bits of the shared weights: the requantization shift.
    relu : bool
        Apply ReLU to the outputs.
    """
    if not isinstance(layer, EieLayer):
        raise TypeError(f"layer must be an EieLayer, not {layer!r}")
    acts = check_acts(acts, layer.n_cols)
    acc_bits = check_int("acc_bits", acc_bits, lo=PROD_BITS, hi=MAX_ACC_BITS)
    w_frac_bits = check_int("w_frac_bits", w_frac_bits, lo=0, hi=W_BITS - 1)
    relu = _check_relu(relu)

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
    return requantize(wrap(acc, acc_bits), w_frac_bits, relu=relu)


def eie_chain(layers_relus, acts, *, config):
    """Run a chain of layers, each layer's output feeding the next one.

    ``layers_relus`` is a sequence of ``(EieLayer, relu)`` pairs; ``config`` (an
    :class:`~sw_model.config.EieConfig`) supplies ``acc_bits`` and
    ``w_frac_bits``. Returns the list of every layer's output (``int64``
    vectors). Whether the layers fit the configuration's memories is a separate
    question: see :func:`sw_model.eie_format.check_fits`.
    """
    layers_relus = list(layers_relus)
    if not layers_relus:
        raise ValueError("layers_relus must hold at least one (EieLayer, relu) pair")
    for i, item in enumerate(layers_relus):
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], EieLayer)):
            raise TypeError(f"layers_relus[{i}] must be an (EieLayer, relu) pair, not {item!r}")
        if i and item[0].n_cols != layers_relus[i - 1][0].n_rows:
            raise ValueError(
                f"Layer {i} has {item[0].n_cols} inputs, but layer {i - 1} has "
                f"{layers_relus[i - 1][0].n_rows} outputs")
    outputs = []
    x = acts
    for layer, relu in layers_relus:
        x = eie_layer(layer, x, acc_bits=config.acc_bits, w_frac_bits=config.w_frac_bits,
                      relu=relu)
        outputs.append(x)
    return outputs
