"""Verilator regressions of the EIE array: one build per design-parameter point.

Each point builds ``EieArray`` for one :class:`~sw_model.config.EieConfig` and
runs ``sim/tb_eie.py`` on it with a stimulus set from ``sim/eie_stimuli.py``;
the testbench checks outputs bit for bit against ``sw_model.eie_model`` and
cycles and counters exactly against ``sw_model.eie_cycles``.
"""

import dataclasses
import json
import subprocess

import pytest

from hw.eie.array import EieArray
from hw.generate import Design, generate
from sim.runner import VERILATOR_WAIVERS, run_cocotb
from sim.toolchain import require_verilator
from sw_model.config import EieConfig


def small_config(n_pe, queue_depth, **kw):
    """A configuration small enough to simulate quickly, big enough for the stimuli."""
    args = dict(n_pe=n_pe, queue_depth=queue_depth, entries_per_word=4, act_depth=48,
                ptr_depth=512, matrix_depth=512, max_layers=4)
    args.update(kw)
    return EieConfig(**args)


def build_verilog(name, config, build_dir):
    """Write the array's Verilog into ``build_dir``; return (path, toplevel, timing JSON)."""
    top = EieArray(config=config)
    timing = json.dumps(dataclasses.asdict(top.timing))
    v_path, _ = generate(name, build_dir, design=Design(top=top, engine="eie",
                                                        config=config.to_dict()))
    return v_path, name.replace("-", "_"), timing


def run_point(build_root, name, config, stimulus, *, testcase=None):
    build_dir = build_root / "eie" / name
    v_path, toplevel, timing = build_verilog(f"eie-{name}", config, build_dir)
    run_cocotb(verilog=v_path, toplevel=toplevel, test_module="sim.tb_eie",
               build_dir=build_dir, testcase=testcase,
               extra_env={"EIE_CONFIG": json.dumps(config.to_dict()),
                          "EIE_TIMING": timing, "EIE_STIMULUS": stimulus})


# (name, n_pe, queue_depth, entries_per_word, stimulus). Together these cover
# 1, 2, 4, 8 and 16 PEs, queue depths 1, 2 and 8 and every stimulus set.
POINTS = [
    ("pe1_q1", 1, 1, 2, "full"),
    ("pe2_q2", 2, 2, 8, "full"),
    ("pe4_q8", 4, 8, 4, "full"),
    ("pe8_q1", 8, 1, 1, "densities"),
    ("pe16_q2", 16, 2, 8, "special"),
]


@pytest.mark.verilator
@pytest.mark.parametrize("name,n_pe,queue_depth,epw,stimulus", POINTS,
                         ids=[p[0] for p in POINTS])
def test_eie_rtl(build_root, name, n_pe, queue_depth, epw, stimulus):
    config = small_config(n_pe, queue_depth, entries_per_word=epw)
    run_point(build_root, name, config, stimulus)


SLOW_POINTS = [(n_pe, q) for n_pe in (1, 2, 4, 8, 16) for q in (1, 2, 8)]


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.parametrize("n_pe,queue_depth", SLOW_POINTS,
                         ids=[f"pe{p}_q{q}" for p, q in SLOW_POINTS])
def test_eie_rtl_sweep(build_root, n_pe, queue_depth):
    config = small_config(n_pe, queue_depth)
    run_point(build_root, f"sweep_pe{n_pe}_q{queue_depth}", config, "full")


@pytest.mark.verilator
def test_eie_verilator_lint(build_root):
    """``verilator --lint-only -Wall`` is clean apart from the runner's named waivers."""
    config = small_config(4, 2)
    build_dir = build_root / "eie" / "lint"
    v_path, toplevel, _ = build_verilog("eie-lint", config, build_dir)
    result = subprocess.run(
        [require_verilator(), "--lint-only", "-Wall", *VERILATOR_WAIVERS,
         "--top-module", toplevel, str(v_path)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "%Warning" not in result.stderr, result.stderr
