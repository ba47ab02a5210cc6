"""Verilator regressions of the N:M MAC unit and tile (cocotb 2 benches in ``sim/``).

One pytest test per design-parameter point, each with its own build directory
under ``build_root``. The CI subset covers every (N, M), every G in {1, 2, 4}
and both operand widths at least once; the full cross product is ``slow``.
"""

import itertools

import numpy as np
import pytest

from hw.generate import Design
from hw.sparse_nm import NMMac
from sim.nm_stimulus import mac_config, tile_top
from sim.runner import run_cocotb
from sw_model.config import SparseTileConfig

pytestmark = pytest.mark.verilator

PATTERNS = [(2, 4), (1, 4), (2, 8), (4, 8), (4, 4)]


def run_design(build_root, name, top, test_module, *, data=None):
    """Write ``top`` as design ``name`` (and ``data`` as its ``.npz``), run ``test_module``."""
    build_dir = build_root / f"sparse_nm_{name}"
    _, sidecar = Design(name=name, top=top).write(build_dir)
    if data is not None:
        np.savez(build_dir / "data.npz", **data)
    run_cocotb(sidecar=sidecar, test_module=test_module, build_dir=build_dir,
               data=None if data is None else build_dir / "data.npz")


def run_tile(build_root, name, config, init_shape, family=None):
    """A tile whose memories hold a random layer of ``init_shape`` (or nothing)."""
    top, init_w = tile_top(config, init_shape, family)
    run_design(build_root, name, top, "sim.tb_nm_tile", data={"init_w": init_w})


CI_MAC_POINTS = [
    (2, 4, 1, 16),
    (1, 4, 2, 8),
    (2, 8, 4, 16),
    (4, 8, 1, 8),
    (4, 4, 2, 16),
]
SLOW_MAC_POINTS = [p for p in itertools.product(PATTERNS, (1, 2, 4), (8, 16))
                   if (*p[0], p[1], p[2]) not in CI_MAC_POINTS]


def _mac_id(point):
    n, m, groups, bits = point
    return f"{n}of{m}-g{groups}-{bits}b"


@pytest.mark.parametrize("point", CI_MAC_POINTS, ids=_mac_id)
def test_mac(build_root, point):
    run_design(build_root, f"nm-mac-{_mac_id(point)}", NMMac(config=mac_config(*point)),
               "sim.tb_nm_mac")


@pytest.mark.slow
@pytest.mark.parametrize("point", [(*nm, g, b) for nm, g, b in SLOW_MAC_POINTS], ids=_mac_id)
def test_mac_full_cross_product(build_root, point):
    run_design(build_root, f"nm-mac-{_mac_id(point)}", NMMac(config=mac_config(*point)),
               "sim.tb_nm_mac")


TILE_POINTS = {
    # 2:4, 8-bit, weights initialised at elaboration time (a 7 x 40 layer).
    "nm-tile-2of4-g2-8b": (SparseTileConfig(mac=mac_config(2, 4, 2, 8), units=3,
                                            act_depth=16, weight_depth=64), (7, 40)),
    # Dense baseline at equal multiplier count (2 per unit), 16-bit.
    "dense-tile-2of2-g1-16b": (SparseTileConfig(mac=mac_config(2, 2, 1, 16), units=2,
                                                act_depth=16, weight_depth=64), None),
    # Vector-wise 2:4 (shared indices per row block), 8-bit, initialised (a 7 x 24 layer).
    "nm-tile-2of4-shared-g2-8b": (SparseTileConfig(mac=mac_config(2, 4, 2, 8), units=3,
                                                   act_depth=16, weight_depth=64,
                                                   shared_indices=True), (7, 24)),
    # An activation memory of 5 beats (not a power of two): both halves in use
    # by back-to-back vectors of 5 beats each.
    "nm-tile-2of4-g1-8b-depth5": (SparseTileConfig(mac=mac_config(2, 4, 1, 8), units=2,
                                                   act_depth=5, weight_depth=20), None),
}


@pytest.mark.parametrize("name", list(TILE_POINTS))
def test_tile(build_root, name):
    config, init_shape = TILE_POINTS[name]
    run_tile(build_root, name, config, init_shape)


def test_tile_with_ecp5_multipliers(build_root):
    """The tile built with MULT18X18D instances (``family="ecp5"``) is the same machine.

    Simulated with the primitive's behavioural model; 16-bit signed operands
    fill the DSP's signed 18-bit inputs' sign extension.
    """
    config = SparseTileConfig(mac=mac_config(2, 4, 2, 16), units=2, act_depth=16,
                              weight_depth=64)
    run_tile(build_root, "nm-tile-2of4-g2-16b-ecp5", config, (5, 24), family="ecp5")


@pytest.mark.slow
@pytest.mark.parametrize("point", [(1, 4, 4, 16), (2, 8, 1, 8), (4, 8, 2, 16), (2, 4, 4, 8)],
                         ids=_mac_id)
def test_tile_other_patterns(build_root, point):
    config = SparseTileConfig(mac=mac_config(*point), units=3, act_depth=16, weight_depth=64)
    run_tile(build_root, f"nm-tile-{_mac_id(point)}", config, (5, 3 * point[1]))
