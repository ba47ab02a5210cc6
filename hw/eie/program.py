"""Host protocol of the EIE array and the memory image of a chain of layers.

:class:`EieProgram` lays a chain of encoded layers out in the PEs' memories
(the layout of :func:`sw_model.eie_format.memory_layout`) and produces either
the host commands that load it or the per-PE images that bake it into the
bitstream. ``docs/eie.md`` describes the commands for users of the Verilog.
"""

import enum

import numpy as np

from sw_model.eie_format import CODEBOOK_SIZE, EieLayer, check_fits, memory_layout
from sw_model.eie_model import check_acts

from .blocks import check_config
from .pe import PeImage

__all__ = ["Op", "LayerField", "Counter", "Error", "LAYER_STRIDE", "STATUS_COUNT_BITS",
           "EieProgram", "decode_status"]


class Op(enum.IntEnum):
    """Host command opcodes (the ``op`` field of a command)."""

    NOP = 0
    #: ``addr = slot * 16 + index``, ``data`` = signed 16-bit weight; all PEs.
    WRITE_CODEBOOK = 1
    #: ``pe``, ``addr`` = pointer address ``k``, ``data`` = pointers ``k`` (low
    #: ``ptr_bits``) and ``k + 1`` (next ``ptr_bits``), absolute entry indices
    #: into the PE's matrix memory.
    WRITE_PTR = 2
    #: ``pe``, ``addr`` = matrix word address, ``data`` = word.
    WRITE_MATRIX = 3
    # 4 is reserved (version 1 wrote per-layer matrix bases; pointers are absolute now).
    #: ``addr = layer * LAYER_STRIDE + field`` (:class:`LayerField`), ``data``.
    WRITE_LAYER = 5
    #: ``pe``, ``addr`` = local address, ``data`` = activation; into bank 0.
    WRITE_ACT = 6
    #: ``pe``, ``addr``: one response with the activation of the last run's output bank
    #: (before the first run after a reset, bank 0: the input written since, or 0).
    READ_ACT = 7
    #: ``data`` = number of layers; one response with the run's cycles when done.
    RUN = 8
    #: ``pe``, ``addr`` = :class:`Counter`: one response with the counter.
    READ_COUNTER = 9
    #: One response with the error status (:func:`decode_status`).
    READ_STATUS = 10
    #: Clears the error status.
    CLEAR_STATUS = 11


class Error(enum.IntEnum):
    """Why the array rejected a host command (the error status's code).

    A rejected command changes nothing but the error status; a rejected read
    or RUN still answers, with ``error`` set and ``data`` 0. ``docs/eie.md``
    lists the checks of every command.
    """

    #: No command rejected since the status was last cleared (or the reset).
    NONE = 0
    #: An opcode that is not one of :class:`Op` (4 and 12..15).
    OPCODE = 1
    #: ``pe`` is not below ``n_pe`` (commands that address one PE).
    PE = 2
    #: ``addr`` is past the memory's depth (codebook: the slot is not below
    #: ``max_layers``), names no layer field, or names no counter.
    ADDRESS = 3
    #: WRITE_LAYER: the entry is not below ``max_layers``.
    LAYER = 4
    #: ``data`` does not fit: bits above the word, a layer field out of its
    #: range, a nonzero codebook entry 0, a pointer pair out of order or past
    #: the matrix memory.
    DATA = 5
    #: RUN: 0 layers, or more than ``max_layers``.
    RUN_COUNT = 6
    #: RUN: a layer-table entry it would run was not written since the reset
    #: (a baked-in program's entries count as written).
    EMPTY_LAYER = 7
    #: RUN: no inputs written since the reset, or a previous run of two or
    #: more layers wrote its outputs over them.
    NO_INPUTS = 8


#: Bits of the error status's count of rejected commands (saturating).
STATUS_COUNT_BITS = 16


def decode_status(data):
    """The READ_STATUS response's ``data``: ``(Error, Op or int, rejected count)``.

    Bits 3:0: the first rejected command's :class:`Error` since the status was
    last cleared; bits 7:4: its opcode; bits 23:8: how many commands were
    rejected since then (saturating at ``2**16 - 1``). The bits above are 0;
    a word with one of them set is a :class:`ValueError`.
    """
    if data >> (8 + STATUS_COUNT_BITS):
        raise ValueError(f"READ_STATUS data {data:#x} has bits above bit "
                         f"{7 + STATUS_COUNT_BITS} set")
    op = (data >> 4) & 0xF
    return (Error(data & 0xF), Op(op) if op in Op._value2member_map_ else op,
            (data >> 8) & ((1 << STATUS_COUNT_BITS) - 1))


class LayerField(enum.IntEnum):
    """Fields of a layer-table entry."""

    #: Groups of ``n_pe`` columns the LNZD scans: ``ceil(n_cols / n_pe)``.
    N_GROUPS = 0
    #: Columns in the last group, 1 to ``n_pe`` (the bias column is the last).
    LAST_LANES = 1
    #: Pointer address of the layer's column 0.
    PTR_BASE = 2
    #: Codebook slot.
    CB_SLOT = 3
    #: Apply ReLU to the layer's outputs.
    RELU = 4
    #: The layer's last column is a bias column: the array feeds it 1.0.
    BIAS = 5


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
            if items[i][0].n_inputs != items[i - 1][0].n_rows:
                raise ValueError(
                    f"Layer {i} has {items[i][0].n_inputs} inputs, but layer {i - 1} has "
                    f"{items[i - 1][0].n_rows} outputs")
        check_fits(items, cfg)
        self.layers = items
        layout = memory_layout(items, cfg)
        n_pe = cfg.n_pe
        self.table = []
        for i, ((layer, relu), place) in enumerate(zip(items, layout, strict=True)):
            groups = -(-layer.n_cols // n_pe)
            self.table.append({
                LayerField.N_GROUPS: groups,
                LayerField.LAST_LANES: layer.n_cols - (groups - 1) * n_pe,
                LayerField.PTR_BASE: place["ptr_base"],
                LayerField.CB_SLOT: i,
                LayerField.RELU: int(relu),
                LayerField.BIAS: int(layer.bias),
            })
        self.codebook = np.zeros(cfg.max_layers * CODEBOOK_SIZE, dtype=np.int64)
        for i, (layer, _) in enumerate(items):
            self.codebook[i * CODEBOOK_SIZE:(i + 1) * CODEBOOK_SIZE] = layer.codebook
        # Pointers are stored absolute (entry indices into the PE's matrix
        # memory), so the PE's issue stage adds no per-layer base.
        self.ptr = np.zeros((n_pe, cfg.ptr_depth), dtype=np.int64)
        self.matrix = [np.zeros(cfg.matrix_depth, dtype=np.uint64) for _ in range(n_pe)]
        self.ptr_used = layout[-1]["ptr_base"] + layout[-1]["ptr_len"]
        self.words_used = [0] * n_pe
        for (layer, _), place in zip(items, layout, strict=True):
            base = place["ptr_base"]
            for pe in range(n_pe):
                words = layer.words(pe)
                start = place["matrix_base"][pe]
                self.ptr[pe, base:base + layer.n_cols + 1] = (
                    layer.ptr[pe] + start * cfg.entries_per_word)
                self.matrix[pe][start:start + words.shape[0]] = words
                self.words_used[pe] = start + words.shape[0]
        # Words between two layers' pointer ranges, which no column reads,
        # repeat the pointer before them: every pair written is in order (the
        # array rejects a pair whose end is below its start).
        used = self.ptr[:, :self.ptr_used]
        self.ptr[:, :self.ptr_used] = np.maximum.accumulate(used, axis=1)

    @property
    def n_layers(self):
        """Layers in the chain."""
        return len(self.layers)

    def ptr_words(self, pe):
        """PE ``pe``'s pointer-memory words: pointer ``k`` and ``k + 1`` in word ``k``.

        The last word in use, which no column reads, pairs its pointer with
        itself, so every word written is in order.
        """
        ptr = self.ptr[pe]
        upper = np.concatenate([ptr[1:], [0]])
        upper[self.ptr_used - 1] = ptr[self.ptr_used - 1]
        return ptr | (upper << self.config.ptr_bits)

    def images(self):
        """Per-PE :class:`~hw.eie.pe.PeImage` to bake the program into the memories."""
        cfg = self.config
        return [
            PeImage(ptr=self.ptr_words(pe), matrix=self.matrix[pe], codebook=self.codebook)
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
            words = self.ptr_words(pe)
            for addr in range(self.ptr_used):
                cmds.append((Op.WRITE_PTR, pe, addr, int(words[addr])))
            for addr in range(self.words_used[pe]):
                cmds.append((Op.WRITE_MATRIX, pe, addr, int(self.matrix[pe][addr])))
        return cmds

    def input_commands(self, acts):
        """Host commands that write the first layer's input activations.

        ``acts`` holds exactly the first layer's ``n_inputs`` integers in the
        signed ``act_bits`` range, as :func:`sw_model.eie_model.check_acts`
        requires of the golden model. A float is a :class:`TypeError`; a value
        out of range or a wrong count (one too many would wrap onto another
        address) is a :class:`ValueError`: nothing reaches the array masked,
        truncated or wrapped.
        """
        cfg = self.config
        acts = check_acts(acts, self.layers[0][0].n_inputs)
        mask = (1 << cfg.act_bits) - 1
        return [(Op.WRITE_ACT, j % cfg.n_pe, j // cfg.n_pe, int(a) & mask)
                for j, a in enumerate(acts)]

    def output_commands(self):
        """Host commands that read the last layer's outputs (one response each)."""
        n_out = self.layers[-1][0].n_rows
        n_pe = self.config.n_pe
        return [(Op.READ_ACT, i % n_pe, i // n_pe, 0) for i in range(n_out)]
