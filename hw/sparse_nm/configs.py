"""Named N:M configurations (``zeroskip verilog``, ``zeroskip synth``).

Every factory returns the top-level component (:class:`NMMac` or
:class:`NMTile`); :class:`hw.generate.Design` reads its configuration and
latency from it for the side-car.

The sparse/dense pairs have equal multiplier counts: ``nm-mac-2of4-g4`` and
``dense-mac-g4`` both have 8 multipliers (4 groups of 2:4 against 4 groups of
2:2), and so do the units of ``nm-tile-2of4`` and ``dense-tile``.
"""

from sw_model.config import SparseMacConfig, SparseTileConfig

from .mac import NMMac
from .tile import NMTile

__all__ = ["CONFIGS"]

_SPARSE_G4 = SparseMacConfig(n=2, m=4, groups=4)
_DENSE_G4 = SparseMacConfig(n=2, m=2, groups=4)
_SPARSE_G2 = SparseMacConfig(n=2, m=4, groups=2)
_DENSE_G2 = SparseMacConfig(n=2, m=2, groups=2)

#: Name -> zero-argument factory returning the top-level component.
CONFIGS = {
    "nm-mac-2of4": lambda: NMMac(config=SparseMacConfig()),
    "nm-mac-2of4-g4": lambda: NMMac(config=_SPARSE_G4),
    "dense-mac-g4": lambda: NMMac(config=_DENSE_G4),
    "nm-tile-2of4": lambda: NMTile(
        config=SparseTileConfig(mac=_SPARSE_G2, units=4, act_depth=64, weight_depth=512)),
    "dense-tile": lambda: NMTile(
        config=SparseTileConfig(mac=_DENSE_G2, units=4, act_depth=128, weight_depth=1024)),
}
