"""EIE's compressed sparse column format (Han et al., ISCA 2016, section III).

A layer computes ``y = W @ x`` with ``W`` of shape ``(n_rows, n_cols)``
(outputs x inputs). The matrix is stored as 4-bit codebook indices, ``0``
meaning a zero weight, and is split over ``n_pe`` processing elements by
interleaving rows: row ``i`` belongs to PE ``i % n_pe`` at *local row*
``i // n_pe``.

Every PE keeps its slice of the matrix as one stream of 8-bit entries, column
by column (column 0 first). An entry holds

* ``v`` (low nibble): the codebook index of a nonzero weight, 1..15, or 0 for a
  padding entry;
* ``z`` (high nibble): how many zero local rows of the same column come before
  the entry, counted from the previous entry of that column or from local row
  0 at the start of a column.

A zero run of ``g`` rows before a nonzero is written as ``g // 16`` padding
entries (``v = 0, z = 15``; each covers 15 zeros and then itself stands on one
more zero row) followed by the real entry with ``z = g % 16``. The paper's
example, a column slice ``[0, 0, 1, 2, <18 zeros>, 3]``, becomes
``v = [1, 2, 0, 3]``, ``z = [2, 0, 15, 2]``. Zeros after a column's last
nonzero take no entries.

Column pointers ``ptr[k, j]`` give the index of column ``j``'s first entry in
PE ``k``'s stream; ``ptr[k, n_cols]`` is the stream length. They are split
over two banks (even ``j`` / odd ``j``) so that ``p_j`` and ``p_{j+1}`` can be
read in the same cycle. Entries are packed ``entries_per_word`` to a memory
word, entry ``e`` at word ``e // epw``, bits ``8 * (e % epw)`` upwards; columns
are not word aligned.

A layer may have a *bias* (``EieLayer.bias``), handled as in the paper: one
more input column, the last one (``n_cols - 1``), whose activation is the
constant 1.0. Its weights are the biases, stored in the same entry stream and
the same codebook as every other column; :func:`append_bias_column` builds
such a matrix from float weights and biases.

``docs/formats.md`` describes the same format with diagrams.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from .config import EieConfig
from .fixed import W_BITS, check_int, check_int_array, is_real_dtype
from .prune import check_weights

__all__ = [
    "CODEBOOK_SIZE",
    "INDEX_BITS",
    "ENTRY_BITS",
    "MAX_RUN",
    "EieLayer",
    "append_bias_column",
    "split_bias_column",
    "check_bias_flags",
    "check_codebook",
    "check_indices",
    "encode",
    "entry_counts",
    "fit_config",
    "layers_to_arrays",
    "layers_from_arrays",
    "decode",
    "decode_weights",
    "memory_layout",
    "check_fits",
]

#: Entries of a codebook (4-bit indices); index 0 is the exact value 0.
CODEBOOK_SIZE = 16
#: Bits of ``v`` and of ``z``.
INDEX_BITS = 4
#: Bits of one sparse-matrix entry ``(z << 4) | v``.
ENTRY_BITS = 2 * INDEX_BITS
#: Longest zero run one entry can express; longer runs need padding entries.
MAX_RUN = (1 << INDEX_BITS) - 1
_ENTRIES_PER_WORD = (1, 2, 4, 8)


def _check_n_pe(n_pe):
    return check_int("n_pe", n_pe, lo=1)


def _check_entries_per_word(entries_per_word):
    if (isinstance(entries_per_word, bool)
            or not isinstance(entries_per_word, (int, np.integer))):
        raise TypeError(f"entries_per_word must be an integer, not {entries_per_word!r}")
    if int(entries_per_word) not in _ENTRIES_PER_WORD:
        raise ValueError(
            f"entries_per_word must be 1, 2, 4 or 8, not {entries_per_word!r}")
    return int(entries_per_word)


def _check_bias(bias):
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be a bool, not {bias!r}")
    return bool(bias)


def check_codebook(codebook):
    """Validate a codebook and return it as a read-only ``int64`` array of 16 entries.

    The codebook must hold exactly 16 signed 16-bit integers (4-bit indices)
    and entry 0 must be 0, because index 0 marks zero weights and padding.
    """
    cb = check_int_array("codebook", codebook, W_BITS, ndim=1)
    if cb.shape[0] > CODEBOOK_SIZE:
        raise ValueError(
            f"codebook must have exactly {CODEBOOK_SIZE} entries (indices are "
            f"{INDEX_BITS}-bit; codebooks with more than {CODEBOOK_SIZE} entries "
            f"are not supported), not {cb.shape[0]}")
    if cb.shape[0] != CODEBOOK_SIZE:
        raise ValueError(
            f"codebook must have exactly {CODEBOOK_SIZE} entries, not {cb.shape[0]}")
    if cb[0] != 0:
        raise ValueError(
            f"codebook[0] must be 0 (index 0 marks zero weights), not {int(cb[0])}")
    cb = cb.copy()
    cb.setflags(write=False)
    return cb


def _check_pointers(ptr):
    """Column pointers per PE: from 0, non-decreasing; a read-only ``int64`` copy."""
    ptr = np.asarray(ptr)
    first = np.flatnonzero(ptr[:, 0] != 0)
    if first.size:
        k = int(first[0])
        raise ValueError(f"ptr[{k}, 0] must be 0 (the start of PE {k}'s stream), "
                         f"not {int(ptr[k, 0])}")
    falls = np.argwhere(np.diff(ptr, axis=1) < 0)
    if falls.size:
        k, j = (int(i) for i in falls[0])
        raise ValueError(f"ptr[{k}] must be non-decreasing, but ptr[{k}, {j + 1}] = "
                         f"{int(ptr[k, j + 1])} follows ptr[{k}, {j}] = {int(ptr[k, j])}")
    if ptr.dtype == np.int64 and not ptr.flags.writeable:
        return ptr
    # A copy: the caller's array stays as it was, writeable.
    return _readonly(np.array(ptr, dtype=np.int64), np.int64)


def _check_stream(name, pe, stream, length):
    """PE ``pe``'s ``v`` or ``z`` stream: ``length`` 4-bit values; a read-only ``uint8`` array."""
    arr = np.asarray(stream)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}[{pe}] must be an integer array, not an array of dtype "
                        f"{arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != length:
        raise ValueError(f"{name}[{pe}] must hold {int(length)} entries (ptr[{pe}, -1], the "
                         f"length of PE {pe}'s stream), not shape {arr.shape}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > MAX_RUN:
            what = "codebook indices" if name == "v" else "zero runs"
            raise ValueError(f"{name}[{pe}] must hold {what} 0..{MAX_RUN}, but holds "
                             f"{lo if lo < 0 else hi}")
    if arr.dtype == np.uint8 and not arr.flags.writeable and arr.flags.c_contiguous:
        return arr
    return _readonly(np.array(arr, dtype=np.uint8), np.uint8)


def _readonly(array, dtype):
    array = np.ascontiguousarray(array, dtype=dtype)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class EieLayer:
    """One layer's weight matrix in EIE's format, split over ``n_pe`` PEs.

    Build it with :func:`encode`; the arrays are read-only.

    Attributes
    ----------
    n_rows, n_cols : int
        Outputs and columns of the matrix; with a bias, the last column is the
        bias column and the layer has ``n_cols - 1`` inputs (:attr:`n_inputs`).
    n_pe : int
        PEs the rows are interleaved over.
    entries_per_word : int
        Entries packed into one sparse-matrix memory word (1, 2, 4 or 8).
    codebook : numpy.ndarray
        ``int64`` shape ``(16,)``, the shared weights; ``codebook[0] == 0``.
    v, z : tuple of numpy.ndarray
        Per PE, the ``uint8`` codebook indices and zero-run counts of every
        entry, padding included, in stream (column-major) order.
    ptr : numpy.ndarray
        ``int64`` shape ``(n_pe, n_cols + 1)``, column pointers per PE.
    bias : bool
        Column ``n_cols - 1`` is the layer's bias column: its activation is
        the constant 1.0 (``1 << act_frac_bits``), supplied by the array, not
        by the caller. A bias layer has at least 2 columns.
    """

    n_rows: int
    n_cols: int
    n_pe: int
    entries_per_word: int
    codebook: np.ndarray
    v: tuple
    z: tuple
    ptr: np.ndarray
    bias: bool = False

    def __post_init__(self):
        check_int("n_rows", self.n_rows, lo=1)
        check_int("n_cols", self.n_cols, lo=1)
        object.__setattr__(self, "bias", _check_bias(self.bias))
        if self.bias and self.n_cols < 2:
            raise ValueError(f"A layer with a bias needs n_cols >= 2 (at least one input and "
                             f"the bias column), not {self.n_cols!r}")
        _check_n_pe(self.n_pe)
        _check_entries_per_word(self.entries_per_word)
        object.__setattr__(self, "codebook", check_codebook(self.codebook))
        for name in ("v", "z"):
            streams = getattr(self, name)
            if not isinstance(streams, (tuple, list)):
                raise TypeError(f"{name} must be a tuple of one array per PE, not "
                                f"{streams!r:.80}")
        if len(self.v) != self.n_pe or len(self.z) != self.n_pe:
            raise ValueError(
                f"v and z must hold one array per PE ({self.n_pe}), "
                f"not {len(self.v)} and {len(self.z)}")
        ptr = np.asarray(self.ptr)
        if ptr.dtype == np.bool_ or not np.issubdtype(ptr.dtype, np.integer):
            raise TypeError(f"ptr must be an integer array, not an array of dtype {ptr.dtype}")
        if ptr.shape != (self.n_pe, self.n_cols + 1):
            raise ValueError(
                f"ptr must have shape {(self.n_pe, self.n_cols + 1)}, not {ptr.shape}")
        object.__setattr__(self, "ptr", _check_pointers(ptr))
        object.__setattr__(self, "v", tuple(_check_stream("v", k, stream, self.ptr[k, -1])
                                            for k, stream in enumerate(self.v)))
        object.__setattr__(self, "z", tuple(_check_stream("z", k, stream, self.ptr[k, -1])
                                            for k, stream in enumerate(self.z)))
        self._check_rows()

    def _check_rows(self):
        """Every entry's local row must lie below the PE's local rows."""
        for pe in range(self.n_pe):
            starts, ends = self.ptr[pe, :-1], self.ptr[pe, 1:]
            filled = np.flatnonzero(ends > starts)
            if filled.size == 0:
                continue
            # A column's last entry has its largest local row: the column's
            # z + 1 summed, less one. Empty columns between filled ones add
            # nothing to a segment, so one reduceat covers every filled column.
            z_sums = np.add.reduceat(self.z[pe], starts[filled], dtype=np.int64)
            last_rows = z_sums + (ends[filled] - starts[filled]) - 1
            worst = int(np.argmax(last_rows))
            rows = self.local_rows(pe)
            if last_rows[worst] >= rows:
                raise ValueError(
                    f"z[{pe}] runs past PE {pe}'s {rows} local row(s) in column "
                    f"{int(filled[worst])} (it reaches local row {int(last_rows[worst])})")

    @property
    def n_inputs(self):
        """Activations a caller supplies: ``n_cols``, less the bias column if there is one."""
        return self.n_cols - int(self.bias)

    def _check_pe(self, pe):
        return check_int("pe", pe, lo=0, hi=self.n_pe - 1)

    def local_rows(self, pe):
        """Rows of the layer that PE ``pe`` owns: ``ceil((n_rows - pe) / n_pe)``."""
        pe = self._check_pe(pe)
        return max(0, -(-(self.n_rows - pe) // self.n_pe))

    def entries(self, pe):
        """PE ``pe``'s entry stream as ``uint8`` bytes ``(z << 4) | v``."""
        pe = self._check_pe(pe)
        return ((self.z[pe] << INDEX_BITS) | self.v[pe]).astype(np.uint8)

    def words(self, pe):
        """PE ``pe``'s sparse-matrix memory image as ``uint64`` words.

        Entry ``e`` sits in word ``e // entries_per_word`` at bit offset
        ``8 * (e % entries_per_word)``; the unused slots of the last word are 0.
        """
        entries = self.entries(pe).astype(np.uint64)
        epw = self.entries_per_word
        n_words = -(-entries.shape[0] // epw)
        slots = np.zeros(n_words * epw, dtype=np.uint64)
        slots[:entries.shape[0]] = entries
        shifts = (np.arange(epw, dtype=np.uint64) * np.uint64(ENTRY_BITS))
        # Slots do not overlap, so a sum of shifted bytes is their bitwise OR.
        return (slots.reshape(n_words, epw) << shifts).sum(axis=1, dtype=np.uint64)

    def ptr_banks(self, pe):
        """PE ``pe``'s column pointers split into the (even, odd) banks.

        ``p_j`` lives in bank ``j % 2`` at address ``j // 2``, so ``p_j`` and
        ``p_{j+1}`` always come from different banks.
        """
        pe = self._check_pe(pe)
        return self.ptr[pe, 0::2].copy(), self.ptr[pe, 1::2].copy()

    def entry_cols(self, pe):
        """Column of every entry of PE ``pe`` (``int64``)."""
        pe = self._check_pe(pe)
        return np.repeat(np.arange(self.n_cols, dtype=np.int64), np.diff(self.ptr[pe]))

    def entry_rows(self, pe):
        """Local row of every entry of PE ``pe`` (``int64``).

        The running sum of ``z + 1`` minus one, restarted at every column: what
        the PE's address accumulator computes.
        """
        pe = self._check_pe(pe)
        steps = np.cumsum(self.z[pe].astype(np.int64) + 1)
        # Running sum just before each column's first entry.
        col_base = np.concatenate(([0], steps))[self.ptr[pe, :-1]]
        return steps - np.repeat(col_base, np.diff(self.ptr[pe])) - 1

    @property
    def n_entries(self):
        """Entries per PE, padding included (``int64``, shape ``(n_pe,)``)."""
        return self.ptr[:, -1].copy()

    @property
    def n_padding(self):
        """Padding entries per PE (``int64``, shape ``(n_pe,)``)."""
        return np.array([np.count_nonzero(v == 0) for v in self.v], dtype=np.int64)

    @property
    def nnz(self):
        """Nonzero weights of the layer (padding excluded)."""
        return int((self.n_entries - self.n_padding).sum())

    def summary(self, *, ptr_bits=None):
        """Sizes and load balance of the encoded layer, as a ``dict``.

        Memory sizes are in bits, over all PEs: ``matrix_bits`` (whole words),
        ``pointer_bits`` (``n_cols + 1`` pointers per PE, ``ptr_width`` bits
        each), ``codebook_bits`` and their sum ``memory_bits``. ``ptr_bits`` is
        the width of one column pointer; by default the narrowest width that
        holds this layer's largest pointer. ``load_balance`` is the mean over the
        maximum of the entries per PE: the fraction of the slowest PE's work the
        average PE does, 1.0 when perfectly balanced. It is a static measure; the
        dynamic one depends on the activations and the queues (cycle model).
        ``nnz`` and ``density`` count the bias column like any other column.
        """
        n_entries = self.n_entries
        if ptr_bits is None:
            ptr_bits = max(1, int(n_entries.max()).bit_length())
        else:
            ptr_bits = check_int("ptr_bits", ptr_bits, lo=1)
        word_bits = ENTRY_BITS * self.entries_per_word
        n_words = -(-n_entries // self.entries_per_word)
        load_max = int(n_entries.max())
        matrix_bits = int(n_words.sum()) * word_bits
        pointer_bits = self.n_pe * (self.n_cols + 1) * ptr_bits
        codebook_bits = CODEBOOK_SIZE * W_BITS
        return {
            "n_rows": self.n_rows,
            "n_cols": self.n_cols,
            "n_inputs": self.n_inputs,
            "bias": self.bias,
            "n_pe": self.n_pe,
            "nnz": self.nnz,
            "density": self.nnz / (self.n_rows * self.n_cols),
            "entries": int(n_entries.sum()),
            "padding": int(self.n_padding.sum()),
            "entries_per_pe": n_entries.tolist(),
            "words_per_pe": n_words.tolist(),
            "matrix_bits": matrix_bits,
            "ptr_width": ptr_bits,
            "pointer_bits": pointer_bits,
            "codebook_bits": codebook_bits,
            "memory_bits": matrix_bits + pointer_bits + codebook_bits,
            "load_mean": float(n_entries.mean()),
            "load_max": load_max,
            "load_balance": float(n_entries.mean()) / load_max if load_max else 1.0,
        }


def append_bias_column(w, b):
    """Float weights ``w`` (outputs x inputs) and biases ``b`` as one matrix ``[w | b]``.

    EIE computes a bias as one more input whose activation is the constant
    1.0, so the bias column is ``b`` itself. Pruning
    (:mod:`sw_model.prune`), weight sharing (one codebook over a layer's kept
    weights and biases, :func:`sw_model.codebook.share_weights`) and
    :func:`encode` (with ``bias=True``) then treat it as any other column.
    Returns a new ``float64`` matrix of shape ``(outputs, inputs + 1)``.
    """
    w = check_weights(w)
    arr = np.asarray(b)
    if not is_real_dtype(arr.dtype):
        raise TypeError(f"b must be a real-valued array, not an array of dtype {arr.dtype}")
    if arr.shape != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), one bias per output of w, "
                         f"not {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("b must hold only finite values")
    return np.concatenate((w, arr[:, None]), axis=1)


def split_bias_column(w_aug):
    """The inverse of :func:`append_bias_column`: ``(w, b)`` of a matrix ``[w | b]``.

    ``w_aug`` needs at least 2 columns; the results are ``float64`` copies.
    """
    w_aug = check_weights(w_aug)
    if w_aug.shape[1] < 2:
        raise ValueError(f"w_aug must have at least 2 columns (the inputs and the bias "
                         f"column), not shape {w_aug.shape}")
    return w_aug[:, :-1].copy(), w_aug[:, -1].copy()


def check_bias_flags(bias, n_layers):
    """Which of ``n_layers`` layers have a bias, as a tuple of ``bool``.

    ``bias`` is one ``bool`` for every layer, or a sequence of one ``bool`` per
    layer; ``None`` means no biases.
    """
    if bias is None:
        return (False,) * n_layers
    if isinstance(bias, (bool, np.bool_)):
        return (bool(bias),) * n_layers
    if isinstance(bias, (str, bytes)) or not hasattr(bias, "__len__"):
        raise TypeError(f"bias must be a bool or a sequence of bools, not {bias!r}")
    if len(bias) != n_layers:
        raise ValueError(f"bias must have one flag per layer ({n_layers}), not {len(bias)}")
    for i, flag in enumerate(bias):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"bias[{i}] must be a bool, not {flag!r}")
    return tuple(bool(flag) for flag in bias)


def _check_indices_array(indices):
    """Type and shape checks of an index matrix (the range is checked separately)."""
    arr = np.asarray(indices)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"indices must be an integer array, not an array of dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"indices must be a 2-D matrix, not shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"indices must have at least one row and one column, not shape "
                         f"{arr.shape}")
    return arr


def _check_index_range(values):
    if values.size:
        lo, hi = int(values.min()), int(values.max())
        if lo < 0 or hi >= CODEBOOK_SIZE:
            bad = lo if lo < 0 else hi
            raise ValueError(f"indices must be codebook indices 0..{CODEBOOK_SIZE - 1}, "
                             f"but hold {bad}")


def check_indices(indices):
    """Validate a matrix of codebook indices (0..15) and return it as ``int64``."""
    arr = _check_indices_array(indices)
    _check_index_range(arr)
    return arr.astype(np.int64, copy=False)


def _stable_argsort(keys, bound):
    """Stable argsort of non-negative integer ``keys`` below ``bound``.

    Keys are narrowed to 8 or 16 bits when they fit, where NumPy's stable sort
    is a radix sort: this is what keeps the encoder above 10 M nonzeros/s.
    """
    for dtype in (np.uint8, np.uint16):
        if bound <= np.iinfo(dtype).max + 1:
            return np.argsort(keys.astype(dtype), kind="stable")
    return np.argsort(keys, kind="stable")


def _stream_order(rows, cols, n_pe, n_cols):
    """Reorder row-major nonzeros into the PE streams: by PE, column, then row."""
    pe = rows % rows.dtype.type(n_pe)
    if n_pe * n_cols <= 1 << 16:
        return _stable_argsort(pe * n_cols + cols, n_pe * n_cols)
    by_col = _stable_argsort(cols, n_cols)
    return by_col[_stable_argsort(pe[by_col], n_pe)]


def _stream_positions(nonzero, n_pe):
    """Where the nonzeros of a matrix go in the PE streams, and the padding each needs.

    ``nonzero`` is a flat index array of the nonzeros of an ``(n_rows, n_cols)``
    matrix in row-major order, given with its shape as ``(flat, n_cols)``.
    Returns ``(order, group, pads, z_last)`` for the nonzeros reordered
    into the concatenated PE streams (PE 0's first; within a PE by column, then
    row): ``order`` reorders ``flat``; ``group`` is ``pe * n_cols + col``;
    ``pads`` the padding entries before each nonzero and ``z_last`` its ``z``.
    """
    flat, n_cols = nonzero
    pos_type = np.int32 if flat.size == 0 or int(flat[-1]) < 1 << 31 else np.int64
    rows, cols = np.divmod(flat.astype(pos_type), pos_type(n_cols))
    order = _stream_order(rows, cols, n_pe, n_cols)
    rows, cols = rows[order], cols[order]
    local, pe = np.divmod(rows, pos_type(n_pe))
    # (PE, column) of every nonzero as one number; the stream is sorted by it.
    group = pe.astype(np.int64) * n_cols + cols
    # Zero run before each nonzero: from the previous nonzero of the same PE
    # and column, or from local row 0 (previous row -1) at a column start.
    prev = np.full(rows.shape[0], -1, dtype=pos_type)
    if rows.shape[0] > 1:
        same = group[1:] == group[:-1]
        prev[1:][same] = local[:-1][same]
    gaps = local - prev - 1
    pads, z_last = np.divmod(gaps, MAX_RUN + 1)
    return order, group, pads, z_last


def _check_matrix(name, matrix):
    arr = np.asarray(matrix)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a numeric matrix, not an array of dtype {arr.dtype}")
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty 2-D (outputs, inputs) matrix, "
                         f"not shape {arr.shape}")
    return arr


def entry_counts(matrix, n_pe):
    """Entries (padding included) each PE's stream would hold for ``matrix``.

    Only which elements are nonzero matters, so this works on float weights
    before weight sharing as well as on codebook indices: it is what
    :func:`fit_config` sizes the memories from. Returns ``int64`` of shape
    ``(n_pe,)``, equal to ``encode(...).n_entries``.
    """
    arr = _check_matrix("matrix", matrix)
    n_pe = _check_n_pe(n_pe)
    flat = np.flatnonzero(arr != 0)
    order, group, pads, _ = _stream_positions((flat, arr.shape[1]), n_pe)
    return np.bincount(group // arr.shape[1], weights=pads + 1,
                       minlength=n_pe).astype(np.int64)


def encode(indices, codebook, *, config, bias=False):
    """Encode a matrix of codebook indices into EIE's format for an array ``config``.

    Parameters
    ----------
    indices : array of int, shape (n_rows, n_cols)
        Codebook index of every weight, 0..15; 0 is a zero weight. With
        ``bias``, the shape is ``(n_rows, n_inputs + 1)`` and the last column
        holds the biases' indices.
    codebook : array of int, shape (16,)
        Shared weights, signed 16-bit; ``codebook[0]`` must be 0.
    config : EieConfig
        The array the layer is for: its ``n_pe`` (the PEs the rows are
        interleaved over) and ``entries_per_word`` (entries per sparse-matrix
        memory word) decide the layout. Whether the layer fits the array's
        memories is :func:`check_fits`'s question.
    bias : bool
        The last column is the layer's bias column (constant activation 1.0).
        It is encoded like any other column, in the same stream and codebook;
        only :attr:`EieLayer.bias` records what it is.
    """
    if not isinstance(config, EieConfig):
        raise TypeError(f"config must be an EieConfig, not {config!r}")
    bias = _check_bias(bias)
    idx = _check_indices_array(indices)
    if bias and idx.shape[1] < 2:
        raise ValueError(f"indices must have at least 2 columns with bias=True (the inputs "
                         f"and the bias column), not shape {idx.shape}")
    cb = check_codebook(codebook)
    n_pe, epw = config.n_pe, config.entries_per_word
    n_rows, n_cols = idx.shape

    # Nonzeros of the whole matrix, reordered into the concatenated PE streams
    # (PE 0's stream first): a sort instead of a loop over PEs or columns.
    # flatnonzero of a boolean mask is several times faster than np.nonzero
    # of the 2-D integer matrix.
    flat = np.flatnonzero(idx != 0)
    values = idx.ravel()[flat]
    # Every out-of-range index is nonzero, so checking the nonzeros is enough.
    _check_index_range(values)
    order, group, pads, z_last = _stream_positions((flat, n_cols), n_pe)
    values = values[order].astype(np.uint8)
    n_nz = values.shape[0]

    # All entries start as padding (v = 0, z = 15); each nonzero's real entry
    # is the last one of its group of pads + 1.
    entries_before = np.zeros(n_nz + 1, dtype=np.int64)
    np.cumsum(pads + 1, out=entries_before[1:])
    last = entries_before[1:] - 1
    v_all = np.zeros(entries_before[-1], dtype=np.uint8)
    z_all = np.full(entries_before[-1], MAX_RUN, dtype=np.uint8)
    v_all[last] = values
    z_all[last] = z_last

    # Column pointers: the entries before the first nonzero of every (PE,
    # column) group, found by binary search in the sorted groups, relative to
    # the start of the PE's stream.
    starts = entries_before[np.searchsorted(group, np.arange(n_pe * n_cols + 1))]
    ptr = np.empty((n_pe, n_cols + 1), dtype=np.int64)
    ptr[:, :-1] = starts[:-1].reshape(n_pe, n_cols)
    ptr[:, -1] = starts[n_cols::n_cols]
    ptr -= ptr[:, :1].copy()
    ptr.setflags(write=False)

    bounds = starts[::n_cols]
    vs = tuple(_readonly(v_all[bounds[k]:bounds[k + 1]], np.uint8) for k in range(n_pe))
    zs = tuple(_readonly(z_all[bounds[k]:bounds[k + 1]], np.uint8) for k in range(n_pe))
    return EieLayer(n_rows=n_rows, n_cols=n_cols, n_pe=n_pe, entries_per_word=epw,
                    codebook=cb, v=vs, z=zs, ptr=ptr, bias=bias)


def decode(layer):
    """Rebuild the matrix of codebook indices (``int64``) from an :class:`EieLayer`.

    The exact inverse of :func:`encode`; padding entries decode to nothing. The
    result has all ``n_cols`` columns: for a layer with a bias, the last one is
    the bias column.
    """
    idx = np.zeros((layer.n_rows, layer.n_cols), dtype=np.int64)
    for pe in range(layer.n_pe):
        real = layer.v[pe] != 0
        rows = layer.entry_rows(pe)[real] * layer.n_pe + pe
        idx[rows, layer.entry_cols(pe)[real]] = layer.v[pe][real]
    return idx


def decode_weights(layer):
    """The layer's integer weight matrix ``codebook[indices]`` (``int64``).

    Shape ``(n_rows, n_cols)``; for a layer with a bias, the last column holds
    the biases (in the weight format: times the constant activation
    ``1 << act_frac_bits`` they add ``bias * 2**act_frac_bits`` to the
    accumulator), so ``y = requantize(W @ concat(x, [1 << act_frac_bits]))``.
    """
    return layer.codebook[decode(layer)]


def _unpack_layers(layers):
    out = []
    for i, item in enumerate(layers):
        layer = item[0] if isinstance(item, tuple) else item
        if not isinstance(layer, EieLayer):
            raise TypeError(f"layers[{i}] must be an EieLayer or an (EieLayer, relu) pair, "
                            f"not {item!r}")
        out.append(layer)
    return out


def _check_compatible(layers, config):
    """Check that every layer is encoded for ``config``'s PEs and word size."""
    if not isinstance(config, EieConfig):
        raise TypeError(f"config must be an EieConfig, not {config!r}")
    for i, layer in enumerate(layers):
        if layer.n_pe != config.n_pe:
            raise ValueError(f"Layer {i} is encoded for n_pe = {layer.n_pe}, "
                             f"but the configuration has n_pe = {config.n_pe}")
        if layer.entries_per_word != config.entries_per_word:
            raise ValueError(
                f"Layer {i} is encoded with entries_per_word = {layer.entries_per_word}, "
                f"but the configuration has entries_per_word = {config.entries_per_word}")
    return layers


def memory_layout(layers, config):
    """Where each layer starts in a PE's memories, as a list of dicts.

    ``layers`` holds :class:`EieLayer` objects or ``(EieLayer, relu)`` pairs.
    Every layer's entries start at a word boundary of the sparse-matrix memory
    and its pointer block at an even pointer address (so ``p_0`` is in the even
    bank). Each dict has ``matrix_base`` (a list, the first word per PE),
    ``matrix_words`` (words per PE), ``ptr_base`` (the first pointer address,
    the same for all PEs) and ``ptr_len`` (``n_cols + 1``). This is the layout
    :func:`check_fits` checks against ``config``.
    """
    layers = _check_compatible(_unpack_layers(layers), config)
    matrix_base = np.zeros(config.n_pe, dtype=np.int64)
    ptr_base = 0
    layout = []
    for layer in layers:
        words = -(-layer.n_entries // layer.entries_per_word)
        layout.append({
            "matrix_base": matrix_base.tolist(),
            "matrix_words": words.tolist(),
            "ptr_base": ptr_base,
            "ptr_len": layer.n_cols + 1,
        })
        matrix_base = matrix_base + words
        ptr_base += layer.n_cols + 1 + (layer.n_cols + 1) % 2
    return layout


def check_fits(layers, config):
    """Raise :class:`ValueError` if the layers do not fit an EIE built with ``config``.

    ``layers`` holds :class:`EieLayer` objects or ``(EieLayer, relu)`` pairs, in
    the order they are stored. Checked: the number of layers against
    ``max_layers``; every layer's ``n_pe`` and ``entries_per_word`` against the
    configuration; its columns (inputs, and the bias column if it has one) and
    outputs against ``max_dim``; the sparse-matrix
    words per PE over all layers (each layer starting at a word boundary)
    against ``matrix_depth``; the column pointers over all layers (each block
    starting at an even address) against ``ptr_depth``.
    """
    layers = _check_compatible(_unpack_layers(layers), config)
    if not layers:
        raise ValueError("layers must hold at least one layer")
    if len(layers) > config.max_layers:
        raise ValueError(f"{len(layers)} layers do not fit the layer table "
                         f"(max_layers = {config.max_layers})")
    for i, layer in enumerate(layers):
        columns = "columns (inputs and the bias column)" if layer.bias else "inputs"
        for what, size in (("outputs", layer.n_rows), (columns, layer.n_cols)):
            if size > config.max_dim:
                raise ValueError(
                    f"Layer {i} has {size} {what}, more than max_dim = {config.max_dim} "
                    f"(act_depth {config.act_depth} x n_pe {config.n_pe})")
    layout = memory_layout(layers, config)
    end = layout[-1]
    words = np.array(end["matrix_base"]) + np.array(end["matrix_words"])
    worst = int(np.argmax(words))
    if words[worst] > config.matrix_depth:
        raise ValueError(
            f"PE {worst} needs {int(words[worst])} sparse-matrix words over all layers, "
            f"more than matrix_depth = {config.matrix_depth} "
            f"({config.max_entries} entries)")
    ptrs = end["ptr_base"] + end["ptr_len"]
    if ptrs > config.ptr_depth:
        raise ValueError(f"The layers need {ptrs} column-pointer entries, "
                         f"more than ptr_depth = {config.ptr_depth}")


def _pow2(value):
    return 1 << max(0, int(value) - 1).bit_length()


def fit_config(matrices, base, *, at_once=True, pow2=True):
    """The configuration ``base`` with its memories and layer table sized for ``matrices``.

    This is where a configuration meets its data, once, before anything is
    encoded: :func:`encode` then takes the configuration this returns.

    Parameters
    ----------
    matrices : sequence of 2-D arrays
        The layers' weights, shape ``(outputs, inputs)``; only which elements
        are nonzero matters (float weights after pruning, or codebook indices).
    base : EieConfig
        The user's choices (``n_pe``, ``queue_depth``, ``entries_per_word``,
        number formats); its memory depths and ``max_layers`` are replaced.
    at_once : bool
        ``True``: the layers are stored together, as a chain run on chip
        (depths add up; ``max_layers`` is the number of layers). ``False``:
        one layer at a time, loaded in turn (the largest decides; one slot).
    pow2 : bool
        Round ``act_depth``, ``ptr_depth`` and ``matrix_depth`` up to powers of
        two (what block RAM holds anyway); ``False`` gives the exact sizes.

    The result passes :func:`check_fits` for the encoded layers by
    construction: the sizes follow :func:`memory_layout`'s alignment rules.
    """
    if not isinstance(base, EieConfig):
        raise TypeError(f"base must be an EieConfig, not {base!r}")
    if not isinstance(matrices, (list, tuple)) or not matrices:
        raise ValueError(f"matrices must be a non-empty list of 2-D weight matrices, "
                         f"not {matrices!r:.60}")
    shapes, words, ptrs = [], [], []
    for i, matrix in enumerate(matrices):
        arr = _check_matrix(f"matrices[{i}]", matrix)
        shapes.append(arr.shape)
        counts = entry_counts(arr, base.n_pe)
        words.append(-(-counts // base.entries_per_word))
        # A layer's pointer block starts at an even address (see memory_layout).
        ptrs.append(arr.shape[1] + 1 + (arr.shape[1] + 1) % 2)
    if at_once:
        matrix_words = int(np.sum(words, axis=0).max())
        ptr_entries = sum(ptrs)
        max_layers = len(matrices)
    else:
        matrix_words = int(max(w.max() for w in words))
        ptr_entries = max(ptrs)
        max_layers = 1
    max_dim = max(max(shape) for shape in shapes)
    act_depth = -(-max_dim // base.n_pe)
    sizes = {"act_depth": act_depth, "ptr_depth": max(2, ptr_entries),
             "matrix_depth": max(1, matrix_words)}
    if pow2:
        sizes = {name: _pow2(value) for name, value in sizes.items()}
    return dataclasses.replace(base, max_layers=max_layers, **sizes)


def layers_to_arrays(layers_relus, prefix=""):
    """A chain of ``(EieLayer, relu)`` as plain arrays for an ``.npz`` (no pickles).

    Per layer ``i``: ``<prefix>layer<i>_shape`` (``n_rows, n_cols, n_pe,
    entries_per_word, relu, bias``; ``n_cols`` counts the bias column),
    ``_codebook``, ``_ptr`` and ``_entries`` (every PE's stream of
    ``(z << 4) | v`` bytes, PE 0 first; ``ptr[:, -1]`` gives the lengths).
    :func:`layers_from_arrays` is the inverse.
    """
    arrays = {f"{prefix}layers": np.array(len(layers_relus))}
    for i, (layer, relu) in enumerate(layers_relus):
        key = f"{prefix}layer{i}"
        arrays[f"{key}_shape"] = np.array([layer.n_rows, layer.n_cols, layer.n_pe,
                                           layer.entries_per_word, int(bool(relu)),
                                           int(layer.bias)])
        arrays[f"{key}_codebook"] = np.asarray(layer.codebook)
        arrays[f"{key}_ptr"] = np.asarray(layer.ptr)
        arrays[f"{key}_entries"] = np.concatenate(
            [layer.entries(pe) for pe in range(layer.n_pe)]).astype(np.uint8)
    return arrays


def layers_from_arrays(arrays, prefix=""):
    """The ``[(EieLayer, relu)]`` chain stored by :func:`layers_to_arrays`.

    ``arrays`` is a mapping such as an opened ``.npz``; a missing or malformed
    entry raises :class:`ValueError` naming it. A ``_shape`` of 5 numbers (files
    written before layers had biases) loads as a layer without a bias.
    """
    def get(name):
        try:
            return np.asarray(arrays[f"{prefix}{name}"])
        except KeyError:
            raise ValueError(f"layer data lacks the array {prefix}{name!s}") from None

    layers = []
    for i in range(int(get("layers"))):
        shape = get(f"layer{i}_shape")
        if shape.shape not in ((5,), (6,)):
            raise ValueError(f"{prefix}layer{i}_shape must hold 6 numbers (or 5 without the "
                             f"bias flag), not {shape.tolist()}")
        n_rows, n_cols, n_pe, epw, relu, bias = (int(x) for x in (*shape, 0)[:6])
        for name, flag in (("relu", relu), ("bias", bias)):
            if flag not in (0, 1):
                raise ValueError(f"{prefix}layer{i}_shape: the {name} flag must be 0 or 1, "
                                 f"not {flag}")
        ptr = get(f"layer{i}_ptr").astype(np.int64)
        entries = get(f"layer{i}_entries").astype(np.uint8)
        if ptr.shape != (n_pe, n_cols + 1) or int(ptr[:, -1].sum()) != entries.shape[0]:
            raise ValueError(f"{prefix}layer{i}: pointers of shape {ptr.shape} do not describe "
                             f"{entries.shape[0]} entries over {n_pe} PEs")
        bounds = np.concatenate(([0], np.cumsum(ptr[:, -1])))
        streams = [entries[bounds[k]:bounds[k + 1]] for k in range(n_pe)]
        ptr.setflags(write=False)
        layer = EieLayer(
            n_rows=n_rows, n_cols=n_cols, n_pe=n_pe, entries_per_word=epw,
            codebook=check_codebook(get(f"layer{i}_codebook")),
            v=tuple(_readonly(st & MAX_RUN, np.uint8) for st in streams),
            z=tuple(_readonly(st >> INDEX_BITS, np.uint8) for st in streams), ptr=ptr,
            bias=bool(bias))
        layers.append((layer, bool(relu)))
    return layers
