"""``zeroskip bench eie-cycles``: EIE load-balance efficiency on Table III layers (cycle model).

    zeroskip bench eie-cycles --write
    zeroskip bench eie-cycles --layers NT-We Alex-7 --scale 0.25 --pes 16

The nine layers of the EIE paper's Table III (:func:`sw_model.layers.table3_layers`),
with random weights and activations at the paper's densities, run through the
cycle model (:func:`sw_model.eie_cycles.layer_cycles`, which the RTL matches
cycle for cycle) on an array of ``--pes`` PEs with activation queues of depth
``--queue-depth``. The array is sized for the layers by
:func:`sw_model.eie_format.fit_config` (one layer loaded at a time) and its
latencies come from the design (``EieArray(config=...).timing``). Returns three
tables: cycles, ideal cycles and efficiency next to the paper's load-balance
figure; the efficiency of one layer for several queue depths; the speedup of
one layer from 1 PE to ``--pes``.

The Table III layers drawn at random, and the options that choose them, are
shared with the golden-model and RTL benchmarks (:func:`add_layer_arguments`,
:func:`table3_workloads`), so all three measure the same layers.
"""

import dataclasses
import functools
import time
from dataclasses import dataclass

import numpy as np

from hw.eie.array import EieArray
from sw_model.config import EieConfig
from sw_model.eie_cycles import layer_cycles
from sw_model.eie_format import encode, fit_config
from sw_model.layers import BenchLayer, random_layer, table3_layers

from ..errors import UserError
from ..options import MAX_PE, MAX_QUEUE_DEPTH, check_int_option

__all__ = ["TITLE", "HELP", "UNBOUNDED", "QUEUE_DEPTHS", "Workload", "add_layer_arguments",
           "check_layer_arguments", "check_pe_counts", "table3_workloads", "add_arguments",
           "measure"]

TITLE = "EIE load-balance efficiency on Table III layers (cycle model)"

HELP = "EIE cycles and efficiency on the Table III layers, from the cycle model (a minute)"

#: A queue depth no layer fills: the efficiency left is the load imbalance of
#: the matrix itself and the fixed per-layer overhead.
UNBOUNDED = MAX_QUEUE_DEPTH
#: The EIE paper's activation FIFO depth.
PAPER_QUEUE_DEPTH = 8

#: Queue depths of the queue-depth table.
QUEUE_DEPTHS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class Workload:
    """One Table III layer drawn at random, its dimensions scaled.

    ``spec`` is the paper's row (:class:`~sw_model.layers.BenchLayer`);
    ``indices`` the ``(n_out, n_in)`` codebook indices (``uint8``, to keep the
    big layers small in memory); ``codebook`` and ``acts`` as
    :func:`sw_model.layers.random_layer` returns them.
    """

    spec: BenchLayer
    indices: np.ndarray
    codebook: np.ndarray
    acts: np.ndarray

    @property
    def size(self):
        """``"inputs x outputs"``, the paper's way of writing a layer's size."""
        n_out, n_in = self.indices.shape
        return f"{n_in} x {n_out}"


def add_layer_arguments(parser, *, layers, seed):
    """``--layers``, ``--scale`` and ``--seed``: which Table III layers, how large, which draw.

    ``layers`` and ``seed`` are the benchmark's defaults.
    """
    names = [spec.name for spec in table3_layers()]
    parser.add_argument("--layers", nargs="+", metavar="NAME", default=list(layers),
                        help=f"Table III layers, of {', '.join(names)} "
                             f"(default: {' '.join(layers)})")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="factor on every layer's inputs and outputs, in (0, 1] "
                             "(default %(default)s: the paper's sizes)")
    parser.add_argument("--seed", type=int, default=seed,
                        help="seed of the random weights and activations (default %(default)s)")


def _spec(option, name):
    specs = {spec.name: spec for spec in table3_layers()}
    if name not in specs:
        raise UserError(f"{option}: unknown Table III layer {name!r}; known: "
                        f"{', '.join(specs)}")
    return specs[name]


def check_layer_arguments(args):
    """Check the options of :func:`add_layer_arguments` before any work starts."""
    for name in args.layers:
        _spec("--layers", name)
    if not 0 < args.scale <= 1:
        raise UserError(f"--scale must be in (0, 1], not {args.scale!r}")
    if args.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, not {args.seed!r}")


def check_pe_counts(pes):
    """Check a list of PE counts (a ``--pes`` of several values): 1 to the maximum, none twice."""
    for n_pe in pes:
        check_int_option("--pes", n_pe, 1, MAX_PE)
    if len(set(pes)) != len(pes):
        raise UserError(f"--pes must not repeat a PE count, not {' '.join(map(str, pes))}")


def table3_workloads(names, *, scale, seed, progress):
    """The Table III layers ``names`` drawn with ``seed``, dimensions scaled by ``scale``.

    Every layer is drawn from the same seed, so a layer is the same whichever
    others are drawn with it. A dimension scales to ``max(1, round(d * scale))``.
    """
    workloads = []
    with progress.bar(len(names), "layers drawn") as bar:
        for name in names:
            spec = _spec("--layers", name)
            n_in = max(1, round(spec.n_in * scale))
            n_out = max(1, round(spec.n_out * scale))
            indices, codebook, acts = random_layer(n_in, n_out, spec.w_density,
                                                   spec.act_density, seed)
            workloads.append(Workload(spec, indices.astype(np.uint8), codebook, acts))
            bar.advance()
    return workloads


def add_arguments(parser):
    """The options of ``zeroskip bench eie-cycles``."""
    add_layer_arguments(parser, layers=[spec.name for spec in table3_layers()], seed=1)
    parser.add_argument("--pes", type=int, default=64, metavar="N",
                        help=f"PEs of the array, 1 to {MAX_PE} (default %(default)s)")
    parser.add_argument("--queue-depth", type=int, default=EieConfig().queue_depth, metavar="D",
                        help=f"activation queue depth, 1 to {MAX_QUEUE_DEPTH} "
                             f"(default %(default)s, the array's default; the table "
                             f"also gives the paper's FIFO depth, {PAPER_QUEUE_DEPTH})")
    parser.add_argument("--queue-layer", default="NT-We", metavar="NAME",
                        help="Table III layer of the queue-depth table (default %(default)s)")
    parser.add_argument("--speedup-layer", default="Alex-7", metavar="NAME",
                        help="Table III layer of the speedup table (default %(default)s)")


@functools.cache
def _timing(config):
    """The latencies of the array built with ``config``."""
    return EieArray(config=config).timing


def _cycles(workload, config):
    """The cycle model's :class:`~sw_model.eie_cycles.LayerCycles` of ``workload`` on ``config``.

    ``config`` must be sized for the layer; the latencies are the array's own.
    """
    layer = encode(workload.indices, workload.codebook, config=config)
    return layer_cycles(layer, workload.acts, config=config, timing=_timing(config))


def _alone(workload, base):
    """``base`` sized for ``workload``'s layer alone."""
    return fit_config([workload.indices], base, at_once=False)


def _other_depths(base):
    """Queue depths the Table III table also reports: the paper's, twice the base, unbounded."""
    depths = {PAPER_QUEUE_DEPTH, min(2 * base.queue_depth, UNBOUNDED), UNBOUNDED}
    return sorted(depths - {base.queue_depth})


def _table3(workloads, base, progress):
    config = fit_config([w.indices for w in workloads], base, at_once=False)
    depths = _other_depths(base)
    others = [dataclasses.replace(config, queue_depth=d) for d in depths]
    rows = []
    with progress.bar(len(workloads), "layers through the cycle model") as bar:
        for w in workloads:
            rows.append((w, _cycles(w, config), [_cycles(w, other) for other in others]))
            bar.advance()
    lines = [f"## Table III layers, {base.n_pe} PEs, queue depth {base.queue_depth}", "",
             "| Layer | Size (in x out) | Weights | Acts | Cycles | Ideal | Efficiency "
             "| Paper | Goal met | "
             + " | ".join(f"Efficiency, queue {d}" for d in depths) + " |",
             "|---|---|---|---|---|---|---|---|---|" + "---|" * len(depths)]
    for w, r, other_rs in rows:
        spec = w.spec
        met = "yes" if r.efficiency >= spec.load_balance else "NO"
        lines.append(
            f"| {spec.name} | {w.size} | {spec.w_density:.0%} | {spec.act_density:.1%} "
            f"| {r.cycles} | {r.ideal:.0f} | {r.efficiency:.1%} | {spec.load_balance:.0%} "
            f"| {met} | " + " | ".join(f"{o.efficiency:.1%}" for o in other_rs) + " |")
    mean = np.mean([row[1].efficiency for row in rows])
    paper = np.mean([row[0].spec.load_balance for row in rows])
    other_means = [np.mean([row[2][k].efficiency for row in rows]) for k in range(len(depths))]
    with_depths = ", ".join(f"{m:.1%} with queues of {d}" for d, m in zip(depths, other_means,
                                                                          strict=True))
    lines += ["", f"Average efficiency {mean:.1%} (paper {paper:.1%}; goal: no layer below the "
              f"paper, average >= 95%); {with_depths}. Besides the queues, what is "
              f"lost is the uneven split of the random matrices' entries over the "
              f"{base.n_pe} PEs (row interleaving), one broadcast per cycle, and each "
              f"layer's pipeline fill and drain (there is no requantization pass).", ""]
    return lines


def _queue_table(workload, base):
    config = _alone(workload, base)
    lines = [f"## Queue depth, {workload.spec.name}, {base.n_pe} PEs", "",
             "| Queue depth | Cycles | Efficiency | Stall cycles (mean per PE) |",
             "|---|---|---|---|"]
    for depth in QUEUE_DEPTHS:
        r = _cycles(workload, dataclasses.replace(config, queue_depth=depth))
        lines.append(f"| {depth} | {r.cycles} | {r.efficiency:.1%} | {r.stall.mean():.0f} |")
    return lines + [""]


def _speedup_table(workload, base):
    pes = [1 << k for k in range(base.n_pe.bit_length())]
    if pes[-1] != base.n_pe:
        pes.append(base.n_pe)
    rows = [(n_pe, _cycles(workload, _alone(workload, dataclasses.replace(base, n_pe=n_pe))))
            for n_pe in pes]
    lines = [f"## Speedup, {workload.spec.name}, queue depth {base.queue_depth}", "",
             "| PEs | Cycles | Speedup | Efficiency |", "|---|---|---|---|"]
    first = rows[0][1].cycles
    for n_pe, r in rows:
        lines.append(f"| {n_pe} | {r.cycles} | {first / r.cycles:.1f} | {r.efficiency:.1%} |")
    return lines + [""]


def measure(args, progress):
    """Draw the layers, run the cycle model, return the Markdown body."""
    check_layer_arguments(args)
    check_int_option("--pes", args.pes, 1, MAX_PE)
    check_int_option("--queue-depth", args.queue_depth, 1, MAX_QUEUE_DEPTH)
    _spec("--queue-layer", args.queue_layer)
    _spec("--speedup-layer", args.speedup_layer)
    started = time.perf_counter()
    names = list(dict.fromkeys([*args.layers, args.queue_layer, args.speedup_layer]))
    with progress.step(f"drawing {len(names)} Table III layer(s) at scale {args.scale:g}"):
        drawn = dict(zip(names, table3_workloads(names, scale=args.scale, seed=args.seed,
                                                 progress=progress), strict=True))
    base = EieConfig(n_pe=args.pes, queue_depth=args.queue_depth)
    lines = [
        f"Random weights and activations at the densities of the EIE paper's Table III "
        f"(`sw_model.layers`, seed {args.seed}, every dimension scaled by {args.scale:g}), "
        f"run through the cycle model (`sw_model.eie_cycles`), which the RTL matches cycle for "
        f"cycle (`tests/test_eie_rtl.py`, `zeroskip bench eie-rtl`). Each array is sized for "
        f"its layers by `fit_config` (one layer loaded at a time) and its latencies are the "
        f"design's (`EieArray.timing`). Efficiency = ideal / cycles, ideal = entries processed "
        f"(padding included, columns with a nonzero activation only) / PEs. The paper's "
        f"figure is its load-balance efficiency at FIFO depth 8.", ""]
    with progress.step(f"Table III layers on {args.pes} PEs"):
        lines += _table3([drawn[name] for name in args.layers], base, progress)
    with progress.step(f"queue depths {', '.join(map(str, QUEUE_DEPTHS))} on "
                       f"{args.queue_layer}"):
        lines += _queue_table(drawn[args.queue_layer], base)
    with progress.step(f"speedup of {args.speedup_layer} from 1 to {args.pes} PEs"):
        lines += _speedup_table(drawn[args.speedup_layer], base)
    lines.append(f"Model run time for all tables: {time.perf_counter() - started:.1f} s "
                 f"(drawing and encoding the layers included).")
    return "\n".join(lines)
