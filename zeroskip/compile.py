"""``zeroskip compile WEIGHTS --out DIR``: your network as a compressed model and its Verilog.

``WEIGHTS`` is an ``.npz`` (:mod:`zeroskip.weights`), an ONNX graph
(``--onnx-nodes`` selects its fully connected part) or a safetensors state
dict (``--layers`` names its layers in order), read by
:func:`zeroskip.importers.load_network`; ``--data`` gives test data to a
network whose file has none.

The steps, each reported:

1. prune the weights to ``--density`` by magnitude, in one step, or in steps
   with fine-tuning on the digits set when asked (``--finetune``);
2. size an EIE configuration for the pruned layers and the array asked for
   (``--pe``, ``--queue-depth``), share the weights through a 16-entry
   codebook per layer quantized to that configuration's format, encode them,
   and write the array with the layers baked into its memories;
3. with test data (``x``, ``y`` in the file or in ``--data``, or the digits
   set for a network with 64 inputs), measure the float and quantized accuracies and predict the
   cycles per inference with the cycle model. Without labels there is no accuracy, but the
   agreement of the quantized golden model with the float model is reported all the same
   (:func:`agreement`: the same top-1 class, the output differences in real units).

A layer's biases (``b<i>`` in the file) are one more column of its matrix,
whose activation is the constant 1.0, as in EIE: pruned (step 1), shared and
encoded (step 2) with the weights, and added by the array.

``DIR`` then holds ``design.v``, its side-car ``design.json``, ``model.npz``,
``report.md``, ``report.json`` and ``plots/``; ``zeroskip simulate DIR
--inputs FILE`` runs it in Verilator. The demo (:mod:`zeroskip.demo`) uses the
same steps.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sw_model.eie_cycles import chain_cycles
from sw_model.eie_model import eie_chain
from sw_model.fixed import from_fixed, int_range, to_fixed

from .compression import check_network_fits, compress, write_compiled
from .errors import EXIT_OK
from .importers import load_network
from .options import (
    MAX_PE,
    MAX_QUEUE_DEPTH,
    MAX_SEED,
    add_array_arguments,
    add_pruning_arguments,
    check_density,
    check_int_option,
    check_out,
    make_out,
)
from .plots import write_plots
from .report import pct, write_report
from .simulate import cycle_summary
from .training import (
    DIGITS_CLASSES,
    DIGITS_INPUTS,
    accuracy,
    check_finetune,
    digits,
    one_blas_thread,
    prune_network,
)
from .weights import bias_text, dims, layer_sizes

__all__ = [
    "HELP", "add_arguments", "run", "EvalSet", "evaluation_set", "compile_network",
    "start_report", "agreement", "evaluate", "model_cycles", "output_files",
]

#: What each plot of :func:`zeroskip.plots.write_plots` shows, for the list of files.
_PLOT_TITLES = {"pe_load": "work per PE, every layer",
                "accuracy_density": "accuracy along the pruning schedule",
                "cycles": "cycles per inference"}

HELP = ("compile your weights (.npz, .onnx, .safetensors) into a pruned, shared, encoded "
        "model and its Verilog")


def add_arguments(parser):
    """The options of ``zeroskip compile``."""
    parser.add_argument("weights", metavar="WEIGHTS",
                        help="the network, by suffix: .npz with w0, w1, ... (float matrices, "
                             "outputs x inputs), optional biases b0, b1, ... (one per output) "
                             "and optional test data x (vectors x inputs) and labels y; .onnx "
                             "(Gemm or MatMul layers, Add biases, Relu between layers); "
                             ".safetensors (a PyTorch state dict: <layer>.weight [out, in], "
                             "<layer>.bias); see docs/import.md")
    parser.add_argument("--onnx-nodes", metavar="NODES",
                        help="the nodes of an .onnx graph to compile: FIRST:LAST (every node "
                             "from FIRST to LAST in graph order) or a comma-separated list "
                             "(default: the whole graph)")
    parser.add_argument("--layers", metavar="NAMES",
                        help="the layers of a .safetensors file to compile, in order, as "
                             "comma-separated prefixes (fc1,fc2,fc3 for fc1.weight, "
                             "fc1.bias, ...); other tensors are left out (default: every "
                             "<layer>.weight, in natural order of the names)")
    parser.add_argument("--data", metavar="FILE",
                        help=".npz of test inputs x (vectors x inputs) and optional integer "
                             "labels y, for a network whose file has none")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for the Verilog, side-car, model, report and plots")
    add_array_arguments(parser)
    add_pruning_arguments(parser, finetune_applies="")


@dataclass(frozen=True)
class EvalSet:
    """Vectors a network is evaluated on: float inputs ``x``, labels ``y`` (or ``None``)."""

    x: np.ndarray
    y: np.ndarray | None
    description: str
    is_digits: bool


def evaluation_set(network, data):
    """The network's own test data, else the digits test set if it fits, else ``None``."""
    if network.x is not None:
        what = "x and labels y" if network.y is not None else "x, without labels"
        return EvalSet(network.x, network.y, f"{network.data_source} {what}", False)
    sizes = layer_sizes(network.weights, network.bias)
    if data is not None and sizes[0] == DIGITS_INPUTS:
        labels = data.y_test if sizes[-1] == DIGITS_CLASSES else None
        return EvalSet(data.x_test, labels, "the digits test set", True)
    return None


def compile_network(weights, *, n_pe, queue_depth, folder, progress, bias=None):
    """Compress pruned ``weights`` and write the compiled folder; ``(Compressed, Design)``.

    ``bias`` (one ``bool`` per layer, ``None`` for none) marks the matrices
    whose last column is a bias.
    """
    compressed = compress(weights, n_pe=n_pe, queue_depth=queue_depth, bias=bias)
    design = write_compiled(folder, compressed)
    summary = compressed.summary()
    config = compressed.config
    lo, hi = from_fixed(np.array(int_range(config.w_bits)), config.w_frac_bits)
    for i, sharing in enumerate(compressed.sharing):
        if sharing["saturated"]:
            progress.note(f"layer {i}: {sharing['saturated']} weight(s) outside the "
                          f"{config.w_bits}-bit shared-weight range [{lo:g}, {hi:g}] "
                          f"({config.w_frac_bits} fractional bits) saturated")
    progress.note(f"{summary['stored_bits']:,} bits stored against "
                  f"{summary['dense_float32_bits']:,} as dense float32: "
                  f"{summary['ratio']:.1f}x smaller")
    progress.note(f"memories per PE: {config.matrix_depth} words of {config.word_bits} bits, "
                  f"{config.ptr_depth} column pointers, {config.act_depth} activations; "
                  f"Verilog in {folder}")
    return compressed, design


def _compression_steps(config, bias):
    shared = "weights and biases" if any(bias) else "weights"
    steps = (f"{shared} shared: one codebook of at most 15 values per layer (k-means), in "
             f"16-bit fixed point with {config.w_frac_bits} fractional bits; activations 16-bit "
             f"with {config.act_frac_bits} fractional bits",
             f"encoded in EIE's compressed sparse column format for {config.n_pe} PEs and baked "
             f"into the memories of the generated Verilog")
    if any(bias):
        steps += (f"biases ({bias_text(bias)}) stored as EIE stores them: the last column of "
                  f"the layer's matrix, whose activation is the constant 1.0 "
                  f"({1 << config.act_frac_bits} in fixed point)",)
    return steps


def start_report(title, command, *, source, pruned, compressed, eval_set, first_steps):
    """The report's sections that every run has: network, pruning, configuration, compression."""
    sizes = layer_sizes(pruned.weights, pruned.bias)
    network = {
        "source": source, "sizes": sizes,
        "weights": int(sum(w.size for w in pruned.weights)),
        "bias": list(pruned.bias),
        "biases": int(sum(w.shape[0] for w, b in zip(pruned.weights, pruned.bias, strict=True)
                          if b)),
        "steps": [*first_steps, *pruned.steps,
                  *_compression_steps(compressed.config, pruned.bias)],
        "evaluation": None if eval_set is None else eval_set.description,
        "eval_vectors": 0 if eval_set is None else len(eval_set.x),
        "eval_is_digits": eval_set is not None and eval_set.is_digits,
    }
    kept = sum(int(np.count_nonzero(w)) for w in pruned.weights) / network["weights"]
    return {
        "title": title, "command": command, "network": network,
        "pruning": {"density": kept,
                    "layer_density": [float(np.count_nonzero(w) / w.size)
                                      for w in pruned.weights],
                    "history": pruned.history},
        "accuracy": {},
        "config": compressed.config.to_dict(),
        "compression": compressed.summary(),
    }


def agreement(golden, float_outputs, dense_outputs, *, act_frac_bits):
    """How closely the quantized golden model follows the float model, without labels.

    ``golden``: the golden model's last outputs (fixed point with
    ``act_frac_bits`` fractional bits, one row per vector); ``float_outputs``:
    the pruned float model's logits for the same vectors, the model that was
    quantized; ``dense_outputs``: the float model's before pruning. Returns
    a ``dict``: ``vectors``; ``top1``, the fraction of vectors whose argmax
    (top-1 class; ties to the lower index in both) is the same in the golden
    model as in the pruned float model; ``top1_dense``, the same against the
    float model before pruning; ``max_abs_diff`` and ``mean_abs_diff``, the
    largest and the mean absolute difference between the golden outputs in
    real units (``golden / 2**act_frac_bits``) and the pruned float logits,
    over every output of every vector.
    """
    golden = np.asarray(golden)
    float_outputs = np.asarray(float_outputs, dtype=np.float64)
    top1 = np.argmax(golden, axis=1)
    diff = np.abs(from_fixed(golden, act_frac_bits) - float_outputs)
    return {
        "vectors": int(golden.shape[0]),
        "top1": float(np.mean(top1 == np.argmax(float_outputs, axis=1))),
        "top1_dense": float(np.mean(top1 == np.argmax(dense_outputs, axis=1))),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
    }


def evaluate(report, *, pruned, compressed, eval_set, progress):
    """Float and golden-model accuracies on ``eval_set``; the fixed-point inputs and outputs.

    Also the golden model's agreement with the float model
    (``report["agreement"]``, :func:`agreement`), which needs no labels.
    """
    config = compressed.config
    acts = to_fixed(eval_set.x, config.act_frac_bits)
    golden = np.stack([eie_chain(compressed.layers, x, config=config)[-1] for x in acts])
    y = eval_set.y
    float_outputs = pruned.mlp(pruned.weights).forward(eval_set.x)[0]
    dense_outputs = pruned.mlp(pruned.dense).forward(eval_set.x)[0]
    report["accuracy"].update(
        dense_float=accuracy(np.argmax(dense_outputs, axis=1), y),
        pruned_float=accuracy(np.argmax(float_outputs, axis=1), y),
        quantized_golden=accuracy(np.argmax(golden, axis=1), y))
    report["agreement"] = agreement(golden, float_outputs, dense_outputs,
                                    act_frac_bits=config.act_frac_bits)
    if y is not None:
        acc = report["accuracy"]
        progress.note(f"accuracy: dense float {pct(acc['dense_float'])}, pruned float "
                      f"{pct(acc['pruned_float'])}, quantized {pct(acc['quantized_golden'])}")
    agree = report["agreement"]
    progress.note(f"quantized against float: same top-1 class on {pct(agree['top1'])} of the "
                  f"vectors, outputs differ by {agree['max_abs_diff']:.4g} at most "
                  f"({agree['mean_abs_diff']:.4g} on average)")
    return acts, golden


def model_cycles(layers, acts, *, config, timing):
    """Cycles and ideal cycles per vector of ``acts``, from the cycle model."""
    cycles, ideal = [], []
    for x in acts:
        total, _ = chain_cycles(layers, x, config=config, timing=timing)
        cycles.append(total.cycles)
        ideal.append(total.ideal)
    return np.array(cycles, dtype=np.int64), np.array(ideal)


def output_files(folder, plots):
    """The files of a compiled folder, for the report."""
    folder = Path(folder)
    files = {"Verilog": folder / "design.v", "side-car (configuration and timing)":
             folder / "design.json", "encoded model": folder / "model.npz"}
    files.update({f"plot: {_PLOT_TITLES[name]}": path for name, path in plots.items()})
    return {what: str(path) for what, path in files.items()}


def _loaded(args):
    if args.finetune:
        return f"loaded from {args.weights}"
    return f"loaded from {args.weights}; never trained by zeroskip (no --finetune)"


def run(args):
    """Check every option and the weights, then compile; return the exit status."""
    n_pe = check_int_option("--pe", args.n_pe, 1, MAX_PE)
    queue_depth = check_int_option("--queue-depth", args.queue_depth, 1, MAX_QUEUE_DEPTH)
    density = check_density(args.density)
    check_int_option("--seed", args.seed, 0, MAX_SEED)
    out = check_out("--out", args.out)
    network = load_network(args.weights, onnx_nodes=args.onnx_nodes, layers=args.layers,
                           data=args.data)
    check_network_fits(network.weights, n_pe=n_pe, queue_depth=queue_depth,
                       source=f"weights file {str(args.weights)!r}")
    if args.finetune:
        check_finetune(network.weights, network.bias)
    sizes = layer_sizes(network.weights, network.bias)
    needs_digits = args.finetune or (network.x is None and sizes[0] == DIGITS_INPUTS)
    data = digits(args.seed) if needs_digits else None
    eval_set = evaluation_set(network, data)

    progress = args.progress
    progress.total = 3 + (eval_set is not None)
    make_out("--out", out)
    with one_blas_thread():
        what = "pruning and fine-tuning" if args.finetune else "pruning"
        with progress.step(f"{what} of {dims(sizes)} ({bias_text(network.bias)}) to "
                           f"{pct(density, 1)}"):
            pruned = prune_network(network.weights, density=density,
                                   finetune_data=data if args.finetune else None,
                                   seed=args.seed, progress=progress, bias=network.bias)
        with progress.step(f"weight sharing, EIE encoding for {n_pe} PEs, Verilog"):
            compressed, design = compile_network(pruned.weights, n_pe=n_pe,
                                                 queue_depth=queue_depth, folder=out,
                                                 progress=progress, bias=pruned.bias)
        report = start_report("zeroskip compile report", args.command_line,
                              source=network.source, pruned=pruned, compressed=compressed,
                              eval_set=eval_set, first_steps=[_loaded(args)])
        cycles = ideal = None
        if eval_set is not None:
            with progress.step(f"golden model and cycle model on {len(eval_set.x)} vectors"):
                acts, _ = evaluate(report, pruned=pruned, compressed=compressed,
                                   eval_set=eval_set, progress=progress)
                cycles, ideal = model_cycles(compressed.layers, acts, config=compressed.config,
                                             timing=design.timing)
                report["eie"] = cycle_summary(cycles, ideal, compressed.layers, n_pe)
        with progress.step("report and plots"):
            plots = write_plots(out, report, layers=compressed.layers, cycles=cycles,
                                ideal=ideal)
            report["files"] = output_files(out, plots)
            report["next"] = f"zeroskip simulate {out} --inputs FILE"
            text = write_report(out, report)
    print(text, end="")
    return EXIT_OK
