"""The plots of a run (PNG, under ``plots/``); only those with something to show are written.

* ``pe_load.png``: entries per PE for every layer, one panel each, since the
  worst-balanced layer sets the pace of the chain;
* ``accuracy_density.png``: accuracy along the pruning schedule, only when the
  network was fine-tuned while pruning (otherwise there is no curve);
* ``cycles.png``: cycles per inference of every vector against the ideal and
  the dense array.

Densities are the fraction of all the network's weights that are kept, the
one definition used in the report too; accuracies are percentages.
"""

from pathlib import Path

import numpy as np

from .report import pct
from .weights import dims

__all__ = ["write_plots", "plot_pe_load", "plot_accuracy_density", "plot_cycles",
           "plot_sensitivity", "plot_pareto"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pe_load(path, layers):
    """Entries per PE (nonzero weights and padding) of every ``(EieLayer, relu)`` layer."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    n = len(layers)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n + 1, 3.6), squeeze=False)
    for i, ((layer, _), ax) in enumerate(zip(layers, axes[0], strict=True)):
        pes = np.arange(layer.n_pe)
        real = layer.n_entries - layer.n_padding
        ax.bar(pes, real, label="nonzero weights")
        ax.bar(pes, layer.n_padding, bottom=real, label="padding")
        ax.axhline(layer.n_entries.mean(), color="k", linestyle="--", linewidth=1, label="mean")
        busiest = int(layer.n_entries.max())
        balance = layer.n_entries.mean() / busiest if busiest else 1.0
        ax.set(xlabel="PE", title=f"layer {i}: {dims([layer.n_cols, layer.n_rows])}\n"
                                  f"load balance {pct(balance, 0)}")
        if layer.n_pe <= 16:
            ax.set_xticks(pes)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("entries per PE")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("Work per PE (load balance: mean over busiest)", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_accuracy_density(path, history, *, quantized=None):
    """Accuracy against the fraction of weights kept, along the pruning schedule.

    ``history`` is ``[(fraction kept, accuracy)]``, the dense model first;
    ``quantized`` an optional ``(fraction kept, accuracy)`` of the final
    shared-weight fixed-point model.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    kept = [d * 100 for d, _ in history]
    acc = [a * 100 for _, a in history]
    ax.plot(kept, acc, "o-", label="float, pruned and fine-tuned")
    ax.annotate("dense", (kept[0], acc[0]), textcoords="offset points", xytext=(0, 6),
                fontsize=8, ha="center")
    if quantized is not None:
        ax.plot([quantized[0] * 100], [quantized[1] * 100], "s",
                label="shared 16-bit weights (golden model = RTL)")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100) if min(kept) / 1.5 <= t <= max(kept) * 1.5]
    ax.set_xticks(ticks, [f"{t} %" for t in ticks])
    ax.minorticks_off()
    ax.set(xlabel="weights kept, over all layers", ylabel="digits test accuracy (%)",
           title="Accuracy along the pruning schedule")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_cycles(path, cycles, ideal, *, dense_cycles, n_pe, source):
    """Cycles per inference of every vector (``source``: "RTL" or "cycle model").

    The axis is linear from 0 unless the dense array takes more than five
    times the fewest cycles; then it is logarithmic (so the gap between the
    array and the ideal stays visible), labelled at 1, 2, 3 and 5 times the
    powers of ten.
    """
    from matplotlib.ticker import FuncFormatter, NullLocator

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    vectors = np.arange(len(cycles))
    ax.plot(vectors, cycles, ".", markersize=4, label=f"EIE array, {n_pe} PEs ({source})")
    ax.plot(vectors, ideal, "_", markersize=6, color="g",
            label=f"ideal: entries in nonzero-activation columns / {n_pe}")
    ax.axhline(dense_cycles, color="r", label=f"dense array, {n_pe} MACs per cycle")
    lo = float(min(np.min(ideal), np.min(cycles)))
    hi = float(max(dense_cycles, np.max(cycles)))
    if lo > 0 and hi / lo > 5:
        ax.set_yscale("log")
        decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
        ticks = [m * 10.0 ** k for k in decades for m in (1, 2, 3, 5) if lo / 1.5 <= m * 10.0 ** k
                 <= hi * 1.5]
        ax.set_yticks(ticks)
        ax.yaxis.set_minor_locator(NullLocator())
    else:
        ax.set_ylim(0, hi * 1.1)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    if len(cycles) <= 20:
        ax.set_xticks(vectors)
    ax.set(xlabel="vector", ylabel="cycles per inference", title="Cycles per inference")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_sensitivity(path, drops, *, densities, labels, threshold, title):
    """Accuracy drop of every layer pruned alone, against its density (``zeroskip bench pruning``).

    ``drops``: one row per layer, one accuracy drop (a fraction) per density
    of ``densities``; ``labels``: one per layer; ``threshold``: the drop the
    per-layer densities are chosen under, drawn as a line.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    kept = np.asarray(densities, dtype=np.float64) * 100
    order = np.argsort(kept)
    for row, label in zip(np.asarray(drops, dtype=np.float64), labels, strict=True):
        ax.plot(kept[order], row[order] * 100, "o-", label=label)
    points = threshold * 100
    ax.axhline(points, color="k", linestyle="--", linewidth=1,
               label=f"threshold, {points:g} point{'' if points == 1 else 's'}")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xticks(kept[order], [f"{k:g} %" for k in kept[order]])
    ax.minorticks_off()
    ax.set(xlabel="density of the pruned layer", ylabel="accuracy drop (points)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _log_ticks(ax, values):
    """Logarithmic x axis labelled at 1, 2 and 5 times the powers of ten, in plain numbers."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    lo, hi = float(np.min(values)), float(np.max(values))
    ax.set_xscale("log")
    decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    ticks = [m * 10.0 ** k for k in decades for m in (1, 2, 5) if lo / 1.5 <= m * 10.0 ** k
             <= hi * 1.5]
    ax.set_xticks(ticks)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def plot_pareto(path, series, *, title, bottom=None):
    """Accuracy against cycles per inference and against stored bits, one panel each.

    ``series``: ``[(label, cycles, stored_bits, accuracies, style)]``, the
    accuracies fractions, ``style`` a Matplotlib format string (``"o-"``);
    a series drawn with a line is sorted by cycles (resp. bits) first.
    ``bottom``: the lowest accuracy shown (a fraction), so that the region
    where the networks compete is not squeezed by a few far worse ones; how
    many points lie below it is said under the title.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    below = 0
    for label, cycles, bits, accuracies, style in series:
        accuracies = np.asarray(accuracies, dtype=np.float64) * 100
        if bottom is not None:
            below += int(np.count_nonzero(accuracies < bottom * 100))
        for ax, cost in zip(axes, (cycles, np.asarray(bits) / 1000), strict=True):
            cost = np.asarray(cost, dtype=np.float64)
            order = np.argsort(cost, kind="stable")
            ax.plot(cost[order], accuracies[order], style, label=label, markersize=4)
    axes[0].set(xlabel="EIE cycles per inference (cycle model)", ylabel="test accuracy (%)")
    axes[1].set(xlabel="stored kbit (entries, pointers, codebooks)")
    for i, ax in enumerate(axes):
        _log_ticks(ax, np.concatenate([np.asarray(s[1 + i], dtype=np.float64)
                                       / (1000 if i else 1) for s in series]))
        ax.grid(alpha=0.3)
    if bottom is not None:
        axes[0].set_ylim(bottom=bottom * 100)
        if below:
            title += f"\n({below} point{'' if below == 1 else 's'} below {bottom * 100:g} % "
            title += "not shown)"
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_plots(folder, report, *, layers, cycles=None, ideal=None):
    """The plots ``report`` has data for, under ``folder/plots``; ``{name: path}``."""
    plots = Path(folder) / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    paths = {"pe_load": plots / "pe_load.png"}
    plot_pe_load(paths["pe_load"], layers)
    history = report["pruning"]["history"]
    if history:
        quantized = None
        if report["network"]["eval_is_digits"]:
            quantized = (report["pruning"]["density"], report["accuracy"]["quantized_golden"])
        paths["accuracy_density"] = plots / "accuracy_density.png"
        plot_accuracy_density(paths["accuracy_density"], history, quantized=quantized)
    if cycles is not None and "eie" in report:
        eie = report["eie"]
        paths["cycles"] = plots / "cycles.png"
        plot_cycles(paths["cycles"], cycles, ideal, dense_cycles=eie["dense_array_cycles"],
                    n_pe=report["config"]["n_pe"],
                    source="RTL" if eie["source"] == "rtl" else "cycle model")
    return {name: str(path) for name, path in paths.items()}
