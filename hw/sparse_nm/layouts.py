"""Stream payload layouts of the N:M blocks.

The layouts are the one description of every payload's bit positions: the RTL
uses them as ``StructLayout`` shapes, and :func:`hw.layouts.pack` /
:func:`hw.layouts.unpack` read the field offsets from the same objects to build
or decode the flat integers a cocotb testbench drives, or a ``Memory`` is
initialised with.
"""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from sw_model.config import SparseMacConfig, SparseTileConfig

from ..layouts import pack, unpack

__all__ = [
    "act_beat_layout",
    "mac_beat_layout",
    "mac_result_layout",
    "weight_word_layout",
    "weight_load_layout",
    "tile_result_layout",
    "pack",
    "unpack",
]


def _check_mac(config):
    if not isinstance(config, SparseMacConfig):
        raise TypeError(f"config must be a SparseMacConfig, not {config!r}")


def _check_tile(config):
    if not isinstance(config, SparseTileConfig):
        raise TypeError(f"config must be a SparseTileConfig, not {config!r}")


def act_beat_layout(config):
    """One beat of dense activations: ``m * groups`` signed ``act_bits`` elements."""
    _check_mac(config)
    return data.ArrayLayout(signed(config.act_bits), config.lanes)


def weight_word_layout(config):
    """One beat of compressed weights: ``n * groups`` values and (unless dense) their indices.

    Entry ``g * n + j`` is kept weight ``j`` of group ``g``. The dense baseline
    (``n == m``) has no ``indices`` field: its weights sit at fixed positions.
    """
    _check_mac(config)
    fields = {"weights": data.ArrayLayout(signed(config.w_bits), config.mults)}
    if not config.dense:
        fields["indices"] = data.ArrayLayout(unsigned(config.idx_bits), config.mults)
    return data.StructLayout(fields)


def mac_beat_layout(config):
    """Input beat of :class:`NMMac`: activations, a weight word, ``first`` and ``last``."""
    _check_mac(config)
    fields = {"acts": act_beat_layout(config)}
    fields.update({name: field.shape for name, field in weight_word_layout(config)})
    fields["first"] = unsigned(1)
    fields["last"] = unsigned(1)
    return data.StructLayout(fields)


def mac_result_layout(config):
    """Output of :class:`NMMac`: the requantized ``value`` and the raw wrapped ``acc``."""
    _check_mac(config)
    return data.StructLayout({
        "value": signed(config.out_bits),
        "acc": signed(config.acc_bits),
    })


def _index_shape(count):
    return unsigned(max(1, (count - 1).bit_length()))


def weight_load_layout(config):
    """Host write into a tile's weight memories: ``unit``, ``addr`` and the weight ``word``."""
    _check_tile(config)
    return data.StructLayout({
        "unit": _index_shape(config.units),
        "addr": _index_shape(config.weight_depth),
        "word": weight_word_layout(config.mac),
    })


def tile_result_layout(config):
    """Output of :class:`NMTile` for one row block: ``units`` values and accumulators.

    ``last`` marks the final row block of a vector.
    """
    _check_tile(config)
    return data.StructLayout({
        "values": data.ArrayLayout(signed(config.mac.out_bits), config.units),
        "accs": data.ArrayLayout(signed(config.mac.acc_bits), config.units),
        "last": unsigned(1),
    })
