"""``zeroskip bench eie-rtl``: the EIE RTL under Verilator on Table III layers.

    zeroskip bench eie-rtl --scale 0.5 --write
    zeroskip bench eie-rtl --layers NT-We NT-LSTM --pes 8 64

Each layer is drawn at the EIE paper's densities (the same draw as the
cycle-model benchmark, :func:`zeroskip.bench.eie_cycles.table3_workloads`),
its dimensions optionally scaled by ``--scale``. For every PE count of
``--pes`` one array is sized for the layers by
:func:`sw_model.eie_format.fit_config` (one layer loaded at a time, exact
memory sizes), written (:meth:`hw.generate.Design.write`) and built once by
Verilator; the layers are then loaded through the host port and run one after
another in one simulation (``sim.tb_eie_run``). The RTL's outputs must equal
the golden model (:func:`sw_model.eie_model.eie_chain`) and its cycles and per-PE
busy and stall counters the cycle model (:func:`sw_model.eie_cycles.layer_cycles`
with the written design's timing): any difference stops the benchmark with an
:class:`AssertionError` naming the layer. Building a 64-PE array and loading
full-size layers through cocotb take hours; 8 PEs at a reduced scale take minutes.
"""

import time
from pathlib import Path

import numpy as np

from hw.eie.array import EieArray
from hw.generate import Design, load_sidecar
from sw_model.config import EieConfig
from sw_model.eie_cycles import layer_cycles
from sw_model.eie_format import encode, fit_config
from sw_model.eie_model import eie_chain

from ..options import MAX_PE, MAX_QUEUE_DEPTH, check_int_option, check_out
from .eie_cycles import (
    add_layer_arguments,
    check_layer_arguments,
    check_pe_counts,
    table3_workloads,
)

__all__ = ["TITLE", "HELP", "add_arguments", "measure"]

TITLE = "EIE RTL under Verilator on Table III layers"

HELP = ("the EIE RTL under Verilator on Table III layers, checked against the models "
        "(minutes for 8 PEs at --scale 0.5; hours for 64 PEs at full size)")

#: All nine Table III layers, smallest first: the full measurement.
_FULL_LAYERS = "NT-LSTM NT-Wd NT-We Alex-8 VGG-8 VGG-7 Alex-7 Alex-6 VGG-6"


def add_arguments(parser):
    """The options of ``zeroskip bench eie-rtl``."""
    add_layer_arguments(parser, layers=["NT-We", "NT-LSTM"], seed=1)
    parser.add_argument("--pes", type=int, nargs="+", default=[8], metavar="N",
                        help=f"PE counts, one Verilator build each, 1 to {MAX_PE} "
                             f"(default: 8)")
    parser.add_argument("--queue-depth", type=int, default=8, metavar="D",
                        help=f"activation queue depth, 1 to {MAX_QUEUE_DEPTH} "
                             f"(default %(default)s)")
    parser.add_argument("--out", default="build/bench_eie_rtl",
                        help="build folder, one sub-folder per PE count (default %(default)s)")


def _check(what, got, want, name, n_pe, build_dir):
    if not np.array_equal(got, want):
        raise AssertionError(f"{name} on {n_pe} PEs: the RTL's {what} differ from the model's "
                             f"(RTL {np.asarray(got).tolist()!s:.200}, model "
                             f"{np.asarray(want).tolist()!s:.200}); simulation in {build_dir}")


def _run_pe_count(workloads, n_pe, args, progress):
    """One build for ``n_pe`` PEs, every layer run on it; one row dict per layer."""
    from sim.eie_stimuli import Job, save_jobs
    from sim.runner import run_cocotb

    base = EieConfig(n_pe=n_pe, queue_depth=args.queue_depth)
    config = fit_config([w.indices for w in workloads], base, at_once=False, pow2=False)
    layers = [encode(w.indices, w.codebook, config=config) for w in workloads]
    build_dir = Path(args.out).resolve() / f"pe{n_pe}"
    started = time.perf_counter()
    design = Design(name=f"eie-bench-{n_pe}pe", top=EieArray(config=config))
    _, sidecar = design.write(build_dir)
    generated = time.perf_counter()
    progress.note(f"Verilog written in {generated - started:.1f} s: {sidecar}")
    save_jobs(build_dir / "in.npz",
              [Job(w.spec.name, [(layer, False)], w.acts) for w, layer in zip(
                  workloads, layers, strict=True)], load=True)
    run_cocotb(sidecar=sidecar, test_module="sim.tb_eie_run", build_dir=build_dir,
               data=build_dir / "in.npz", out=build_dir / "out.npz", seed=args.seed,
               cxx_opt="-Os", announce=False)
    simulated = time.perf_counter()
    timing = load_sidecar(sidecar).timing
    result = np.load(build_dir / "out.npz", allow_pickle=False)
    rows = []
    for k, (w, layer) in enumerate(zip(workloads, layers, strict=True)):
        (i,) = np.flatnonzero(result["job"] == k)
        name = w.spec.name
        model = layer_cycles(layer, w.acts, config=config, timing=timing)
        golden = eie_chain([(layer, False)], w.acts, config=config)[-1]
        _check("outputs", result["outputs"][i, :result["n_out"][i]], golden, name, n_pe,
               build_dir)
        _check("cycles", result["cycles"][i], model.cycles, name, n_pe, build_dir)
        _check("busy counters", result["busy"][i], model.busy, name, n_pe, build_dir)
        _check("stall counters", result["stall"][i], model.stall, name, n_pe, build_dir)
        rows.append({"workload": w, "n_pe": n_pe, "cycles": model.cycles,
                     "efficiency": model.efficiency,
                     "load_seconds": float(result["load_seconds"][k]),
                     "run_seconds": float(result["run_seconds"][k]),
                     "generate_seconds": generated - started,
                     "build_and_sim_seconds": simulated - generated})
        progress.note(f"{name}: {model.cycles} cycles, RTL = models")
    return rows


def _table(rows):
    lines = ["| Layer | Size (in x out) | PEs | Cycles (RTL = model) | Efficiency "
             "| Load (s) | Run (s) | Sim speed (cycles/s) | Verilog gen (s) "
             "| Build + all sims (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['workload'].spec.name} | {r['workload'].size} | {r['n_pe']} | {r['cycles']} "
            f"| {r['efficiency']:.1%} | {r['load_seconds']:.1f} | {r['run_seconds']:.2f} "
            f"| {r['cycles'] / r['run_seconds']:.0f} | {r['generate_seconds']:.0f} "
            f"| {r['build_and_sim_seconds']:.0f} |")
    return lines


def measure(args, progress):
    """Build, load and run every layer on every PE count; the Markdown body."""
    check_layer_arguments(args)
    check_pe_counts(args.pes)
    check_int_option("--queue-depth", args.queue_depth, 1, MAX_QUEUE_DEPTH)
    check_out("--out", args.out)
    with progress.step(f"drawing {len(args.layers)} Table III layer(s) at scale "
                       f"{args.scale:g}"):
        workloads = table3_workloads(args.layers, scale=args.scale, seed=args.seed,
                                     progress=progress)
    rows = []
    for n_pe in args.pes:
        with progress.step(f"{', '.join(args.layers)} on {n_pe} PEs (build, load, run)"):
            rows += _run_pe_count(workloads, n_pe, args, progress)
    lines = [
        f"Table III layers drawn at the EIE paper's densities (`sw_model.layers`, seed "
        f"{args.seed}, every dimension scaled by {args.scale:g}), one input vector each. "
        f"For each PE count one array (queue depth {args.queue_depth}) is sized for the layers "
        f"by `fit_config` (one layer loaded at a time, exact memory sizes), written and built "
        f"once by Verilator (C++ `-Os`); the layers are loaded through the host port and run "
        f"in turn in one simulation (`sim.tb_eie_run`). Every row passed the checks: outputs "
        f"equal to the golden model, cycles and per-PE busy and stall counters equal to the "
        f"cycle model with the design's timing (the benchmark stops otherwise).", "",
        "Load = wall time of writing the layer through the host port (cocotb); Run = wall "
        "time of the vector's host exchange (inputs written, run, outputs and counters read); "
        "Sim speed = layer cycles / Run, so it includes the host exchange; Verilog gen and "
        "Build + all sims are per PE count (the build, every load and every run). The "
        "machine may be shared with other jobs: the times are indicative.", "",
        *_table(rows), ""]
    if args.scale != 1 or max(args.pes) < 64 or len(args.layers) < 9:
        lines.append(f"This is a selection. The full measurement is all nine layers at the "
                     f"paper's sizes on 8 and 64 PEs (`zeroskip bench eie-rtl --layers "
                     f"{_FULL_LAYERS} --pes 8 64 --write`); at those sizes the 8-PE array "
                     f"needs 3136 accumulator rows per PE, whose valid flags are flip-flops, "
                     f"and its Verilator build does not fit in 24 GiB of memory "
                     f"([`eie.md`](eie.md), known limits). The cycle model "
                     f"([`bench_eie_cycles.md`](bench_eie_cycles.md)) gives the cycles of "
                     f"every layer at full size.")
    return "\n".join(lines)
