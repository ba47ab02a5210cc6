"""``python -m sim.demo``: a real pruned network, compressed and run on the generated RTL.

The main job of zeroskip, end to end, with nothing downloaded:

1. train a small bias-free ReLU MLP on scikit-learn's bundled digits (or take
   the user's weights from an ``.npz``);
2. prune it iteratively with fine-tuning to the target density, then share
   weights through a 16-entry codebook per layer; prune a copy to 2:4;
3. encode the first model for an EIE array, bake it into the generated
   Verilog, and run every test image through Verilator, all layers on chip;
   check every output against the golden model bit for bit; run the 2:4
   copy's first layer on the N:M tile the same way;
4. report accuracy, compression, cycles and efficiency (Markdown, JSON and
   plots under the output folder); synthesize for ECP5 unless told not to.

``python -m sim.demo --help`` lists the options.
"""

import os

# NumPy's BLAS threads fight the Verilator builds for the two cores; the
# matrices here are small, one thread is faster. Must precede the NumPy import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from sw_model.codebook import share_weights  # noqa: E402
from sw_model.config import EieConfig  # noqa: E402
from sw_model.eie_cycles import chain_cycles  # noqa: E402
from sw_model.eie_format import encode, memory_layout  # noqa: E402
from sw_model.eie_model import eie_chain  # noqa: E402
from sw_model.fixed import to_fixed  # noqa: E402
from sw_model.prune import prune_magnitude, prune_nm  # noqa: E402
from sw_model.train import Mlp, iterative_prune, load_digits_dataset, train  # noqa: E402

__all__ = ["DemoOptions", "load_weights", "run_demo", "main"]

#: Hidden sizes of the built-in MLP (64 pixels in, 10 classes out).
HIDDEN = (256, 128)
#: The classifier layer is small (1280 weights) and sensitive: it keeps at
#: least this density while the hidden layers go to the target.
CLASSIFIER_MIN_DENSITY = 0.4
#: The N:M tile of the demo: units (rows in parallel) and groups per beat.
NM_UNITS = 8
NM_GROUPS = 2


@dataclass(frozen=True)
class DemoOptions:
    """What the demo does; the command-line options map one to one onto these fields."""

    out: str = "build/demo"
    n_pe: int = 8
    queue_depth: int = 8
    density: float = 0.1
    images: int = 0          # 0: every test image
    weights: str = ""        # "": train the built-in MLP
    seed: int = 0
    epochs: int = 60
    finetune_epochs: int = 20
    final_epochs: int = 40
    synth: bool = True
    synth_target: str = "ecp5-25f"
    # A target near what the array reaches: nextpnr spends minutes chasing an
    # unreachable one. None: the device's default target.
    synth_mhz: float = 50.0
    nm: bool = True

    def __post_init__(self):
        if not 0 < self.density <= 1:
            raise ValueError(f"density must be in (0, 1], not {self.density!r}")
        if self.n_pe < 1:
            raise ValueError(f"n_pe must be a positive integer, not {self.n_pe!r}")
        if self.queue_depth < 1:
            raise ValueError(f"queue_depth must be a positive integer, not {self.queue_depth!r}")
        if self.images < 0:
            raise ValueError(f"images must be 0 (all) or positive, not {self.images!r}")


class Progress:
    """Step-by-step progress on stderr, with the time each step took."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.step, self.stream = total, 0, stream
        self.started = self.t0 = time.monotonic()

    def begin(self, what):
        self.step += 1
        self.t0 = time.monotonic()
        print(f"[{self.step}/{self.total}] {what} ...", file=self.stream, flush=True)

    def note(self, text):
        print(f"      {text}", file=self.stream, flush=True)

    def end(self):
        print(f"      done in {time.monotonic() - self.t0:.1f} s", file=self.stream, flush=True)

    @property
    def elapsed(self):
        return time.monotonic() - self.started


def load_weights(path):
    """Layers of a user's network from an ``.npz``: ``w0, w1, ...`` and optional ``x``, ``y``.

    ``w<i>`` is layer ``i``'s float weight matrix, shape ``(outputs, inputs)``
    (``y = W @ x``), each layer's inputs the previous one's outputs. ``x``
    (``(images, inputs)``, floats in the activation range) and ``y`` (integer
    labels) are test data; without them the digits test set is used, which
    needs 64 inputs. Biases (``b<i>``) are rejected: the EIE array computes
    ``requant(W @ x)`` without one. Pickled objects are never loaded.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"weights file {str(path)!r} does not exist") from None
    except ValueError as exc:
        raise ValueError(f"weights file {str(path)!r} is not a NumPy .npz of plain arrays "
                         f"(pickled objects are not loaded): {exc}") from None
    except OSError as exc:
        raise ValueError(f"weights file {str(path)!r} cannot be read as .npz: {exc}") from None
    if not hasattr(archive, "files"):
        raise ValueError(f"weights file {str(path)!r} holds a single array, not an .npz archive "
                         f"of layers w0, w1, ...")
    names = set(archive.files)
    biases = sorted(n for n in names if n.startswith("b") and n[1:].isdigit())
    if biases:
        raise ValueError(f"weights file {str(path)!r} has biases ({', '.join(biases)}); the EIE "
                         f"array computes requant(W @ x) without a bias, so train without one")
    weights = []
    while f"w{len(weights)}" in names:
        name = f"w{len(weights)}"
        try:
            w = archive[name]
        except ValueError as exc:
            raise ValueError(f"array {name!r} in {str(path)!r} cannot be loaded without "
                             f"pickle: {exc}") from None
        if w.dtype == np.bool_ or not (np.issubdtype(w.dtype, np.floating)
                                       or np.issubdtype(w.dtype, np.integer)):
            raise ValueError(f"array {name!r} must hold numbers, not dtype {w.dtype}")
        if w.ndim != 2 or 0 in w.shape:
            raise ValueError(f"array {name!r} must be a non-empty 2-D (outputs, inputs) matrix, "
                             f"not shape {w.shape}")
        w = w.astype(np.float64)
        if not np.all(np.isfinite(w)):
            raise ValueError(f"array {name!r} holds non-finite values")
        if weights and w.shape[1] != weights[-1].shape[0]:
            raise ValueError(f"array {name!r} has {w.shape[1]} inputs, but the previous layer "
                             f"has {weights[-1].shape[0]} outputs")
        weights.append(w)
    if not weights:
        raise ValueError(f"weights file {str(path)!r} has no layer arrays (expected w0, w1, ...; "
                         f"found {', '.join(sorted(names)) or 'nothing'})")
    unknown = sorted(names - {f"w{i}" for i in range(len(weights))} - {"x", "y"})
    if unknown:
        raise ValueError(f"weights file {str(path)!r} has unexpected arrays: {', '.join(unknown)} "
                         f"(layers must be numbered w0, w1, ... without gaps)")
    x = y = None
    if "x" in names:
        x = archive["x"]
        if x.ndim != 2 or x.shape[1] != weights[0].shape[1] or not np.issubdtype(
                x.dtype, np.number):
            raise ValueError(f"array 'x' must be numeric with shape (images, "
                             f"{weights[0].shape[1]}), not {x.dtype} {x.shape}")
    if "y" in names:
        if x is None:
            raise ValueError("array 'y' (labels) needs the inputs 'x' as well")
        y = archive["y"]
        if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"array 'y' must be integer labels of shape ({x.shape[0]},), "
                             f"not {y.dtype} {y.shape}")
    return weights, x, y



def pruning_schedule(density, steps=7, start=0.6):
    """Densities of iterative pruning: geometric from ``start`` down to ``density``."""
    if density >= start:
        return [density]
    ratio = (density / start) ** (1 / (steps - 1))
    return [start * ratio ** k for k in range(steps - 1)] + [density]


def eie_config_for(layers, *, n_pe, queue_depth):
    """The smallest :class:`EieConfig` (power-of-two depths) that holds ``layers``.

    The sizes come from :func:`sw_model.eie_format.memory_layout`, the layout
    the array uses, so its alignment rules are stated in one place only.
    """
    def pow2(x):
        return 1 << max(0, int(x) - 1).bit_length()
    base = EieConfig(n_pe=n_pe, queue_depth=queue_depth,
                     entries_per_word=layers[0][0].entries_per_word, max_layers=len(layers))
    last = memory_layout(layers, base)[-1]
    words = np.asarray(last["matrix_base"]) + np.asarray(last["matrix_words"])
    max_dim = max(max(layer.n_rows, layer.n_cols) for layer, _ in layers)
    return dataclasses.replace(
        base, act_depth=pow2(-(-max_dim // n_pe)),
        ptr_depth=pow2(last["ptr_base"] + last["ptr_len"]),
        matrix_depth=pow2(max(1, int(words.max()))))


def compress(weights, *, n_pe, w_frac_bits):
    """Weight sharing and EIE encoding of every layer: ``[(EieLayer, relu)]`` and reports."""
    layers, reports = [], []
    for i, w in enumerate(weights):
        indices, codebook, report = share_weights(w, w_frac_bits=w_frac_bits)
        layers.append((encode(indices, codebook, n_pe=n_pe), i < len(weights) - 1))
        reports.append(report)
    return layers, reports


def run_eie_rtl(layers, config, acts, *, out_dir, progress, chunk=64):
    """Run ``acts`` (one image per row) through the Verilated EIE array; outputs and cycles.

    The layers are baked into the array at elaboration. Images go in chunks,
    one simulator run each, so progress can be shown between them.
    """
    from hw.eie.array import EieArray
    from hw.eie.program import EieProgram
    from hw.generate import Design, generate
    from sim.runner import run_cocotb

    program = EieProgram(layers, config=config)
    design = Design(top=EieArray(config=config, program=program), engine="eie",
                    config=config.to_dict())
    verilog, _ = generate("demo_eie", out_dir / "verilog", design=design)
    n_out = layers[-1][0].n_rows
    outputs = np.zeros((len(acts), n_out), dtype=np.int64)
    cycles = np.zeros(len(acts), dtype=np.int64)
    sim_dir = (out_dir / "sim_eie").resolve()
    sim_dir.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(acts), chunk):
        stop = min(start + chunk, len(acts))
        np.savez(sim_dir / "in.npz", acts=np.asarray(acts[start:stop], dtype=np.int64))
        run_cocotb(verilog=verilog, toplevel="demo_eie", test_module="sim.demo_eie_tb",
                   build_dir=sim_dir, seed=0, extra_env={
                       "EIE_CONFIG": json.dumps(config.to_dict()),
                       "DEMO_IN": sim_dir / "in.npz", "DEMO_OUT": sim_dir / "out.npz",
                       "DEMO_N_OUT": n_out, "DEMO_N_LAYERS": len(layers)})
        result = np.load(sim_dir / "out.npz", allow_pickle=False)
        outputs[start:stop] = result["outputs"]
        cycles[start:stop] = result["cycles"]
        progress.note(f"RTL: {stop}/{len(acts)} images, {int(cycles[:stop].sum())} cycles "
                      f"simulated, {progress.elapsed:.0f} s elapsed")
    return outputs, cycles, verilog


def run_tile_rtl(name, config, w, acts, *, out_dir):
    """One layer's products for every vector of ``acts`` on a Verilated N:M tile.

    Returns ``(outputs, cycles, beats, blocks, latency)``; every output has been
    checked against the N:M golden model inside the testbench.
    """
    from hw.generate import generate
    from hw.sparse_nm.configs import tile_design
    from sim.runner import run_cocotb

    sim_dir = (out_dir / f"sim_{name}").resolve()
    v_path, j_path = generate(name, sim_dir, design=tile_design(config))
    np.savez(sim_dir / "in.npz", w=np.asarray(w, dtype=np.int64),
             acts=np.asarray(acts, dtype=np.int64))
    run_cocotb(verilog=v_path, toplevel=name.replace("-", "_"), test_module="sim.demo_nm_tb",
               build_dir=sim_dir, seed=0, extra_env={
                   "NM_SIDECAR": j_path, "DEMO_IN": sim_dir / "in.npz",
                   "DEMO_OUT": sim_dir / "out.npz"})
    result = np.load(sim_dir / "out.npz", allow_pickle=False)
    return (result["outputs"], int(result["cycles"]), int(result["beats"]),
            int(result["blocks"]), int(result["latency"]))


def _save_model(path, layers, config):
    """The encoded model as ``.npz``: per layer codebook, pointers and per-PE entries."""
    arrays = {"config": np.array(json.dumps(config.to_dict())),
              "relu": np.array([relu for _, relu in layers])}
    for i, (layer, _) in enumerate(layers):
        arrays[f"layer{i}_shape"] = np.array([layer.n_rows, layer.n_cols])
        arrays[f"layer{i}_codebook"] = layer.codebook
        arrays[f"layer{i}_ptr"] = layer.ptr
        for pe in range(layer.n_pe):
            arrays[f"layer{i}_pe{pe}_entries"] = layer.entries(pe)
    np.savez_compressed(path, **arrays)


def _accuracy(pred, labels):
    return float(np.mean(pred == labels)) if labels is not None else None


def run_demo(opts, progress=None):
    """Run the whole demo; return the report as a ``dict`` (also written under ``opts.out``)."""
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    n_steps = 6 + int(opts.nm) + int(opts.synth)
    progress = progress or Progress(n_steps)
    report = {"options": asdict(opts)}
    w_frac_bits = EieConfig().w_frac_bits
    act_frac_bits = EieConfig().act_frac_bits

    # 1. Data and the dense float model.
    progress.begin("dense float model")
    data = load_digits_dataset(seed=opts.seed)
    if opts.weights:
        weights, x_user, y_user = load_weights(opts.weights)
        mlp = Mlp([w.copy() for w in weights])
        if x_user is not None:
            x_test, y_test = x_user.astype(np.float64), y_user
        elif weights[0].shape[1] == data.n_features:
            x_test, y_test = data.x_test, data.y_test
        else:
            raise ValueError(f"the weights have {weights[0].shape[1]} inputs; without test data "
                             f"'x' in the file the digits set ({data.n_features} inputs) is used")
        trainable = x_user is None and weights[-1].shape[0] == data.n_classes
        source = f"user weights from {opts.weights}"
    else:
        mlp = Mlp.init((data.n_features, *HIDDEN, data.n_classes), seed=opts.seed)
        train(mlp, data, epochs=opts.epochs, lr=3e-3, seed=opts.seed)
        x_test, y_test = data.x_test, data.y_test
        trainable = True
        source = "built-in MLP trained on scikit-learn's digits"
    # Accuracies are over the whole test set (the models are cheap); the RTL
    # runs the first ``opts.images`` images (all by default).
    n_rtl = min(opts.images or len(x_test), len(x_test))
    sizes = [mlp.weights[0].shape[1]] + [w.shape[0] for w in mlp.weights]
    dense_pred = mlp.predict(x_test)
    report["model"] = {"source": source, "sizes": sizes, "test_images": len(x_test),
                       "rtl_images": n_rtl,
                       "weights": int(sum(w.size for w in mlp.weights))}
    report["accuracy"] = {"dense_float": _accuracy(dense_pred, y_test)}
    dense_weights = [w.copy() for w in mlp.weights]
    progress.note(f"{source}: layers {' -> '.join(map(str, sizes))}, "
                  f"accuracy {report['accuracy']['dense_float']}")
    progress.end()

    # 2. Iterative pruning with fine-tuning.
    progress.begin(f"pruning to {opts.density:.0%} density")
    last = len(mlp.weights) - 1

    def prune(layer, w, density):
        if layer == last:
            density = max(density, min(1.0, CLASSIFIER_MIN_DENSITY))
        return prune_magnitude(w, density)

    if trainable:
        history = iterative_prune(
            mlp, data, schedule=pruning_schedule(opts.density), prune=prune,
            finetune_epochs=opts.finetune_epochs, lr=2e-3, seed=opts.seed,
            progress=lambda step, d, acc: progress.note(
                f"density {d:.3f}: test accuracy {acc:.4f}"))
        # A longer, gentler fine-tune at the final density recovers most of
        # what the last pruning steps cost.
        train(mlp, data, epochs=opts.final_epochs, lr=1e-3, seed=opts.seed + len(history) + 1)
        history.append((history[-1][0], _accuracy(mlp.predict(x_test), y_test)))
        progress.note(f"after {opts.final_epochs} more epochs: test accuracy {history[-1][1]:.4f}")
    else:
        mlp.weights = [prune(i, w, opts.density) for i, w in enumerate(mlp.weights)]
        history = [(opts.density, _accuracy(mlp.predict(x_test), y_test))]
    # The last history point is the final fine-tune at the target density.
    report["pruning"] = {"history": history, "density": mlp.density,
                         "layer_density": [float(np.count_nonzero(w) / w.size)
                                           for w in mlp.weights]}
    report["accuracy"]["pruned_float"] = _accuracy(mlp.predict(x_test), y_test)
    progress.end()

    # 3. Weight sharing and EIE encoding.
    progress.begin(f"weight sharing and EIE encoding for {opts.n_pe} PEs")
    layers, share_reports = compress(mlp.weights, n_pe=opts.n_pe, w_frac_bits=w_frac_bits)
    config = eie_config_for(layers, n_pe=opts.n_pe, queue_depth=opts.queue_depth)
    summaries = [layer.summary() for layer, _ in layers]
    stored_bits = sum(s["memory_bits"] for s in summaries)
    dense_bits = 32 * report["model"]["weights"]
    report["compression"] = {
        "dense_float32_bits": dense_bits, "stored_bits": stored_bits,
        "ratio": dense_bits / stored_bits,
        "layers": [{k: s[k] for k in ("n_rows", "n_cols", "nnz", "entries", "padding",
                                      "matrix_bits", "pointer_bits", "codebook_bits",
                                      "load_balance")} | {"rms_error": r["rms_error"]}
                   for s, r in zip(summaries, share_reports, strict=True)]}
    report["config"] = config.to_dict()
    _save_model(out / "model.npz", layers, config)
    progress.note(f"{stored_bits} bits stored vs {dense_bits} dense float bits: "
                  f"{dense_bits / stored_bits:.1f}x smaller")
    progress.end()

    # Synthesis is one single-threaded tool run of several minutes: it goes in
    # the background now, on the second core, while the simulations run.
    synth_job = None
    if opts.synth:
        pool = ThreadPoolExecutor(max_workers=1)
        synth_job = pool.submit(run_synth, layers=layers, config=config,
                                target=opts.synth_target, out=out, progress=progress,
                                freq=opts.synth_mhz)
        pool.shutdown(wait=False)
        progress.note(f"synthesis for {opts.synth_target} started in the background")

    # 4. Golden model and cycle model.
    progress.begin("golden model and cycle model on every test image")
    acts = to_fixed(x_test, act_frac_bits)
    golden = np.stack([eie_chain(layers, x, config=config)[-1] for x in acts])
    model_cycles = []
    for x in acts:
        total, _ = chain_cycles(layers, x, config=config)
        model_cycles.append((total.cycles, total.ideal, total.entries))
    model_cycles = np.array(model_cycles, dtype=np.float64)
    report["accuracy"]["quantized_golden"] = _accuracy(np.argmax(golden, axis=1), y_test)
    report["accuracy"]["float_agreement_quantized"] = float(
        np.mean(np.argmax(golden, axis=1) == mlp.predict(x_test)))
    progress.end()

    # 5. The RTL.
    progress.begin(f"Verilator simulation of the {opts.n_pe}-PE array, {n_rtl} images")
    rtl, rtl_cycles, verilog = run_eie_rtl(layers, config, acts[:n_rtl], out_dir=out,
                                           progress=progress)
    mismatches = int(np.count_nonzero(np.any(rtl != golden[:n_rtl], axis=1)))
    cycle_mismatches = int(np.count_nonzero(rtl_cycles != model_cycles[:n_rtl, 0]))
    model_cycles = model_cycles[:n_rtl]
    dense_macs = sum(w.size for w in mlp.weights)
    y_rtl = None if y_test is None else y_test[:n_rtl]
    report["accuracy"]["rtl"] = _accuracy(np.argmax(rtl, axis=1), y_rtl)
    report["accuracy"]["quantized_golden_rtl_images"] = _accuracy(
        np.argmax(golden[:n_rtl], axis=1), y_rtl)
    report["eie"] = {
        "verilog": str(verilog), "images": n_rtl,
        "rtl_equals_golden": mismatches == 0, "images_differing": mismatches,
        "rtl_cycles_equal_model": cycle_mismatches == 0,
        "cycles_per_image": float(rtl_cycles.mean()),
        "cycles_min": int(rtl_cycles.min()), "cycles_max": int(rtl_cycles.max()),
        "ideal_cycles_per_image": float(model_cycles[:, 1].mean()),
        "load_balance_efficiency": float(model_cycles[:, 1].sum() / rtl_cycles.sum()),
        "dense_macs_per_image": int(dense_macs),
        "dense_equivalent_macs_per_cycle": float(dense_macs / rtl_cycles.mean()),
        "dense_array_cycles_per_image": dense_macs / opts.n_pe,
    }
    progress.note(f"RTL == golden model on {n_rtl - mismatches}/{n_rtl} images; "
                  f"{rtl_cycles.mean():.1f} cycles per image")
    progress.end()

    # 6. The 2:4 copy on the N:M tile, against a dense tile with as many multipliers.
    if opts.nm:
        progress.begin("2:4 copy: pruning, fine-tuning, first layer on the N:M tile")
        report["nm"] = run_nm(opts, data, dense_weights, x_test, y_test, trainable, out,
                              progress, n_rtl=n_rtl)
        report["accuracy"]["nm_2of4_float"] = report["nm"]["accuracy_float"]
        report["accuracy"]["nm_2of4_quantized"] = report["nm"]["accuracy_quantized"]
        progress.end()

    # 7. Synthesis of the demo configuration.
    if opts.synth:
        progress.begin(f"synthesis of the {opts.n_pe}-PE demo array for {opts.synth_target} "
                       f"(waiting for the background run)")
        from synth.flow import FlowError
        try:
            report["synth"] = synth_job.result()
        except FlowError as exc:
            # The demo's own results stand without it; say why it is missing.
            report["synth"] = {"error": str(exc)}
            progress.note(f"synthesis failed: {exc}")
        fmax = report["synth"].get("fmax_mhz")
        if fmax:
            report["synth"]["inferences_per_second"] = fmax * 1e6 / rtl_cycles.mean()
        progress.end()

    progress.begin("report and plots")
    report["plots"] = write_plots(out, report, layers=layers, rtl_cycles=rtl_cycles)
    report["run_seconds"] = progress.elapsed
    (out / "report.json").write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    (out / "report.md").write_text(format_report(report))
    progress.end()
    return report


def run_nm(opts, data, dense_weights, x_test, y_test, trainable, out, progress, *, n_rtl):
    """Prune a copy of the dense model to 2:4, then run its first layer on the N:M tile.

    Layer 0 is computed by the sparse tile and by a dense tile with the same
    number of multipliers (``NM_UNITS`` units of ``n * groups``); both results
    must equal :func:`sw_model.nm_model.nm_matvec`. The rest of the network is
    computed by the golden model to give the 2:4 model's accuracy.
    """
    from sw_model.config import SparseMacConfig, SparseTileConfig
    from sw_model.nm_format import compress as nm_compress
    from sw_model.nm_model import nm_matvec

    n, m = 2, 4
    mlp = Mlp([w.copy() for w in dense_weights])
    mlp.weights = [prune_nm(w, n, m) if w.shape[1] % m == 0 else w for w in mlp.weights]
    mlp.masks = [w != 0 for w in mlp.weights]
    if trainable:
        train(mlp, data, epochs=opts.finetune_epochs, lr=2e-3, seed=opts.seed)
    sparse_mac = SparseMacConfig(n=n, m=m, groups=NM_GROUPS)
    w_q = [to_fixed(w, sparse_mac.w_frac_bits, bits=sparse_mac.w_bits) for w in mlp.weights]
    acts = to_fixed(x_test, EieConfig().act_frac_bits, bits=sparse_mac.act_bits)
    # The whole 2:4 network through the golden model (ReLU between layers).
    h = acts
    for i, w in enumerate(w_q):
        relu_mac = SparseMacConfig(n=n, m=m, groups=NM_GROUPS, relu=i < len(w_q) - 1)
        values, indices = nm_compress(w, n, m, bits=relu_mac.w_bits)
        h = np.stack([nm_matvec(values, indices, x, relu_mac) for x in h])
    accuracy_quantized = _accuracy(np.argmax(h, axis=1), y_test)
    # Layer 0 on the RTL: sparse tile and the dense tile at equal multipliers.
    acts = acts[:n_rtl]
    w0 = w_q[0]
    rows, k = w0.shape
    dense_mac = SparseMacConfig(n=n, m=n, groups=NM_GROUPS)
    depth_beats = -(-k // dense_mac.lanes)
    depth_words = depth_beats * -(-rows // NM_UNITS)
    results = {}
    for name, mac in (("nm_tile", sparse_mac), ("dense_tile", dense_mac)):
        config = SparseTileConfig(mac=mac, units=NM_UNITS, act_depth=depth_beats,
                                  weight_depth=depth_words)
        outputs, cycles, beats, blocks, latency = run_tile_rtl(
            f"demo_{name}", config, w0, acts, out_dir=out)
        values, indices = nm_compress(w0, n, m, bits=mac.w_bits)
        golden = np.stack([nm_matvec(values, indices, x, sparse_mac) for x in acts])
        results[name] = {
            "multipliers": NM_UNITS * mac.mults, "beats_per_row_block": beats,
            "row_blocks": blocks, "latency": latency, "cycles": cycles,
            "cycles_per_vector": blocks * beats,
            "rtl_equals_golden": bool(np.array_equal(outputs, golden)),
            "dense_equivalent_macs_per_cycle": rows * k * len(acts) / cycles,
        }
        progress.note(f"{name}: {NM_UNITS * mac.mults} multipliers, {cycles} cycles for "
                      f"{len(acts)} vectors, RTL == golden: {results[name]['rtl_equals_golden']}")
    return {
        "pattern": f"{n}:{m}", "layer": [rows, k], "units": NM_UNITS, "groups": NM_GROUPS,
        "accuracy_float": _accuracy(mlp.predict(x_test), y_test),
        "accuracy_quantized": accuracy_quantized,
        "tiles": results,
        "speedup": results["dense_tile"]["cycles"] / results["nm_tile"]["cycles"],
    }


def run_synth(*, layers, config, target, out, progress, freq=None):
    """Synthesize the demo array (weights baked in) for ``target``; resources and Fmax."""
    from hw.eie.array import EieArray
    from hw.eie.program import EieProgram
    from hw.generate import Design
    from synth.devices import get_device
    from synth.flow import run_flow

    device = get_device(target)
    design = Design(top=EieArray(config=config, program=EieProgram(layers, config=config)),
                    engine="eie", config=config.to_dict())
    results = run_flow(design, name="demo_eie", device=device, out_dir=out / "synth",
                       seeds=(1,), freq=freq, progress=progress.note)
    util = results["seeds"][0]["utilization"]

    def used(kind):
        return util.get(kind, {}).get("used", 0)

    return {
        "target": device.name, "part": device.part, "seed": 1,
        "luts": used("TRELLIS_COMB") or used("ICESTORM_LC"),
        "flip_flops": results["flip_flops"],
        "block_rams": used("DP16KD") or used("ICESTORM_RAM"),
        "dsps": used("MULT18X18D") or used("ICESTORM_DSP"),
        "fmax_mhz": results["fmax_mhz"]["median"],
        "tools": results["tools"],
        "results": str(out / "synth" / "results.md"),
    }


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_plots(out, report, *, layers, rtl_cycles):
    """The three PNG plots; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    paths = {}

    layer = layers[0][0]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    pes = np.arange(layer.n_pe)
    ax.bar(pes, layer.n_entries - layer.n_padding, label="nonzero weights")
    ax.bar(pes, layer.n_padding, bottom=layer.n_entries - layer.n_padding, label="padding")
    ax.axhline(layer.n_entries.mean(), color="k", linestyle="--", linewidth=1, label="mean")
    ax.set(xlabel="PE", ylabel="entries", xticks=pes,
           title=f"Layer 0 ({layer.n_cols} -> {layer.n_rows}): entries per PE")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths["pe_load"] = plots / "pe_load.png"
    fig.savefig(paths["pe_load"], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    history = report["pruning"]["history"]
    if history[0][1] is not None:
        ax.plot([d * 100 for d, _ in history], [a * 100 for _, a in history], "o-",
                label="pruned, fine-tuned (float)")
        ax.axhline(report["accuracy"]["dense_float"] * 100, color="k", linestyle="--",
                   linewidth=1, label="dense float")
        ax.plot([report["pruning"]["density"] * 100],
                [report["accuracy"]["quantized_golden"] * 100], "s",
                label="4-bit shared weights (golden model = RTL)")
        ax.invert_xaxis()
        ax.set(xlabel="weight density (%)", ylabel="test accuracy (%)",
               title="Accuracy along the pruning schedule")
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths["accuracy_density"] = plots / "accuracy_density.png"
    fig.savefig(paths["accuracy_density"], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.arange(len(rtl_cycles)), rtl_cycles, ".", markersize=3,
            label=f"EIE array, {layer.n_pe} PEs (RTL)")
    ax.axhline(report["eie"]["dense_array_cycles_per_image"], color="r",
               label=f"dense array, {layer.n_pe} MACs/cycle")
    ax.set_yscale("log")
    ax.set(xlabel="test image", ylabel="cycles per image", title="Cycles per image")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths["cycles"] = plots / "cycles.png"
    fig.savefig(paths["cycles"], dpi=100)
    plt.close(fig)
    return {k: str(v) for k, v in paths.items()}


def _pct(value):
    return "n/a" if value is None else f"{value * 100:.2f} %"


def format_report(report):
    """The report as Markdown (what ``make demo`` prints and writes to ``report.md``)."""
    acc, eie, comp = report["accuracy"], report["eie"], report["compression"]
    model = report["model"]
    lines = [
        "# zeroskip demo report", "",
        f"Model: {model['source']}, layers {' -> '.join(map(str, model['sizes']))}, "
        f"{model['test_images']} test images ({model['rtl_images']} through the RTL). "
        f"EIE array: {report['config']['n_pe']} PEs, "
        f"queue depth {report['config']['queue_depth']}.", "",
        "| accuracy | |", "|---|---:|",
        f"| dense float | {_pct(acc['dense_float'])} |",
        f"| pruned float ({report['pruning']['density'] * 100:.1f} % density) | "
        f"{_pct(acc['pruned_float'])} |",
        f"| quantized (4-bit shared weights, 16-bit fixed point), golden model | "
        f"{_pct(acc['quantized_golden'])} |",
        f"| RTL (Verilator), first {eie['images']} images | {_pct(acc['rtl'])} "
        f"(golden model on the same images: {_pct(acc['quantized_golden_rtl_images'])}) |",
    ]
    if "nm" in report:
        lines += [f"| 2:4 copy, float | {_pct(acc['nm_2of4_float'])} |",
                  f"| 2:4 copy, 16-bit fixed point | {_pct(acc['nm_2of4_quantized'])} |"]
    lines += [
        "",
        f"RTL equals the golden model bit for bit on {eie['images'] - eie['images_differing']}"
        f" of {eie['images']} images; RTL cycles equal the cycle model: "
        f"{'yes' if eie['rtl_cycles_equal_model'] else 'NO'}.", "",
        f"Compression: {comp['dense_float32_bits']} bits as dense float32, "
        f"{comp['stored_bits']} bits stored (entries, pointers, codebooks): "
        f"**{comp['ratio']:.1f}x** smaller.", "",
        "| EIE, per image | |", "|---|---:|",
        f"| cycles (RTL, mean; min-max) | {eie['cycles_per_image']:.1f} "
        f"({eie['cycles_min']}-{eie['cycles_max']}) |",
        f"| ideal cycles (entries / PEs) | {eie['ideal_cycles_per_image']:.1f} |",
        f"| load-balance efficiency | {eie['load_balance_efficiency'] * 100:.1f} % |",
        f"| dense-equivalent MACs per cycle | {eie['dense_equivalent_macs_per_cycle']:.1f} |",
        f"| dense array with {report['config']['n_pe']} MACs, cycles | "
        f"{eie['dense_array_cycles_per_image']:.0f} |",
    ]
    if "nm" in report:
        nm = report["nm"]
        sparse, dense = nm["tiles"]["nm_tile"], nm["tiles"]["dense_tile"]
        lines += [
            "",
            f"2:4 tile, layer 0 ({nm['layer'][0]} x {nm['layer'][1]}), {nm['units']} units, "
            f"{sparse['multipliers']} multipliers in each tile:", "",
            "| tile | cycles per vector | cycles, all vectors (RTL) | dense-equivalent "
            "MACs/cycle | RTL = golden |", "|---|---:|---:|---:|---|",
            f"| 2:4 sparse | {sparse['cycles_per_vector']} | {sparse['cycles']} | "
            f"{sparse['dense_equivalent_macs_per_cycle']:.1f} | {sparse['rtl_equals_golden']} |",
            f"| dense | {dense['cycles_per_vector']} | {dense['cycles']} | "
            f"{dense['dense_equivalent_macs_per_cycle']:.1f} | {dense['rtl_equals_golden']} |",
            "", f"Speed-up of the 2:4 tile at equal multipliers: **{nm['speedup']:.3f}x**.",
        ]
    if "synth" in report and "error" in report["synth"]:
        lines += ["", f"Synthesis failed: {report['synth']['error']}"]
    elif "synth" in report:
        syn = report["synth"]
        lines += [
            "", f"Synthesis ({syn['part']}, seed {syn['seed']}): {syn['luts']} LUTs, "
            f"{syn['flip_flops']} FFs, {syn['block_rams']} block RAMs, {syn['dsps']} DSPs, "
            f"Fmax {syn['fmax_mhz']:.1f} MHz: "
            f"{syn.get('inferences_per_second', 0):,.0f} inferences per second.",
        ]
    lines += ["", "Plots: " + ", ".join(report["plots"].values()),
              f"Run time: {report['run_seconds']:.0f} s.", ""]
    return "\n".join(lines)


def main(argv=None):
    """Command line: ``python -m sim.demo [options]``."""
    d = DemoOptions()
    parser = argparse.ArgumentParser(prog="python -m sim.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=d.out, help="output folder (default %(default)s)")
    parser.add_argument("--pe", dest="n_pe", type=int, default=d.n_pe,
                        help="PEs of the EIE array (default %(default)s)")
    parser.add_argument("--queue-depth", type=int, default=d.queue_depth,
                        help="activation queue depth (default %(default)s)")
    parser.add_argument("--density", type=float, default=d.density,
                        help="target weight density of the hidden layers (default %(default)s)")
    parser.add_argument("--images", type=int, default=d.images,
                        help="test images to run (default: all)")
    parser.add_argument("--weights", default=d.weights,
                        help="your own network: .npz with w0, w1, ... (outputs x inputs), "
                             "optional test data x, y")
    parser.add_argument("--seed", type=int, default=d.seed, help="seed (default %(default)s)")
    parser.add_argument("--no-synth", dest="synth", action="store_false",
                        help="skip the FPGA synthesis step")
    parser.add_argument("--target", dest="synth_target", default=d.synth_target,
                        help="synthesis target (default %(default)s)")
    parser.add_argument("--synth-mhz", type=float, default=d.synth_mhz,
                        help="clock target of place and route in MHz (default %(default)s)")
    parser.add_argument("--no-nm", dest="nm", action="store_false",
                        help="skip the 2:4 tile step")
    args = parser.parse_args(argv)
    try:
        opts = DemoOptions(**vars(args))
        report = run_demo(opts)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    print(f"Report, model, Verilog and plots are in {opts.out}/", file=sys.stderr)
    ok = report["eie"]["rtl_equals_golden"] and report["eie"]["rtl_cycles_equal_model"]
    if "nm" in report:
        ok = ok and all(t["rtl_equals_golden"] for t in report["nm"]["tiles"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
