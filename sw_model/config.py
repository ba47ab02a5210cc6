"""Engine configurations and timings: frozen dataclasses, validated on construction.

A configuration is built once and handed to the golden model, the RTL
generator, the testbenches and the synthesis flow; nothing re-derives a width or
a depth on its own. Derived quantities are read-only properties.

A timing holds the latencies an RTL block reports about itself
(:attr:`hw.eie.array.EieArray.timing`, :attr:`hw.sparse_nm.NMTile.timing`):
the cycle model and the testbenches read it from the design, never from a
default. Both kinds travel between processes in the design's JSON side-car
(:mod:`hw.generate`) as :meth:`to_dict` and come back through :meth:`from_dict`.
"""

import dataclasses
from dataclasses import dataclass

from .fixed import ACT_BITS, MAX_ACC_BITS, PROD_BITS, W_BITS, check_int

__all__ = ["EieConfig", "SparseMacConfig", "SparseTileConfig", "EieTiming", "NmTiming"]


def _is_pow2(value):
    return value >= 1 and value & (value - 1) == 0


class _ConfigMixin:
    def to_dict(self):
        """The configuration as a plain ``dict`` (for JSON side-cars and reports)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Build a configuration from :meth:`to_dict` output; unknown keys are an error."""
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__} data must be a dict, not {data!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"Unknown {cls.__name__} field(s): {', '.join(unknown)}")
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.name not in data and f.default is dataclasses.MISSING)
        if missing:
            raise ValueError(f"Missing {cls.__name__} field(s): {', '.join(missing)}")
        return cls(**data)


@dataclass(frozen=True)
class EieConfig(_ConfigMixin):
    """Parameters of an EIE PE array (Han et al., ISCA 2016).

    Parameters
    ----------
    n_pe : int
        Number of processing elements. Row ``i`` of every layer belongs to PE
        ``i % n_pe`` at local row ``i // n_pe``; so do input activations.
    queue_depth : int
        Depth of each PE's activation queue, and the credits the central unit
        holds for each PE (a broadcast needs a credit of every PE). 16 costs no
        more than 1 on ECP5, whose LUT RAM is 16 words deep.
    entries_per_word : int
        8-bit sparse-matrix entries (4-bit ``v``, 4-bit ``z``) per memory word;
        a power of two from 1 to 8, so a word is at most 64 bits.
    act_frac_bits : int
        Fractional bits of the signed 16-bit activations.
    w_frac_bits : int
        Fractional bits of the signed 16-bit shared weights; also the
        requantization shift.
    acc_bits : int
        Width of the wrapping two's-complement accumulator.
    act_depth : int
        Words of each PE's source and destination activation memories, i.e. the
        most local rows a layer may have. A layer may have at most
        ``act_depth * n_pe`` inputs and outputs.
    ptr_depth : int
        Column-pointer entries per PE, over all layers (both banks together).
    matrix_depth : int
        Sparse-matrix words per PE, over all layers.
    max_layers : int
        Entries of the on-chip layer table.
    """

    n_pe: int = 8
    queue_depth: int = 16
    entries_per_word: int = 8
    act_frac_bits: int = 8
    w_frac_bits: int = 12
    acc_bits: int = 40
    act_depth: int = 64
    ptr_depth: int = 512
    matrix_depth: int = 1024
    max_layers: int = 4

    def __post_init__(self):
        check_int("n_pe", self.n_pe, lo=1, hi=1024)
        check_int("queue_depth", self.queue_depth, lo=1, hi=1024)
        check_int("entries_per_word", self.entries_per_word, lo=1, hi=8)
        if not _is_pow2(self.entries_per_word):
            raise ValueError(
                f"entries_per_word must be a power of two (1, 2, 4 or 8), "
                f"not {self.entries_per_word!r}")
        check_int("act_frac_bits", self.act_frac_bits, lo=0, hi=ACT_BITS - 1)
        check_int("w_frac_bits", self.w_frac_bits, lo=0, hi=W_BITS - 1)
        check_int("acc_bits", self.acc_bits, lo=PROD_BITS, hi=MAX_ACC_BITS)
        check_int("act_depth", self.act_depth, lo=1, hi=1 << 20)
        check_int("ptr_depth", self.ptr_depth, lo=2, hi=1 << 24)
        check_int("matrix_depth", self.matrix_depth, lo=1, hi=1 << 24)
        check_int("max_layers", self.max_layers, lo=1, hi=256)

    #: Entries of a codebook; index 0 is the exact value 0.
    codebook_size = 16
    #: Bits of a codebook index ``v`` and of a zero-run count ``z``.
    index_bits = 4
    #: Bits of one sparse-matrix entry.
    entry_bits = 8
    act_bits = ACT_BITS
    w_bits = W_BITS

    @property
    def word_bits(self):
        """Bits of one sparse-matrix memory word."""
        return self.entry_bits * self.entries_per_word

    @property
    def max_entries(self):
        """Sparse-matrix entries one PE can hold."""
        return self.matrix_depth * self.entries_per_word

    @property
    def ptr_bits(self):
        """Width of a column pointer: enough for ``0 .. max_entries`` inclusive."""
        return max(1, self.max_entries.bit_length())

    @property
    def max_dim(self):
        """Most inputs or outputs a layer may have."""
        return self.act_depth * self.n_pe


@dataclass(frozen=True)
class SparseMacConfig(_ConfigMixin):
    """Parameters of an N:M structured-sparse MAC unit (2:4 by default).

    Each beat the unit takes ``groups`` groups of ``m`` dense activations and,
    per group, ``n`` kept weights with their ``log2(m)``-bit positions. ``n ==
    m`` is the dense baseline built from the same code.

    Parameters
    ----------
    n, m : int
        Kept weights per group of ``m``; ``m`` is a power of two, ``1 <= n <= m``.
    groups : int
        Groups per beat (``G``).
    act_bits, w_bits : int
        Signed operand widths (8 and 16 are the supported, tested points).
    acc_bits : int
        Width of the wrapping accumulator; at least ``act_bits + w_bits``.
    w_frac_bits : int
        Requantization shift (the weights' fractional bits).
    relu : bool
        Apply ReLU after requantization.
    """

    n: int = 2
    m: int = 4
    groups: int = 1
    act_bits: int = 16
    w_bits: int = 16
    acc_bits: int = 40
    w_frac_bits: int = 12
    relu: bool = False

    def __post_init__(self):
        check_int("m", self.m, lo=1, hi=64)
        if not _is_pow2(self.m):
            raise ValueError(f"m must be a power of two, not {self.m!r}")
        check_int("n", self.n, lo=1)
        if self.n > self.m:
            raise ValueError(f"n must not exceed m ({self.m}), not {self.n!r}")
        check_int("groups", self.groups, lo=1, hi=256)
        check_int("act_bits", self.act_bits, lo=2, hi=32)
        check_int("w_bits", self.w_bits, lo=2, hi=32)
        check_int("acc_bits", self.acc_bits, lo=self.act_bits + self.w_bits, hi=MAX_ACC_BITS)
        check_int("w_frac_bits", self.w_frac_bits, lo=0, hi=self.w_bits - 1)
        if not isinstance(self.relu, bool):
            raise TypeError(f"relu must be a bool, not {self.relu!r}")

    @property
    def dense(self):
        """True for the dense baseline (``n == m``)."""
        return self.n == self.m

    @property
    def idx_bits(self):
        """Bits of one position index within a group (``log2(m)``, at least 1)."""
        return max(1, (self.m - 1).bit_length())

    @property
    def lanes(self):
        """Dense activations consumed per beat (``m * groups``)."""
        return self.m * self.groups

    @property
    def mults(self):
        """Multipliers in the unit (``n * groups``)."""
        return self.n * self.groups

    @property
    def prod_bits(self):
        """Width of one exact product."""
        return self.act_bits + self.w_bits

    @property
    def out_bits(self):
        """Width of a requantized output (the activation width)."""
        return self.act_bits


@dataclass(frozen=True)
class SparseTileConfig(_ConfigMixin):
    """Parameters of an N:M matrix-vector tile: ``units`` MAC units sharing one activation beat.

    Unit ``u`` owns rows ``u, u + units, u + 2 * units, ...`` of a layer: row block
    ``b`` is rows ``b * units`` to ``b * units + units - 1``, and unit ``u`` computes
    row ``b * units + u`` of it.

    Parameters
    ----------
    mac : SparseMacConfig
        The MAC unit every lane of the tile is built from (pattern, widths).
    units : int
        MAC units (rows computed in parallel).
    act_depth : int
        Beats of the activation buffer: the most beats ``ceil(K / (m * groups))``
        one row may have.
    weight_depth : int
        Compressed-weight words per unit (one word is one beat of one row); a
        layer needs ``row_blocks * beats`` of them.
    shared_indices : bool
        Vector-wise N:M: the ``units`` rows of a row block share one set of
        indices in every group (the layer is compressed with
        ``compress(..., block_rows=units)``), so the tile selects activations
        once for all units instead of once per unit. Only for a sparse ``mac``.
        ``False`` (the default) is the per-row format.
    """

    mac: SparseMacConfig = SparseMacConfig()
    units: int = 4
    act_depth: int = 64
    weight_depth: int = 256
    shared_indices: bool = False

    def __post_init__(self):
        if not isinstance(self.mac, SparseMacConfig):
            raise TypeError(f"mac must be a SparseMacConfig, not {self.mac!r}")
        check_int("units", self.units, lo=1, hi=256)
        check_int("act_depth", self.act_depth, lo=1, hi=1 << 20)
        check_int("weight_depth", self.weight_depth, lo=1, hi=1 << 24)
        if not isinstance(self.shared_indices, bool):
            raise TypeError(f"shared_indices must be a bool, not {self.shared_indices!r}")
        if self.shared_indices and self.mac.dense:
            raise ValueError(f"shared_indices needs a sparse mac (n < m), not "
                             f"{self.mac.n}:{self.mac.m}")

    @classmethod
    def from_dict(cls, data):
        """Build a tile configuration from :meth:`to_dict` output (``mac`` nested)."""
        data = dict(data)
        if isinstance(data.get("mac"), dict):
            data["mac"] = SparseMacConfig.from_dict(data["mac"])
        return super().from_dict(data)

    @property
    def max_blocks(self):
        """Most row blocks a layer may have (a one-beat row per weight word)."""
        return self.weight_depth


def _check_latencies(timing):
    for field in dataclasses.fields(timing):
        check_int(field.name, getattr(timing, field.name), lo=0, hi=1 << 16)


@dataclass(frozen=True)
class EieTiming(_ConfigMixin):
    """Latencies of an EIE array, in cycles, as the RTL reports them.

    :attr:`hw.eie.array.EieArray.timing` derives them from its blocks'
    ``latency`` properties; :mod:`sw_model.eie_cycles` explains how each enters
    the cycle count. There are no defaults: a timing always comes from a design.
    Cycle 0 is a layer's START cycle.

    Parameters
    ----------
    read_first : int
        Cycle of the layer's first group read (one local address in every PE).
    group_latency : int
        From a group's read to the first cycle the LNZD can take it (memory
        read, output register, requantization, mask precomputation).
    group_slots : int
        Groups the reader may run ahead of the LNZD: the read of group ``g``
        waits until the LNZD has taken group ``g - group_slots``.
    ptr_latency : int
        From a broadcast to the cycle its column sits in a PE's pointer stage
        (where it enters the activation queue, or is dropped if empty).
    credit_return : int
        From the cycle a PE releases a queue slot (pops an item, or drops an
        empty column) to the first cycle the freed credit allows a broadcast.
    pe_drain : int
        From a PE's last issue to its first idle cycle.
    idle_latency : int
        From the first cycle every PE is idle to the layer's last cycle.
    """

    read_first: int
    group_latency: int
    group_slots: int
    ptr_latency: int
    credit_return: int
    pe_drain: int
    idle_latency: int

    def __post_init__(self):
        _check_latencies(self)
        check_int("group_slots", self.group_slots, lo=1, hi=1 << 16)


@dataclass(frozen=True)
class NmTiming(_ConfigMixin):
    """Latency of an N:M MAC unit or tile, in cycles, as the RTL reports it.

    Parameters
    ----------
    latency : int
        From the cycle a unit's last input beat is accepted (a tile's last beat
        of a row block) to the cycle its result is valid.
    """

    latency: int

    def __post_init__(self):
        _check_latencies(self)
