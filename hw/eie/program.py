"""Host protocol of the EIE array and the memory image of a chain of layers.

:class:`EieProgram` lays a chain of encoded layers out in the PEs' memories
(the layout of :func:`sw_model.eie_format.memory_layout`) and produces either
the host commands that load it or the per-PE images that bake it into the
bitstream. ``docs/eie.md`` describes the commands for users of the Verilog.
"""

import enum

import numpy as np

from sw_model.eie_format import CODEBOOK_SIZE, EieLayer, check_fits, memory_layout

from .blocks import check_config
from .pe import PeImage

__all__ = ["Op", "LayerField", "Counter", "LAYER_STRIDE", "EieProgram"]


class Op(enum.IntEnum):
    """Host command opcodes (the ``op`` field of a command)."""

    NOP = 0
    #: ``addr = slot * 16 + index``, ``data`` = signed 16-bit weight; all PEs.
    WRITE_CODEBOOK = 1
    #: ``pe``, ``addr`` = pointer address (bank ``addr % 2``), ``data`` = pointer.
    WRITE_PTR = 2
    #: ``pe``, ``addr`` = matrix word address, ``data`` = word.
    WRITE_MATRIX = 3
    #: ``pe``, ``addr`` = layer, ``data`` = that layer's first matrix word in the PE.
    WRITE_MAT_BASE = 4
    #: ``addr = layer * LAYER_STRIDE + field`` (:class:`LayerField`), ``data``.
    WRITE_LAYER = 5
    #: ``pe``, ``addr`` = local address, ``data`` = activation; into bank 0.
    WRITE_ACT = 6
    #: ``pe``, ``addr``: one response with the activation of the last run's output bank.
    READ_ACT = 7
    #: ``data`` = number of layers; one response with the run's cycles when done.
    RUN = 8
    #: ``pe``, ``addr`` = :class:`Counter`: one response with the counter.
    READ_COUNTER = 9


class LayerField(enum.IntEnum):
    """Fields of a layer-table entry."""

    N_IN = 0
    N_OUT = 1
    PTR_BASE = 2
    CB_SLOT = 3
    RELU = 4


class Counter(enum.IntEnum):
    """Counters readable with :attr:`Op.READ_COUNTER`."""

    CYCLES = 0
    BUSY = 1
    STALL = 2


#: Addresses per layer-table entry in :attr:`Op.WRITE_LAYER`.
LAYER_STRIDE = 8


class EieProgram:
    """A chain of ``(EieLayer, relu)`` layers laid out for an EIE array.

    Raises :class:`ValueError` (from :func:`~sw_model.eie_format.check_fits`)
    if the layers do not fit ``config``'s memories or were encoded for a
    different number of PEs or entries per word. Layer ``i`` uses codebook
    slot ``i``.
    """

    def __init__(self, layers_relus, *, config):
        cfg = self.config = check_config(config)
        items = list(layers_relus)
        for i, item in enumerate(items):
            if not (isinstance(item, tuple) and len(item) == 2
                    and isinstance(item[0], EieLayer) and isinstance(item[1], bool)):
                raise TypeError(
                    f"layers_relus[{i}] must be an (EieLayer, bool) pair, not {item!r}")
        for i in range(1, len(items)):
            if items[i][0].n_cols != items[i - 1][0].n_rows:
                raise ValueError(
                    f"Layer {i} has {items[i][0].n_cols} inputs, but layer {i - 1} has "
                    f"{items[i - 1][0].n_rows} outputs")
        check_fits(items, cfg)
        self.layers = items
        layout = memory_layout(items, cfg)
        self.table = [
            {
                LayerField.N_IN: layer.n_cols,
                LayerField.N_OUT: layer.n_rows,
                LayerField.PTR_BASE: place["ptr_base"],
                LayerField.CB_SLOT: i,
                LayerField.RELU: int(relu),
            }
            for i, ((layer, relu), place) in enumerate(zip(items, layout, strict=True))
        ]
        self.codebook = np.zeros(cfg.max_layers * CODEBOOK_SIZE, dtype=np.int64)
        for i, (layer, _) in enumerate(items):
            self.codebook[i * CODEBOOK_SIZE:(i + 1) * CODEBOOK_SIZE] = layer.codebook
        self.ptr = np.zeros((cfg.n_pe, cfg.ptr_depth), dtype=np.int64)
        self.matrix = [np.zeros(cfg.matrix_depth, dtype=np.uint64) for _ in range(cfg.n_pe)]
        self.mat_base = np.zeros((cfg.n_pe, cfg.max_layers), dtype=np.int64)
        self.ptr_used = layout[-1]["ptr_base"] + layout[-1]["ptr_len"]
        self.words_used = [0] * cfg.n_pe
        for i, ((layer, _), place) in enumerate(zip(items, layout, strict=True)):
            base = place["ptr_base"]
            self.ptr[:, base:base + layer.n_cols + 1] = layer.ptr
            for pe in range(cfg.n_pe):
                words = layer.words(pe)
                start = place["matrix_base"][pe]
                self.matrix[pe][start:start + words.shape[0]] = words
                self.mat_base[pe, i] = start
                self.words_used[pe] = start + words.shape[0]

    @property
    def n_layers(self):
        """Layers in the chain."""
        return len(self.layers)

    def images(self):
        """Per-PE :class:`~hw.eie.pe.PeImage` to bake the program into the memories."""
        cfg = self.config
        return [
            PeImage(ptr=self.ptr[pe], matrix=self.matrix[pe], mat_base=self.mat_base[pe],
                    codebook=self.codebook)
            for pe in range(cfg.n_pe)
        ]

    def load_commands(self):
        """Host commands ``(op, pe, addr, data)`` that load the whole program."""
        cfg = self.config
        mask16 = (1 << cfg.w_bits) - 1
        cmds = []
        for addr in range(self.n_layers * CODEBOOK_SIZE):
            cmds.append((Op.WRITE_CODEBOOK, 0, addr, int(self.codebook[addr]) & mask16))
        for i, entry in enumerate(self.table):
            for field, value in entry.items():
                cmds.append((Op.WRITE_LAYER, 0, i * LAYER_STRIDE + field, int(value)))
        for pe in range(cfg.n_pe):
            for i in range(self.n_layers):
                cmds.append((Op.WRITE_MAT_BASE, pe, i, int(self.mat_base[pe, i])))
            for addr in range(self.ptr_used):
                cmds.append((Op.WRITE_PTR, pe, addr, int(self.ptr[pe, addr])))
            for addr in range(self.words_used[pe]):
                cmds.append((Op.WRITE_MATRIX, pe, addr, int(self.matrix[pe][addr])))
        return cmds

    def input_commands(self, acts):
        """Host commands that write the first layer's input activations."""
        cfg = self.config
        mask = (1 << cfg.act_bits) - 1
        return [(Op.WRITE_ACT, j % cfg.n_pe, j // cfg.n_pe, int(a) & mask)
                for j, a in enumerate(np.asarray(acts))]

    def output_commands(self):
        """Host commands that read the last layer's outputs (one response each)."""
        n_out = self.layers[-1][0].n_rows
        n_pe = self.config.n_pe
        return [(Op.READ_ACT, i % n_pe, i // n_pe, 0) for i in range(n_out)]
