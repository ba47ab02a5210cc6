"""Compression of a pruned network for the EIE array, and the compiled folder it goes into.

The order is the house rule: the configuration is decided first, from the
pruned matrices (:func:`sw_model.eie_format.fit_config` sizes the memories and
the layer table for the user's PE count and queue depth), and the data are
encoded for it: weight sharing quantizes the codebooks with that
configuration's ``w_frac_bits`` and :func:`sw_model.eie_format.encode` lays the
entries out for its PEs and memory words. A layer's bias is its matrix's last
column (:func:`sw_model.eie_format.append_bias_column`): it is counted by
``fit_config``, shares the layer's codebook with the weights and is encoded
in the same stream, with ``bias=True`` telling the layer which column it is.

A compiled folder holds ``design.v`` and ``design.json`` (the Verilog with the
layers baked into its memories, and its side-car with the typed configuration
and timing), ``model.npz`` (the encoded layers, :func:`layers_to_arrays`) and
the report. ``zeroskip simulate`` and ``zeroskip synth`` read it back with
:func:`load_compiled`.
"""

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw.generate import Design, load_sidecar
from sw_model.codebook import share_weights
from sw_model.config import EieConfig
from sw_model.eie_format import (
    check_bias_flags,
    encode,
    fit_config,
    layers_from_arrays,
    layers_to_arrays,
)

from .errors import UserError

__all__ = [
    "DESIGN_NAME", "MODEL_FILE", "Compressed", "Compiled", "check_network_fits", "compress",
    "eie_design", "write_compiled", "load_compiled",
]

#: File stem of the design in a compiled folder (``design.v``, ``design.json``).
DESIGN_NAME = "design"
#: The encoded layers in a compiled folder.
MODEL_FILE = "model.npz"


@dataclass(frozen=True)
class Compressed:
    """A network in EIE's format and the configuration it was encoded for.

    ``layers``: ``[(EieLayer, relu)]``, ReLU after every layer but the last;
    ``config``: the :class:`~sw_model.config.EieConfig`; ``sharing``: the
    report of :func:`~sw_model.codebook.share_weights` per layer (its error
    covers the weights and the bias column together).
    """

    layers: list
    config: EieConfig
    sharing: list

    @property
    def bias(self):
        """Whether each layer has a bias (its last column), as a tuple of ``bool``."""
        return tuple(layer.bias for layer, _ in self.layers)

    def summary(self):
        """Sizes of the stored model against dense float32, per layer and in total.

        Dense float32 counts every column, the biases included.
        """
        summaries = [layer.summary(ptr_bits=self.config.ptr_bits) for layer, _ in self.layers]
        stored = sum(s["memory_bits"] for s in summaries)
        dense = 32 * sum(s["n_rows"] * s["n_cols"] for s in summaries)
        keys = ("n_rows", "n_cols", "n_inputs", "bias", "nnz", "density", "entries",
                "padding", "matrix_bits", "pointer_bits", "codebook_bits", "load_balance",
                "entries_per_pe")
        return {
            "dense_float32_bits": dense, "stored_bits": stored, "ratio": dense / stored,
            "layers": [{k: s[k] for k in keys} | {"rms_error": r["rms_error"]}
                       for s, r in zip(summaries, self.sharing, strict=True)],
        }


@dataclass(frozen=True)
class Compiled:
    """A compiled folder read back: the design's side-car and the encoded layers."""

    folder: Path
    design: object
    layers: list

    @property
    def sidecar(self):
        """Path of ``design.json``."""
        return self.folder / f"{DESIGN_NAME}.json"


def check_network_fits(weights, *, n_pe, queue_depth, source):
    """Raise :class:`UserError` unless an EIE array of ``n_pe`` PEs can be sized for ``weights``.

    What depends only on the layers' shapes is checked before any work: the
    layer table, the activation memories and the column pointers that
    :func:`~sw_model.eie_format.fit_config` sizes, against the limits of
    :class:`~sw_model.config.EieConfig`. ``source`` names the network in the
    message (``"weights file 'net.npz'"``).
    """
    shapes = [np.zeros(np.shape(w), dtype=np.int8) for w in weights]
    try:
        fit_config(shapes, EieConfig(n_pe=n_pe, queue_depth=queue_depth))
    except ValueError as exc:
        raise UserError(f"{source} does not fit an EIE array of {n_pe} PEs "
                        f"({len(shapes)} layers): {exc}") from None


def compress(weights, *, n_pe, queue_depth, bias=None):
    """Share and encode pruned float ``weights`` for ``n_pe`` PEs; a :class:`Compressed`.

    The configuration's memories fit exactly these layers, stored together
    and run as a chain on chip. ``bias`` (one ``bool`` per layer, ``None`` for
    none) marks the matrices whose last column is a bias.
    """
    bias = check_bias_flags(bias, len(weights))
    config = fit_config(list(weights), EieConfig(n_pe=n_pe, queue_depth=queue_depth))
    layers, sharing = [], []
    for i, (w, has_bias) in enumerate(zip(weights, bias, strict=True)):
        indices, codebook, report = share_weights(w, w_frac_bits=config.w_frac_bits)
        layers.append((encode(indices, codebook, config=config, bias=has_bias),
                       i < len(weights) - 1))
        sharing.append(report)
    return Compressed(layers=layers, config=config, sharing=sharing)


def eie_design(layers, config, *, family=None):
    """The EIE array built with ``config``, ``layers`` baked into its memories; a ``Design``.

    ``family``: the FPGA family of its primitives (:mod:`hw.primitives`;
    ``None``, the generic version, is what simulates).
    """
    from hw.eie.array import EieArray
    from hw.eie.program import EieProgram

    top = EieArray(config=config, program=EieProgram(layers, config=config), family=family)
    return Design(name=DESIGN_NAME, top=top)


def write_compiled(folder, compressed):
    """Write the design and the model into ``folder``; return the ``Design``."""
    folder = Path(folder)
    design = eie_design(compressed.layers, compressed.config)
    design.write(folder)
    np.savez_compressed(folder / MODEL_FILE, **layers_to_arrays(compressed.layers))
    return design


def load_compiled(folder):
    """Read a compiled folder back as a :class:`Compiled`; :class:`UserError` if it is not one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"compiled folder {str(folder)!r} does not exist (make one with "
                        f"`zeroskip compile WEIGHTS --out {folder}`)")
    try:
        info = load_sidecar(folder / f"{DESIGN_NAME}.json")
    except ValueError as exc:
        raise UserError(f"{exc}; is {str(folder)!r} a folder written by `zeroskip compile`?") \
            from None
    if info.engine != "eie":
        raise UserError(f"{str(folder)!r} holds a {info.engine} design, not an EIE array")
    if not info.verilog.exists():
        raise UserError(f"compiled folder {str(folder)!r} lacks {info.verilog.name}")
    model = folder / MODEL_FILE
    try:
        with np.load(model, allow_pickle=False) as arrays:
            layers = layers_from_arrays(arrays)
    except FileNotFoundError:
        raise UserError(f"compiled folder {str(folder)!r} lacks {MODEL_FILE}") from None
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise UserError(f"model file {str(model)!r} is not a compiled zeroskip model: "
                        f"{exc}") from None
    for i, (layer, _) in enumerate(layers):
        if layer.n_pe != info.config.n_pe:
            raise UserError(f"model file {str(model)!r}: layer {i} is encoded for "
                            f"{layer.n_pe} PEs, but the design has {info.config.n_pe}")
    return Compiled(folder=folder, design=info, layers=layers)
