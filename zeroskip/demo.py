"""``zeroskip demo``: a real pruned network, compressed and run on the generated RTL.

The main job of zeroskip, end to end, with nothing downloaded:

1. train a small ReLU MLP on scikit-learn's bundled digits, with a bias in
   every layer (``--no-bias`` for none), or take your weights (``--weights``,
   biases ``b<i>`` optional; fine-tuned only with ``--finetune``);
2. prune it and compress it exactly as ``zeroskip compile`` does, into the
   output folder (Verilog, side-car, model); start the FPGA synthesis of that
   design in the background;
3. run the golden model on every test vector, and the first ``--images`` of
   them through the Verilated EIE array, all layers on chip, checking every
   output and cycle count against the golden and cycle models;
4. prune a copy of the network to 2:4 and run its first layer on the N:M tile
   and on a dense tile with as many multipliers (the tile has no bias: the
   copy leaves the biases out);
5. collect the synthesis and write the report (Markdown, JSON) and plots.

Every option is checked, and your weights are loaded, before anything runs or
any folder is made. Exit status 0 when every check passed, 1 when the RTL
differed from a model, 2 for bad input.
"""

import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from sw_model.config import EieConfig
from sw_model.train import Mlp

from .compile import (
    EvalSet,
    compile_network,
    evaluate,
    evaluation_set,
    output_files,
    start_report,
)
from .compression import check_network_fits
from .errors import EXIT_FAILED, EXIT_OK, UserError
from .nm_copy import NM_GROUPS, NM_UNITS, M, N, nm_copy, nm_golden, run_tiles
from .options import (
    MAX_PE,
    MAX_QUEUE_DEPTH,
    MAX_SEED,
    add_array_arguments,
    add_pruning_arguments,
    check_density,
    check_int_option,
    check_mhz,
    check_out,
    make_out,
    parse_widths,
)
from .plots import write_plots
from .report import pct, write_report
from .simulate import cycle_summary, simulate_eie
from .synthesis import CACHE_DIR, SynthJob
from .training import (
    DIGITS_INPUTS,
    EPOCHS,
    HIDDEN,
    accuracy,
    check_finetune,
    digits,
    one_blas_thread,
    prune_network,
    train_builtin,
)
from .weights import bias_text, dims, layer_sizes, load_weights

__all__ = ["HELP", "DemoOptions", "DemoPlan", "add_arguments", "plan_demo", "run_demo", "run"]

HELP = "train (or import) a network, compress it, run it on the RTL, synthesize it, report"


@dataclass(frozen=True)
class DemoOptions:
    """What the demo does; the command-line options map one to one onto these fields.

    ``hidden`` ``None`` means :data:`~zeroskip.training.HIDDEN` for the
    built-in MLP; ``images`` 0 means every test vector; ``weights`` ``None``
    means the built-in MLP; ``bias`` gives the built-in MLP a bias in every
    layer (a weights file has the biases it holds).
    """

    out: str = "build/demo"
    n_pe: int = 8
    queue_depth: int = EieConfig().queue_depth
    density: float = 0.1
    hidden: str | None = None
    images: int = 0
    weights: str | None = None
    finetune: bool = False
    bias: bool = True
    seed: int = 0
    nm: bool = True
    synth: bool = True
    target: str = "ecp5-25f-6"
    # None: the target's own goal (`Device.default_freq`), set by plan_demo.
    synth_mhz: float | None = None


@dataclass(frozen=True)
class DemoPlan:
    """The checked options and everything loaded before the run starts."""

    options: DemoOptions
    out: Path
    hidden: tuple
    network: object
    data: object
    eval_set: object
    rtl_vectors: int

    @property
    def steps(self):
        """Numbered steps of the run."""
        return 6 + self.options.nm + self.options.synth


def add_arguments(parser):
    """The options of ``zeroskip demo``."""
    d = DemoOptions()
    parser.add_argument("--out", default=d.out, metavar="DIR",
                        help="output folder (default %(default)s)")
    add_array_arguments(parser)
    add_pruning_arguments(parser, finetune_applies="with --weights: ")
    parser.add_argument("--hidden", metavar="W,W,...",
                        help=f"hidden layer widths of the built-in MLP (default "
                             f"{','.join(map(str, HIDDEN))})")
    parser.add_argument("--no-bias", dest="bias", action="store_false",
                        help="train the built-in MLP without biases (default: a bias in every "
                             "layer, computed by the array as a column with activation 1.0)")
    parser.add_argument("--images", type=int, default=d.images, metavar="N",
                        help="test vectors to run through the RTL simulation, the first N "
                             "(default: all); it limits the RTL run only: the accuracies of the "
                             "float and golden models cover the whole test set")
    parser.add_argument("--weights", metavar="FILE",
                        help="your own network instead of the built-in MLP: .npz with w0, w1, "
                             "... (outputs x inputs), optional biases b0, b1, ... and optional "
                             "test data x, y (without them, the digits test set: 64 inputs)")
    parser.add_argument("--no-nm", dest="nm", action="store_false",
                        help="skip the 2:4 copy on the N:M tile")
    parser.add_argument("--no-synth", dest="synth", action="store_false",
                        help="skip the FPGA synthesis")
    parser.add_argument("--target", default=d.target,
                        help="FPGA of the synthesis (default %(default)s)")
    parser.add_argument("--synth-mhz", type=float, default=d.synth_mhz, metavar="MHZ",
                        help="clock target of place and route in MHz (default: the target's "
                             "goal, as for zeroskip synth: 125 on ECP5, 50 on iCE40)")


def plan_demo(options):
    """Check every option and load the inputs; a :class:`DemoPlan`, or a :class:`UserError`."""
    from synth.devices import get_device

    check_int_option("--pe", options.n_pe, 1, MAX_PE)
    check_int_option("--queue-depth", options.queue_depth, 1, MAX_QUEUE_DEPTH)
    check_density(options.density)
    check_int_option("--seed", options.seed, 0, MAX_SEED)
    if (isinstance(options.images, bool) or not isinstance(options.images, int)
            or options.images < 0):
        raise UserError(f"--images must be 0 (all) or positive, not {options.images!r}")
    if not isinstance(options.target, str):
        raise UserError(f"--target must be the name of an FPGA target, not {options.target!r}")
    try:
        device = get_device(options.target)
    except ValueError as exc:
        raise UserError(f"--target: {exc}") from None
    if options.synth_mhz is None:
        options = replace(options, synth_mhz=device.default_freq)
    check_mhz("--synth-mhz", options.synth_mhz)
    out = check_out("--out", options.out)
    if options.weights is None:
        if options.finetune:
            raise UserError("--finetune applies to --weights: the built-in MLP is always "
                            "trained and fine-tuned")
        hidden = HIDDEN if options.hidden is None else parse_widths("--hidden", options.hidden)
        network = None
        data = digits(options.seed)
        eval_set = EvalSet(data.x_test, data.y_test, "the digits test set", True)
    else:
        if options.hidden is not None:
            raise UserError("--hidden applies to the built-in MLP, not to --weights")
        if not options.bias:
            raise UserError("--no-bias applies to the built-in MLP; a --weights file has the "
                            "biases it holds (b0, b1, ...)")
        hidden = ()
        network = load_weights(options.weights)
        check_network_fits(network.weights, n_pe=options.n_pe,
                           queue_depth=options.queue_depth,
                           source=f"weights file {str(options.weights)!r}")
        if options.finetune:
            check_finetune(network.weights, network.bias)
        needs_digits = options.finetune or network.x is None
        data = digits(options.seed) if needs_digits else None
        eval_set = evaluation_set(network, data)
        if eval_set is None:
            sizes = layer_sizes(network.weights, network.bias)
            raise UserError(f"the demo needs test vectors for the RTL: {options.weights!r} "
                            f"has no 'x', and its network ({dims(sizes)}) does not have the "
                            f"digits set's {DIGITS_INPUTS} inputs")
    available = len(eval_set.x)
    if options.images > available:
        raise UserError(f"--images {options.images} is more than the {available} vectors of "
                        f"{eval_set.description}")
    return DemoPlan(options=options, out=out, hidden=hidden, network=network, data=data,
                    eval_set=eval_set, rtl_vectors=options.images or available)


def _network(plan, progress):
    """Step 1: the dense float network; ``(weights, bias flags, source, first steps)``."""
    opts = plan.options
    if plan.network is None:
        mlp = train_builtin(plan.data, hidden=plan.hidden, seed=opts.seed, bias=opts.bias)
        source = "built-in MLP"
        first = [f"trained from scratch on the digits training set "
                 f"({len(plan.data.y_train):,} images) for {EPOCHS} epochs, "
                 f"{bias_text(mlp.bias)}"]
        weights, bias = tuple(mlp.weights), mlp.bias
    else:
        weights, bias = plan.network.weights, plan.network.bias
        source = plan.network.source
        first = [f"loaded from {opts.weights}, {bias_text(bias)}" + (
            "" if opts.finetune else "; never trained by zeroskip (no --finetune)")]
    eval_set = plan.eval_set
    dense_acc = accuracy(Mlp(list(weights), bias=bias).predict(eval_set.x), eval_set.y)
    progress.note(f"{source}: {dims(layer_sizes(weights, bias))}, {bias_text(bias)}"
                  + ("" if dense_acc is None else f", accuracy {pct(dense_acc)}"))
    return weights, bias, source, first


def _nm_step(plan, report, dense, bias, acts, out, progress):
    """The 2:4 copy: golden model on every vector, layer 0 on the tiles for the RTL vectors.

    The N:M tile computes ``W @ x`` without a bias, so the copy starts from
    the weights without their bias columns.
    """
    opts = plan.options
    trainable = plan.network is None or opts.finetune
    weights = [w[:, :-1] if has_bias else w for w, has_bias in zip(dense, bias, strict=True)]
    copy = nm_copy(weights, finetune_data=plan.data if trainable else None, seed=opts.seed)
    report["network"]["steps"] += list(copy.steps)
    if any(bias):
        report["network"]["steps"].append(
            f"the {N}:{M} copy leaves the biases out: the N:M tile has none")
    eval_set = plan.eval_set
    report["accuracy"]["nm_float"] = accuracy(Mlp(list(copy.weights)).predict(eval_set.x),
                                              eval_set.y)
    report["accuracy"]["nm_quantized"] = accuracy(np.argmax(nm_golden(copy, acts), axis=1),
                                                  eval_set.y)
    tiles = run_tiles(copy, acts[:plan.rtl_vectors], out_dir=out / "sim_nm",
                      progress=progress)
    sparse, dense_tile = tiles["nm_tile"], tiles["dense_tile"]
    speedup = None
    if "cycles" in sparse and "cycles" in dense_tile:
        speedup = dense_tile["cycles"] / sparse["cycles"]
    rows, k = copy.weights[0].shape
    report["nm"] = {"pattern": f"{N}:{M}", "layer": [k, rows], "units": NM_UNITS,
                    "groups": NM_GROUPS, "padded": [list(p) for p in copy.padded],
                    "tiles": tiles, "speedup": speedup}


def _synth_summary(result, eie):
    if "fmax_mhz" in result:
        result["cycles_per_inference"] = eie["cycles_mean"]
        result["inferences_per_second"] = result["fmax_mhz"] * 1e6 / eie["cycles_mean"]
    return result


def run_demo(options, progress, *, command="zeroskip demo"):
    """Run the demo; return ``(report, ok)``. The report is also written under ``options.out``.

    ``ok`` is false when the RTL differed from the golden or cycle model (or a
    tile's testbench failed). Bad options raise :class:`UserError` before any
    work; if the run fails later, the background synthesis is ended.
    """
    plan = plan_demo(options)
    opts, out = plan.options, plan.out
    progress.total = plan.steps
    make_out("--out", out)
    job = None
    try:
        with one_blas_thread():
            network_step = ("training the built-in MLP" if plan.network is None
                            else f"loading {opts.weights}")
            with progress.step(network_step):
                dense, bias, source, first = _network(plan, progress)
            what = ("pruning and fine-tuning" if plan.network is None or opts.finetune
                    else "pruning")
            with progress.step(f"{what} to {pct(opts.density, 1)} target density"):
                trainable = plan.network is None or opts.finetune
                pruned = prune_network(dense, density=opts.density,
                                       finetune_data=plan.data if trainable else None,
                                       seed=opts.seed, progress=progress, bias=bias)
            with progress.step(f"weight sharing, EIE encoding for {opts.n_pe} PEs, Verilog"):
                compressed, _ = compile_network(pruned.weights, n_pe=opts.n_pe,
                                                queue_depth=opts.queue_depth, folder=out,
                                                progress=progress, bias=pruned.bias)
                if opts.synth:
                    # Minutes of single-threaded place and route: beside the simulations.
                    job = SynthJob(out, target=opts.target, freq=opts.synth_mhz,
                                   out_dir=out / "synth", cache_dir=CACHE_DIR,
                                   note=lambda text: progress.note(f"[synth] {text}"))
                    progress.note(f"synthesis for {opts.target} started in the background")
            report = start_report("zeroskip demo report", command, source=source,
                                  pruned=pruned, compressed=compressed,
                                  eval_set=plan.eval_set, first_steps=first)
            report["options"] = asdict(opts)
            report["network"]["rtl_vectors"] = plan.rtl_vectors
            eval_set = plan.eval_set
            with progress.step(f"golden model on {len(eval_set.x)} vectors"):
                acts, golden = evaluate(report, pruned=pruned, compressed=compressed,
                                        eval_set=eval_set, progress=progress)
            with progress.step(f"Verilator simulation of the {opts.n_pe}-PE array, "
                               f"{plan.rtl_vectors} vectors"):
                rtl_acts = acts[:plan.rtl_vectors]
                sim_run, check = simulate_eie(out / "design.json", compressed.layers,
                                              rtl_acts, build_dir=out / "sim",
                                              progress=progress)
                eie = report["eie"] = cycle_summary(sim_run.cycles, check.ideal_cycles,
                                                    compressed.layers, opts.n_pe, check=check)
                y_rtl = None if eval_set.y is None else eval_set.y[:plan.rtl_vectors]
                report["accuracy"]["rtl"] = accuracy(np.argmax(sim_run.outputs, axis=1), y_rtl)
                report["accuracy"]["quantized_golden_rtl_vectors"] = accuracy(
                    np.argmax(golden[:plan.rtl_vectors], axis=1), y_rtl)
                progress.note(f"RTL = golden model on {eie['vectors'] - eie['outputs_differing']}"
                              f" of {eie['vectors']} vectors, = cycle model on "
                              f"{eie['vectors'] - eie['cycles_differing']}; "
                              f"{eie['cycles_mean']:.1f} cycles per inference, "
                              f"{eie['speedup_over_dense']:.2f}x the dense array")
            if opts.nm:
                with progress.step(f"{N}:{M} copy: pruning, golden model, layer 0 on the N:M "
                                   f"and dense tiles"):
                    _nm_step(plan, report, dense, bias, acts, out, progress)
        if job is not None:
            with progress.step(f"synthesis for {opts.target} (waiting for the background run)"):
                report["synth"] = _synth_summary(job.result(), eie)
                if "error" in report["synth"]:
                    progress.note(f"synthesis failed: {report['synth']['error']}")
        with progress.step("report and plots"):
            plots = write_plots(out, report, layers=compressed.layers, cycles=sim_run.cycles,
                                ideal=check.ideal_cycles)
            report["files"] = output_files(out, plots)
            if "fmax_mhz" in report.get("synth", {}):
                report["files"]["synthesis results"] = str(out / "synth" / "results.md")
            report["run_seconds"] = progress.elapsed
            write_report(out, report)
    except BaseException:
        if job is not None:
            job.cancel()
        raise
    ok = check.ok and all(t["rtl_equals_golden"]
                          for t in report.get("nm", {}).get("tiles", {}).values())
    return report, ok


def run(args):
    """``zeroskip demo``: run, print the report; the exit status."""
    options = DemoOptions(
        out=args.out, n_pe=args.n_pe, queue_depth=args.queue_depth, density=args.density,
        hidden=args.hidden, images=args.images, weights=args.weights, finetune=args.finetune,
        bias=args.bias, seed=args.seed, nm=args.nm, synth=args.synth, target=args.target,
        synth_mhz=args.synth_mhz)
    report, ok = run_demo(options, args.progress, command=args.command_line)
    print((Path(options.out) / "report.md").read_text(), end="")
    args.progress.note(f"report, model, Verilog and plots are in {options.out}/")
    if not ok:
        print("zeroskip demo: the RTL differed from the golden or cycle model; see the report",
              file=sys.stderr)
    return EXIT_OK if ok else EXIT_FAILED

