"""The report of a run: ``report.json`` (every figure) and ``report.md`` (for people).

The pipeline (:mod:`zeroskip.demo`, :mod:`zeroskip.compile`) fills a ``dict``;
this module only writes it out. Conventions, the same everywhere: a layer is
``inputs -> outputs`` (``64 -> 256``), accuracies are percentages, and every
figure says what it counts. The sections:

``network``
    where the network came from, its sizes, which layers have a bias, what was
    done to it, and the data it was evaluated on;
``accuracy``
    float, quantized (golden model = RTL), RTL and 2:4 accuracies;
``agreement``
    the quantized golden model against the float model, which needs no
    labels: the same top-1 class, the output differences in real units;
``compression``
    stored bits against dense float32, per layer (a bias is its layer's last
    column, counted with the weights);
``eie``
    cycles per inference (from the RTL, or the cycle model alone), ideal
    cycles, the dense array's cycles and the speed-up over it;
``nm``
    the 2:4 tile against a dense tile with as many multipliers;
``synth``
    resources, block RAM, Fmax against the target, inferences per second.
"""

import json
from pathlib import Path

import numpy as np

from .weights import bias_text, dims

__all__ = ["pct", "format_report", "write_report", "eie_lines", "accuracy_lines",
           "agreement_lines"]


def pct(value, digits=2):
    """``0.9733`` as ``"97.33 %"``; ``None`` as ``"n/a"``."""
    return "n/a" if value is None else f"{value * 100:.{digits}f} %"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _network_lines(report):
    net = report["network"]
    counted = f"{net['weights']:,} weights"
    if any(net["bias"]):
        counted += f" and biases ({net['biases']:,} of them biases)"
    lines = [f"Network: {net['source']}; layers {dims(net['sizes'])} (inputs -> outputs), "
             f"{bias_text(net['bias'])}, {counted}.", "", "What was done to it:", ""]
    lines += [f"- {step}" for step in net["steps"]]
    lines.append("")
    if net.get("evaluation"):
        text = f"Evaluated on {net['evaluation']} ({net['eval_vectors']} vectors)"
        if "rtl_vectors" in net:
            ran = ("all of them" if net["rtl_vectors"] == net["eval_vectors"]
                   else f"the first {net['rtl_vectors']} of them")
            text += (f"; the RTL ran {ran} (`--images` limits the RTL run only: the float and "
                     f"golden-model figures cover all {net['eval_vectors']})")
        lines += [text + ".", ""]
    else:
        lines += ["No test data: the file has no `x` and the network does not have the digits "
                  "set's 64 inputs, so no accuracy is measured.", ""]
    return lines


def accuracy_lines(report):
    """The accuracy table (only the rows the run measured)."""
    acc = report["accuracy"]
    if all(v is None for v in acc.values()):
        return []
    density = report["pruning"]["density"]
    rows = [
        ("dense_float", "float, before pruning"),
        ("pruned_float", f"float, pruned ({pct(density, 1)} of weights kept)"),
        ("quantized_golden", "quantized: shared 16-bit weights, 16-bit activations "
                             "(golden model, bit-exact with the RTL)"),
    ]
    if "rtl" in acc:
        n = report["network"]["rtl_vectors"]
        rows += [("rtl", f"RTL (Verilator), first {n} vectors"),
                 ("quantized_golden_rtl_vectors", f"golden model on the same {n} vectors")]
    rows += [("nm_float", "2:4 copy, float"),
             ("nm_quantized", "2:4 copy, 16-bit fixed point (golden model)")]
    lines = ["## Accuracy", "", "| model | accuracy |", "|---|---:|"]
    lines += [f"| {label} | {pct(acc[key])} |" for key, label in rows if acc.get(key) is not None]
    return lines + [""]


def agreement_lines(report):
    """How closely the quantized golden model follows the float model (no labels needed)."""
    agree = report.get("agreement")
    if agree is None:
        return []
    n = agree["vectors"]

    def count(fraction):
        return f"{round(fraction * n)} of {n} vectors ({pct(fraction)})"

    return ["## Agreement with the float model", "",
            f"The quantized golden model (bit-exact with the RTL) gives the same top-1 class "
            f"(argmax of the outputs) as the pruned float model on {count(agree['top1'])}, and "
            f"as the float model before pruning on {count(agree['top1_dense'])}. Its outputs, "
            f"in real units, differ from the pruned float model's by "
            f"{agree['max_abs_diff']:.4g} at most and {agree['mean_abs_diff']:.4g} on average "
            f"over all outputs.", ""]


def _compression_lines(report):
    comp = report["compression"]
    lines = ["## Compression", "",
             "| layer | inputs -> outputs | bias | weights kept | entries (padding) | "
             "load balance | stored bits | weight-sharing RMS error |",
             "|---:|---|---|---:|---:|---:|---:|---:|"]
    for i, layer in enumerate(comp["layers"]):
        bits = layer["matrix_bits"] + layer["pointer_bits"] + layer["codebook_bits"]
        lines.append(
            f"| {i} | {dims([layer['n_inputs'], layer['n_rows']])} | "
            f"{'yes' if layer['bias'] else 'no'} | "
            f"{layer['nnz']:,} "
            f"({pct(layer['density'], 1)}) | {layer['entries']:,} ({layer['padding']:,}) | "
            f"{pct(layer['load_balance'], 1)} | {bits:,} | {layer['rms_error']:.4f} |")
    lines += ["", f"{comp['dense_float32_bits']:,} bits as dense float32, "
              f"{comp['stored_bits']:,} bits stored (entries, column pointers, codebooks): "
              f"**{comp['ratio']:.1f}x** smaller. Load balance: the mean PE's entries over the "
              f"busiest PE's." + (
                  " A bias is one more column of its layer's matrix, with activation 1.0: the "
                  "weights kept, entries and errors include the biases."
                  if any(layer["bias"] for layer in comp["layers"]) else ""), ""]
    return lines


def eie_lines(eie, config):
    """The EIE section: correctness, cycles per inference, ideal cycles, speed-up."""
    n_pe = config["n_pe"]
    measured = eie["source"] == "rtl"
    lines = [f"## EIE array: {n_pe} PEs, queue depth {config['queue_depth']}", ""]
    if measured:
        n = eie["vectors"]
        lines += [f"RTL outputs equal the golden model bit for bit on "
                  f"{n - eie['outputs_differing']} of {n} vectors; RTL cycle counts equal the "
                  f"cycle model on {n - eie['cycles_differing']} of {n}.", ""]
    else:
        lines += [f"Predicted by the cycle model (exact for the RTL) on {eie['vectors']} "
                  f"vectors; `zeroskip simulate` runs the RTL.", ""]
    source = "RTL" if measured else "cycle model"
    lines += [
        "| per inference | cycles |", "|---|---:|",
        f"| {source}, mean (min - max) | {eie['cycles_mean']:,.1f} "
        f"({eie['cycles_min']:,} - {eie['cycles_max']:,}) |",
        f"| ideal: entries in the columns whose activation is nonzero, over {n_pe} PEs | "
        f"{eie['ideal_mean']:,.1f} |",
        f"| dense array of {n_pe} MACs: all {eie['dense_macs']:,} weights over {n_pe} | "
        f"{eie['dense_array_cycles']:,.1f} |",
        "",
        f"Speed-up over the dense array: **{eie['speedup_over_dense']:.2f}x**. "
        f"Load-balance efficiency (ideal over {source} cycles): "
        f"{pct(eie['load_balance_efficiency'], 1)}. Dense-equivalent MACs per cycle: "
        f"{eie['dense_equivalent_macs_per_cycle']:.1f}.", "",
    ]
    return lines


def _nm_lines(nm):
    sparse, dense = nm["tiles"]["nm_tile"], nm["tiles"]["dense_tile"]
    lines = [f"## {nm['pattern']} tile", "",
             f"Layer 0 of the {nm['pattern']} copy ({dims(nm['layer'])}) on a tile of "
             f"{nm['units']} units, against a dense tile with as many multipliers "
             f"({sparse['multipliers']}), {sparse['vectors']} vectors:", "",
             "| tile | cycles per vector | cycles, all vectors (RTL) | dense-equivalent "
             "MACs per cycle | RTL = golden model |", "|---|---:|---:|---:|---|"]
    for label, tile in ((f"{nm['pattern']} sparse", sparse), ("dense", dense)):
        if "error" in tile:
            lines.append(f"| {label} | - | - | - | NO: {tile['error']} |")
            continue
        lines.append(f"| {label} | {tile['cycles_per_vector']} | {tile['cycles']:,} | "
                     f"{tile['dense_equivalent_macs_per_cycle']:.1f} | "
                     f"{'yes' if tile['rtl_equals_golden'] else 'NO'} |")
    if nm.get("speedup") is not None:
        lines += ["", f"Speed-up of the {nm['pattern']} tile over the dense tile: "
                  f"**{nm['speedup']:.2f}x**."]
    return lines + [""]


def _synth_lines(syn):
    lines = ["## FPGA synthesis", ""]
    if "error" in syn:
        return lines + [f"Synthesis failed: {syn['error']}", ""]
    grade = f", speed grade {syn['speed_grade']}" if syn.get("speed_grade") else ""
    met = "met" if syn["timing_met"] else "NOT met"
    lines += [
        f"{syn['part']}{grade}, nextpnr seed {syn['seed']}"
        f"{' (results reused from the synthesis cache)' if syn.get('cached') else ''}:", "",
        "| LUTs | flip-flops | block RAMs | DSPs | Fmax | target | timing |",
        "|---:|---:|---:|---:|---:|---:|---|",
        f"| {syn['luts']['used']:,} / {syn['luts']['available']:,} | {syn['flip_flops']:,} | "
        f"{syn['block_rams']['used']} / {syn['block_rams']['available']} | "
        f"{syn['dsps']['used']} / {syn['dsps']['available']} | {syn['fmax_mhz']:.1f} MHz | "
        f"{syn['target_mhz']:g} MHz | {met} |", "",
    ]
    if "inferences_per_second" in syn:
        lines += [f"At Fmax and {syn['cycles_per_inference']:.1f} cycles per inference: "
                  f"**{syn['inferences_per_second']:,.0f} inferences per "
                  f"second**, compute only: host I/O (writing the inputs and reading the "
                  f"outputs through the host port) is not included.", ""]
    lines.append("Tools: " + ", ".join(f"{k} {v}" for k, v in syn["tools"].items()) + ".")
    return lines + [""]


def format_report(report):
    """The report as Markdown."""
    lines = [f"# {report['title']}", "", f"Made with `{report['command']}`.", ""]
    lines += _network_lines(report)
    lines += accuracy_lines(report)
    lines += agreement_lines(report)
    lines += _compression_lines(report)
    if "eie" in report:
        lines += eie_lines(report["eie"], report["config"])
    if "nm" in report:
        lines += _nm_lines(report["nm"])
    if "synth" in report:
        lines += _synth_lines(report["synth"])
    if report.get("files"):
        lines += ["## Files", ""]
        lines += [f"- {what}: `{path}`" for what, path in report["files"].items()]
        lines.append("")
    if "next" in report:
        lines += [f"Run it in Verilator: `{report['next']}`.", ""]
    if "run_seconds" in report:
        lines.append(f"Run time: {report['run_seconds']:.0f} s.")
    return "\n".join(lines).rstrip() + "\n"


def write_report(folder, report):
    """Write ``report.json`` and ``report.md`` into ``folder``; return the Markdown."""
    folder = Path(folder)
    text = format_report(report)
    (folder / "report.json").write_text(
        json.dumps(report, indent=2, default=_json_default) + "\n")
    (folder / "report.md").write_text(text)
    return text
