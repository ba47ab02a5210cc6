"""Named N:M configurations (``zeroskip verilog``, ``zeroskip synth``).

Every factory takes ``family`` (the FPGA family of the multipliers, see
:mod:`hw.primitives`; default ``None``) and returns the top-level component (:class:`NMMac` or
:class:`NMTile`); :class:`hw.generate.Design` reads its configuration and
latency from it for the side-car.

The sparse/dense pairs have equal multiplier counts: ``nm-mac-2of4-g4`` and
``dense-mac-g4`` both have 8 multipliers (4 groups of 2:4 against 4 groups of
2:2), and every tile has 4 units of 4 multipliers (16 in all): ``dense-tile``
(2 groups of 2:2, 4 activations per beat), ``nm-tile-2of4`` (2 groups of 2:4,
8 activations), ``nm-tile-4of8`` (1 group of 4:8, 8 activations) and
``nm-tile-1of4`` (4 groups of 1:4, 16 activations); ``nm-tile-2of4-shared`` is
``nm-tile-2of4`` in the vector-wise format (``shared_indices``: the 4 rows of
a row block share their indices, and the tile selects activations once). Every tile holds a layer
of up to 32 rows of 512 inputs: 512 activations (``act_depth`` beats) and 8 row
blocks of ``act_depth`` weight words per unit.
"""

from sw_model.config import SparseMacConfig, SparseTileConfig

from .mac import NMMac
from .tile import NMTile

__all__ = ["CONFIGS"]

_SPARSE_G4 = SparseMacConfig(n=2, m=4, groups=4)
_DENSE_G4 = SparseMacConfig(n=2, m=2, groups=4)
_SPARSE_G2 = SparseMacConfig(n=2, m=4, groups=2)
_DENSE_G2 = SparseMacConfig(n=2, m=2, groups=2)
_SPARSE_1OF4 = SparseMacConfig(n=1, m=4, groups=4)
_SPARSE_4OF8 = SparseMacConfig(n=4, m=8, groups=1)


def _tile(mac, *, shared_indices=False):
    """A factory of four units of ``mac``, memories for a layer of up to 32 x 512."""
    beats = 512 // mac.lanes
    config = SparseTileConfig(mac=mac, units=4, act_depth=beats, weight_depth=8 * beats,
                              shared_indices=shared_indices)
    return lambda *, family=None: NMTile(config=config, family=family)


def _mac(config):
    """A factory of one MAC unit of ``config``."""
    return lambda *, family=None: NMMac(config=config, family=family)

#: Name -> factory(family=None) returning the top-level component.
CONFIGS = {
    "nm-mac-2of4": _mac(SparseMacConfig()),
    "nm-mac-2of4-g4": _mac(_SPARSE_G4),
    "dense-mac-g4": _mac(_DENSE_G4),
    "nm-tile-2of4": _tile(_SPARSE_G2),
    "nm-tile-2of4-shared": _tile(_SPARSE_G2, shared_indices=True),
    "nm-tile-1of4": _tile(_SPARSE_1OF4),
    "nm-tile-4of8": _tile(_SPARSE_4OF8),
    "dense-tile": _tile(_DENSE_G2),
}
