"""Named N:M configurations for ``python -m hw``.

Every factory returns a :class:`hw.generate.Design` whose ``config`` side-car
holds ``kind`` (``"mac"`` or ``"tile"``), ``params`` (the
``SparseMacConfig`` / ``SparseTileConfig`` as a dict) and ``latency`` (the
block's ``latency`` property), so testbenches and reports read timing from
the build rather than repeating it.

The sparse/dense pairs have equal multiplier counts: ``nm-mac-2of4-g4`` and
``dense-mac-g4`` both have 8 multipliers (4 groups of 2:4 against 4 groups of
2:2), and so do the units of ``nm-tile-2of4`` and ``dense-tile``.
"""

from sw_model.config import SparseMacConfig, SparseTileConfig

from ..generate import Design
from .mac import NMMac
from .tile import NMTile

__all__ = ["CONFIGS", "mac_design", "tile_design"]

ENGINE = "sparse_nm"


def mac_design(config):
    """A :class:`Design` of one :class:`NMMac` built from ``config``."""
    top = NMMac(config=config)
    return Design(top=top, engine=ENGINE,
                  config={"kind": "mac", "params": config.to_dict(), "latency": top.latency})


def tile_design(config, *, init=None, extra=None):
    """A :class:`Design` of one :class:`NMTile`; ``extra`` adds side-car entries.

    ``extra`` records how ``init`` was made (for instance the seed and shape
    of the random layer it holds) so a testbench can rebuild the expectation.
    """
    top = NMTile(config=config, init=init)
    sidecar = {"kind": "tile", "params": config.to_dict(), "latency": top.latency}
    sidecar.update(extra or {})
    return Design(top=top, engine=ENGINE, config=sidecar)


_SPARSE_G4 = SparseMacConfig(n=2, m=4, groups=4)
_DENSE_G4 = SparseMacConfig(n=2, m=2, groups=4)
_SPARSE_G2 = SparseMacConfig(n=2, m=4, groups=2)
_DENSE_G2 = SparseMacConfig(n=2, m=2, groups=2)

CONFIGS = {
    "nm-mac-2of4": lambda: mac_design(SparseMacConfig()),
    "nm-mac-2of4-g4": lambda: mac_design(_SPARSE_G4),
    "dense-mac-g4": lambda: mac_design(_DENSE_G4),
    "nm-tile-2of4": lambda: tile_design(
        SparseTileConfig(mac=_SPARSE_G2, units=4, act_depth=64, weight_depth=512)),
    "dense-tile": lambda: tile_design(
        SparseTileConfig(mac=_DENSE_G2, units=4, act_depth=128, weight_depth=1024)),
}
