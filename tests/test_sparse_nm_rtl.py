"""Verilator regressions of the N:M MAC unit and tile (cocotb 2 benches in ``sim/``).

One pytest test per design-parameter point, each with its own build directory
under ``build_root``. The CI subset covers every (N, M), every G in {1, 2, 4}
and both operand widths at least once; the full cross product is ``slow``.
"""

import itertools
from pathlib import Path

import pytest

from hw.generate import generate
from hw.sparse_nm.configs import mac_design, tile_design
from sim.nm_stimulus import init_image
from sim.runner import run_cocotb
from sw_model.config import SparseMacConfig, SparseTileConfig

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.verilator

PATTERNS = [(2, 4), (1, 4), (2, 8), (4, 8), (4, 4)]


def mac_config(n, m, groups, bits):
    """Operand width ``bits``; a narrow accumulator at 8 bits so wrapping is reached quickly."""
    if bits == 8:
        return SparseMacConfig(n=n, m=m, groups=groups, act_bits=8, w_bits=8, acc_bits=20,
                               w_frac_bits=6, relu=(n == 1))
    return SparseMacConfig(n=n, m=m, groups=groups, act_bits=16, w_bits=16, acc_bits=40,
                           w_frac_bits=12)


def run_design(build_root, name, design, test_module):
    build_dir = build_root / f"sparse_nm_{name}"
    v_path, j_path = generate(name, build_dir, design=design)
    run_cocotb(verilog=v_path, toplevel=name.replace("-", "_"), test_module=test_module,
               build_dir=build_dir,
               extra_env={"NM_SIDECAR": j_path, "PYTHONPATH": ROOT})


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
    run_design(build_root, f"nm-mac-{_mac_id(point)}", mac_design(mac_config(*point)),
               "sim.tb_sparse_nm")


@pytest.mark.slow
@pytest.mark.parametrize("point", [(*nm, g, b) for nm, g, b in SLOW_MAC_POINTS], ids=_mac_id)
def test_mac_full_cross_product(build_root, point):
    run_design(build_root, f"nm-mac-{_mac_id(point)}", mac_design(mac_config(*point)),
               "sim.tb_sparse_nm")


TILE_POINTS = {
    # 2:4, 8-bit, weights initialised at elaboration time (a 7 x 40 layer).
    "nm-tile-2of4-g2-8b": (SparseTileConfig(mac=mac_config(2, 4, 2, 8), units=3,
                                            act_depth=16, weight_depth=64), (7, 40)),
    # Dense baseline at equal multiplier count (2 per unit), 16-bit.
    "dense-tile-2of2-g1-16b": (SparseTileConfig(mac=mac_config(2, 2, 1, 16), units=2,
                                                act_depth=16, weight_depth=64), None),
}


@pytest.mark.parametrize("name", list(TILE_POINTS))
def test_tile(build_root, name):
    config, init_shape = TILE_POINTS[name]
    if init_shape is None:
        design = tile_design(config)
    else:
        rows, k = init_shape
        image, extra = init_image(config, seed=2016, rows=rows, k=k)
        design = tile_design(config, init=image, extra=extra)
    run_design(build_root, name, design, "sim.nm_tile_tb")


@pytest.mark.slow
@pytest.mark.parametrize("point", [(1, 4, 4, 16), (2, 8, 1, 8), (4, 8, 2, 16), (2, 4, 4, 8)],
                         ids=_mac_id)
def test_tile_other_patterns(build_root, point):
    config = SparseTileConfig(mac=mac_config(*point), units=3, act_depth=16, weight_depth=64)
    image, extra = init_image(config, seed=2016, rows=5, k=3 * point[1])
    run_design(build_root, f"nm-tile-{_mac_id(point)}",
               tile_design(config, init=image, extra=extra), "sim.nm_tile_tb")
