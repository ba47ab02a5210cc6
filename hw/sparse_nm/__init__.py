"""N:M structured-sparse MAC unit and matrix-vector tile (2:4 by default).

See ``docs/sparse_nm.md`` for the datapath, the stream protocol and the
latency formulas; ``sw_model.nm_model`` is the bit-exact specification.
"""

from .adder_tree import AdderTree
from .layouts import (
    act_beat_layout,
    mac_beat_layout,
    mac_result_layout,
    pack,
    tile_result_layout,
    unpack,
    weight_load_layout,
    weight_word_layout,
)
from .mac import NMMac
from .select import NMIndexDecode, NMSelect, offset_bits
from .tile import NMTile
from .weights import (
    tile_activation_beats,
    tile_shape,
    tile_weight_image,
    tile_weights_from_dense,
)

__all__ = [
    "act_beat_layout",
    "AdderTree",
    "NMIndexDecode",
    "NMMac",
    "NMSelect",
    "NMTile",
    "mac_beat_layout",
    "mac_result_layout",
    "offset_bits",
    "pack",
    "tile_activation_beats",
    "tile_result_layout",
    "tile_shape",
    "tile_weight_image",
    "tile_weights_from_dense",
    "unpack",
    "weight_load_layout",
    "weight_word_layout",
]
