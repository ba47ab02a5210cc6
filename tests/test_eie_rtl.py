"""Verilator regressions of the EIE array: one build per design-parameter point.

Each point builds ``EieArray`` for one :class:`~sw_model.config.EieConfig`, writes
its Verilog and side-car, writes the jobs of a stimulus set
(``sim/eie_stimuli.py``, from the run's seed) to an ``.npz``, and runs
``sim/tb_eie.py`` on them; the testbench checks outputs bit for bit against
``sw_model.eie_model`` and cycles and counters exactly against
``sw_model.eie_cycles``, with the timing read from the side-car. A baked-in
program runs through the same path the flow uses (:mod:`zeroskip.rtl`).
"""

import subprocess

import numpy as np
import pytest

from hw.eie.array import EieArray
from hw.eie.program import EieProgram
from hw.generate import Design
from sim.eie_stimuli import build_jobs, save_jobs, small_config
from sim.runner import VERILATOR_WAIVERS, run_cocotb
from sim.runner import test_seed as run_seed
from sim.toolchain import require_verilator
from sw_model.eie_format import encode
from sw_model.layers import random_layer
from zeroskip.progress import Progress
from zeroskip.rtl import check_eie, run_eie


def run_point(build_root, name, config, stimulus, family=None):
    """Write the design and the stimulus set's jobs (plus two chains), run the regression.

    ``family``: the FPGA family of the multipliers (simulated with the
    primitive models of :data:`sim.runner.PRIMITIVE_MODELS`).
    """
    build_dir = build_root / "eie" / name
    top = EieArray(config=config, family=family)
    _, sidecar = Design(name=f"eie-{name}", top=top).write(build_dir)
    seed = run_seed()
    rng = np.random.default_rng(seed)
    jobs = build_jobs(stimulus, config, rng)
    if stimulus not in ("full", "chains"):
        # test_reset_mid_run interrupts a chain.
        jobs += build_jobs("chains", config, rng)
    save_jobs(build_dir / "jobs.npz", jobs, load=True)
    run_cocotb(sidecar=sidecar, test_module="sim.tb_eie", build_dir=build_dir,
               data=build_dir / "jobs.npz", seed=seed)


# (name, n_pe, queue_depth, entries_per_word, stimulus, family, acc_bits).
# Together these cover 1, 2, 3, 4, 6, 8 and 16 PEs, queue depths (credits)
# 1, 2, 8, the default 16 and 32, every stimulus set (chains with bias columns
# included), the ECP5 build (MULT18X18D and DP16KD instances) and the iCE40
# build (the matrix in SB_SPRAM256KA, whose model returns a corrupted word for
# a read made in a write cycle) as well as the generic one, and the narrowest
# accumulator (32 bits), which the "special" set's extreme layer makes wrap.
POINTS = [
    ("pe1_q1", 1, 1, 2, "full", None, 40),
    ("pe2_q2", 2, 2, 8, "full", None, 40),
    ("pe3_q16", 3, 16, 4, "full", None, 40),
    ("pe4_q8", 4, 8, 4, "full", None, 40),
    ("pe8_q1", 8, 1, 1, "densities", None, 40),
    ("pe16_q2", 16, 2, 8, "special", None, 32),
    ("pe2_q16_ecp5", 2, 16, 4, "densities", "ecp5", 40),
    ("pe6_q32", 6, 32, 2, "basic", None, 40),
    ("pe2_q2_ice40", 2, 2, 2, "full", "ice40", 32),
]


@pytest.mark.verilator
@pytest.mark.parametrize("name,n_pe,queue_depth,epw,stimulus,family,acc_bits", POINTS,
                         ids=[p[0] for p in POINTS])
def test_eie_rtl(build_root, name, n_pe, queue_depth, epw, stimulus, family, acc_bits):
    config = small_config(n_pe, queue_depth, entries_per_word=epw, acc_bits=acc_bits)
    run_point(build_root, name, config, stimulus, family)


SLOW_POINTS = [(n_pe, q) for n_pe in (1, 2, 4, 8, 16) for q in (1, 2, 8)]


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.parametrize("n_pe,queue_depth", SLOW_POINTS,
                         ids=[f"pe{p}_q{q}" for p, q in SLOW_POINTS])
def test_eie_rtl_sweep(build_root, n_pe, queue_depth):
    config = small_config(n_pe, queue_depth)
    run_point(build_root, f"sweep_pe{n_pe}_q{queue_depth}", config, "full")


@pytest.mark.verilator
@pytest.mark.parametrize("family", [None, "ecp5"])
def test_baked_program_runs(build_root, family):
    """A program baked into the memories runs without loading; outputs and cycles match.

    With ``family="ecp5"`` the program sits in the DP16KD blocks' INITVAL
    parameters (simulated by ``sim/models/ecp5_cells.v``).
    """
    config = small_config(4, 4, act_depth=16, ptr_depth=64, matrix_depth=64)
    idx, cb, acts = random_layer(21, 14, 0.4, 0.5, seed=5)
    idx2, cb2, _ = random_layer(14, 9, 0.5, 1.0, seed=6)
    chain = [(encode(idx, cb, config=config), True), (encode(idx2, cb2, config=config), False)]
    top = EieArray(config=config, program=EieProgram(chain, config=config), family=family)
    folder = build_root / "eie" / f"baked_{family or 'generic'}"
    _, sidecar = Design(name="eie-baked", top=top).write(folder)
    rng = np.random.default_rng(5)
    vectors = np.stack([acts, np.where(rng.random(21) < 0.3, acts, 0), np.zeros(21, int)])
    run = run_eie(sidecar, chain, vectors, build_dir=folder,
                  progress=Progress(quiet=True), chunk=2)
    check = check_eie(run, chain, vectors)
    assert check.outputs_match.tolist() == [True] * 3
    assert check.cycles_match.tolist() == [True] * 3
    assert run.cycles.tolist() == check.model_cycles.tolist()
    # The all-zero vector: no broadcast, zero outputs.
    assert not run.outputs[2].any() and run.busy[2].tolist() == [0] * 4


@pytest.mark.verilator
@pytest.mark.parametrize("max_layers", [1, 4, 7])
def test_eie_verilator_lint(build_root, max_layers):
    """``verilator --lint-only -Wall`` is clean apart from the runner's named waivers.

    ``max_layers`` 1 and 7 fill their bit fields (a comparison with the
    largest value would be constant, which Verilator stops on).
    """
    design = Design(name="eie-lint",
                    top=EieArray(config=small_config(4, 2, max_layers=max_layers)))
    v_path, _ = design.write(build_root / "eie" / f"lint{max_layers}")
    result = subprocess.run(
        [require_verilator(), "--lint-only", "-Wall", *VERILATOR_WAIVERS,
         "--top-module", design.toplevel, str(v_path)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "%Warning" not in result.stderr, result.stderr
