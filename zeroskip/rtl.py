"""Running written designs in Verilator: the EIE array on input vectors, an N:M tile on a layer.

Both take a design that :meth:`hw.generate.Design.write` put on disk (its
Verilog and side-car): the testbench reads the side-car for the typed
configuration and timing, and an ``.npz`` this module writes for the data; it
writes its measurements to another ``.npz``. Nothing travels through
environment variables but those two paths. Comparison with the golden and
cycle models is :func:`check_eie`'s job, so a run that differs is reported,
not lost in a failed simulation.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw.generate import load_sidecar
from sw_model.eie_cycles import chain_cycles
from sw_model.eie_model import eie_chain

__all__ = ["EieRun", "EieCheck", "NmRun", "run_eie", "check_eie", "run_nm_tile"]


@dataclass(frozen=True)
class EieRun:
    """Measurements of a batch of vectors through an EIE array, one row per vector.

    ``outputs`` (``int64``, ``(vectors, n_out)``): the last layer's outputs;
    ``cycles`` (``(vectors,)``): the run's cycle counter; ``busy`` and
    ``stall`` (``(vectors, n_pe)``): the PEs' counters; ``design``: the
    :class:`~hw.generate.DesignInfo` that ran.
    """

    outputs: np.ndarray
    cycles: np.ndarray
    busy: np.ndarray
    stall: np.ndarray
    design: object


@dataclass(frozen=True)
class EieCheck:
    """An :class:`EieRun` against the golden model and the cycle model, per vector."""

    golden: np.ndarray
    model_cycles: np.ndarray
    ideal_cycles: np.ndarray
    outputs_match: np.ndarray
    cycles_match: np.ndarray

    @property
    def ok(self):
        """Every output and every cycle count equal the models."""
        return bool(self.outputs_match.all() and self.cycles_match.all())


@dataclass(frozen=True)
class NmRun:
    """One layer's products on an N:M tile, checked bit for bit against the golden model.

    ``outputs`` (``(vectors, rows)``), ``cycles`` from the first activation beat
    accepted to the last result, ``beats`` per row block and ``blocks``.
    """

    outputs: np.ndarray
    cycles: int
    beats: int
    blocks: int
    design: object


def _sim_dir(build_dir):
    path = Path(build_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_eie(sidecar, layers_relus, acts, *, build_dir, progress, chunk=64):
    """Run every row of ``acts`` through the written EIE design ``sidecar`` (a path).

    The design must hold ``layers_relus`` already (an ``EieArray`` built with
    their program baked in); the testbench gets the layers too, to know the
    chain's shape. Each vector's inputs are written through the host port, the
    chain is run, the outputs and counters read back. Vectors go in chunks of
    ``chunk``, one simulator run each, with a progress bar between them.
    """
    from sim.eie_stimuli import Job, save_jobs
    from sim.runner import run_cocotb

    info = load_sidecar(sidecar)
    if info.engine != "eie":
        raise ValueError(f"{str(sidecar)!r} is a {info.engine} design, not an EIE array")
    acts = np.asarray(acts, dtype=np.int64)
    sim_dir = _sim_dir(build_dir)
    parts = {"outputs": [], "cycles": [], "busy": [], "stall": []}
    with progress.bar(len(acts), "vectors through the RTL") as bar:
        for start in range(0, len(acts), chunk):
            batch = acts[start:start + chunk]
            save_jobs(sim_dir / "in.npz", [Job("vectors", layers_relus, batch)], load=False)
            run_cocotb(sidecar=sidecar, test_module="sim.tb_eie_run", build_dir=sim_dir,
                       seed=0, data=sim_dir / "in.npz", out=sim_dir / "out.npz",
                       announce=False)
            result = np.load(sim_dir / "out.npz", allow_pickle=False)
            for key, value in parts.items():
                value.append(result[key])
            bar.advance(len(batch))
    return EieRun(design=info, **{k: np.concatenate(v) for k, v in parts.items()})


def check_eie(run, layers_relus, acts):
    """Compare an :class:`EieRun` with the golden model and the cycle model."""
    info = run.design
    golden, model, ideal = [], [], []
    for x in np.asarray(acts, dtype=np.int64):
        golden.append(eie_chain(layers_relus, x, config=info.config)[-1])
        total, _ = chain_cycles(layers_relus, x, config=info.config, timing=info.timing)
        model.append(total.cycles)
        ideal.append(total.ideal)
    golden = np.array(golden, dtype=np.int64).reshape(run.outputs.shape)
    model = np.array(model, dtype=np.int64)
    return EieCheck(golden=golden, model_cycles=model, ideal_cycles=np.array(ideal),
                    outputs_match=np.all(run.outputs == golden, axis=1),
                    cycles_match=run.cycles == model)


def run_nm_tile(sidecar, w, acts, *, build_dir):
    """Load ``w`` into the written N:M tile ``sidecar`` and run every row of ``acts``.

    ``w`` is the layer's integer weight matrix (dense layout; N:M sparse for a
    sparse tile). The testbench checks every result against
    :func:`sw_model.nm_model.nm_matvec` and fails the run if one differs.
    """
    from sim.runner import run_cocotb

    info = load_sidecar(sidecar)
    if info.engine != "nm_tile":
        raise ValueError(f"{str(sidecar)!r} is a {info.engine} design, not an N:M tile")
    sim_dir = _sim_dir(build_dir)
    np.savez(sim_dir / "in.npz", w=np.asarray(w, dtype=np.int64),
             acts=np.asarray(acts, dtype=np.int64))
    run_cocotb(sidecar=sidecar, test_module="sim.tb_nm_run", build_dir=sim_dir, seed=0,
               data=sim_dir / "in.npz", out=sim_dir / "out.npz", announce=False)
    result = np.load(sim_dir / "out.npz", allow_pickle=False)
    return NmRun(outputs=result["outputs"], cycles=int(result["cycles"]),
                 beats=int(result["beats"]), blocks=int(result["blocks"]), design=info)
