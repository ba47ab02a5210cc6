"""``zeroskip bench sw-model``: golden-model speed, and the EIE format on Table III layers.

    zeroskip bench sw-model --repeat 15 --write
    zeroskip bench sw-model --size 1024 --layers NT-We --scale 0.25

Two tables:

1. a ``--size`` x ``--size`` layer (default 4096, Alex-7's shape) at 9 % weight
   and 35 % activation density: time to encode it for each of ``--pes`` PE
   counts, and time of one matrix-vector product in the functional model
   against ``scipy.sparse`` CSC (``csc @ x``) and a dense NumPy ``W @ x`` on the
   same integer matrix (the three must agree, or the benchmark fails);
2. the Table III layers encoded for the largest of ``--pes``: entries, padding
   and the static balance of entries over PEs.

Every array is sized for its layers by :func:`sw_model.eie_format.fit_config`
before encoding. Times are the best of ``--repeat`` runs on whatever machine
runs the benchmark: compare them with each other, not across machines.
"""

import os
import time

import numpy as np

from sw_model.config import EieConfig
from sw_model.eie_format import encode, fit_config
from sw_model.eie_model import eie_layer
from sw_model.fixed import requantize, wrap
from sw_model.layers import random_layer, table3_layers

from ..options import check_int_option
from .eie_cycles import (
    add_layer_arguments,
    check_layer_arguments,
    check_pe_counts,
    table3_workloads,
)

__all__ = ["TITLE", "HELP", "W_DENSITY", "ACT_DENSITY", "ENCODE_GOAL", "best_time",
           "add_arguments", "measure"]

TITLE = "Golden-model benchmark"

HELP = "encoder and functional-model speed, and the EIE format on Table III layers (a minute)"

#: Densities of the speed table's layer (Alex-7's).
W_DENSITY = 0.09
ACT_DENSITY = 0.35

#: The encoder's goal, nonzeros per second.
ENCODE_GOAL = 10e6


def best_time(func, repeat):
    """Best wall-clock and best CPU time of ``repeat`` calls of ``func``, and its last result.

    Returns ``((wall_seconds, cpu_seconds), result)``. The CPU time (of this
    process) is reported next to the wall time because the machine may be
    shared: it shows how much of the wall time was spent waiting.
    """
    best_wall = best_cpu = float("inf")
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = func()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return (best_wall, best_cpu), result


def add_arguments(parser):
    """The options of ``zeroskip bench sw-model``."""
    parser.add_argument("--size", type=int, default=4096, metavar="N",
                        help="inputs and outputs of the speed table's layer (default %(default)s)")
    parser.add_argument("--pes", type=int, nargs="+", default=[1, 8, 64], metavar="N",
                        help="PE counts to encode for; Table III uses the largest "
                             "(default: 1 8 64)")
    parser.add_argument("--repeat", type=int, default=5, metavar="N",
                        help="runs per timing, the best is kept (default %(default)s)")
    add_layer_arguments(parser, layers=[spec.name for spec in table3_layers()], seed=0)


def _speed_rows(args, progress):
    """``(nonzeros, rows)`` of the speed table; checks that the three products agree."""
    import scipy.sparse

    n = args.size
    with progress.step(f"drawing a {n} x {n} layer"):
        indices, codebook, acts = random_layer(n, n, W_DENSITY, ACT_DENSITY, args.seed)
    nnz = int(np.count_nonzero(indices))
    weights = codebook[indices]
    rows, layers = [], {}
    for n_pe in args.pes:
        with progress.step(f"encoding for {n_pe} PEs"):
            config = fit_config([indices], EieConfig(n_pe=n_pe))
            seconds, layers[n_pe] = best_time(
                lambda config=config: encode(indices, codebook, config=config), args.repeat)
        rows.append((f"encode, {n_pe} PEs", seconds, "nonzeros/s"))
    reference = None
    for n_pe in args.pes:
        with progress.step(f"functional model, {n_pe} PEs"):
            seconds, out = best_time(lambda n_pe=n_pe: eie_layer(layers[n_pe], acts),
                                     args.repeat)
        reference = out if reference is None else reference
        if not np.array_equal(out, reference):
            raise AssertionError(f"the functional model's output depends on n_pe ({n_pe})")
        rows.append((f"eie_layer, {n_pe} PEs", seconds, "weights/s"))
    with progress.step("scipy.sparse CSC and dense NumPy"):
        csc = scipy.sparse.csc_array(weights)
        seconds, sparse_acc = best_time(lambda: csc @ acts, args.repeat)
        rows.append(("scipy.sparse CSC `csc @ x` (int64, no requantization)", seconds,
                     "weights/s"))
        seconds, dense_acc = best_time(lambda: weights @ acts, args.repeat)
        rows.append(("dense NumPy `W @ x` (int64, no requantization)", seconds, "weights/s"))
    if not np.array_equal(sparse_acc, dense_acc):
        raise AssertionError("scipy.sparse and dense products differ")
    # The dense accumulators, requantized as the model (and the hardware) does.
    config = EieConfig()
    expected = requantize(wrap(dense_acc, config.acc_bits), config.w_frac_bits)
    if not np.array_equal(reference, expected):
        raise AssertionError("the functional model disagrees with the dense product")
    return nnz, rows


def _speed_table(args, progress):
    nnz, rows = _speed_rows(args, progress)
    n = args.size
    lines = [f"## Speed: {n} x {n} layer, {W_DENSITY:.0%} weight density ({nnz} nonzeros), "
             f"{ACT_DENSITY:.0%} activation density", "",
             "| step | best wall time (ms) | best CPU time (ms) | throughput (nonzeros / wall) |",
             "|---|---:|---:|---:|"]
    for what, (wall, cpu), unit in rows:
        lines.append(f"| {what} | {wall * 1e3:.1f} | {cpu * 1e3:.1f} | "
                     f"{nnz / wall / 1e6:.1f} M {unit} |")
    met_wall = [what for what, (wall, _), _ in rows
                if what.startswith("encode") and nnz / wall >= ENCODE_GOAL]
    met_cpu = [what for what, (_, cpu), _ in rows
               if what.startswith("encode") and nnz / cpu >= ENCODE_GOAL]
    lines += ["", f"Encoder goal {ENCODE_GOAL / 1e6:.0f} M nonzeros/s: met in wall time by "
              f"{len(met_wall)} and in CPU time by {len(met_cpu)} of the {len(args.pes)} PE "
              f"counts.", ""]
    return lines


def _table3_table(args, progress):
    n_pe = max(args.pes)
    with progress.step(f"drawing {len(args.layers)} Table III layer(s) at scale "
                       f"{args.scale:g}"):
        workloads = table3_workloads(args.layers, scale=args.scale, seed=args.seed,
                                     progress=progress)
    config = fit_config([w.indices for w in workloads], EieConfig(n_pe=n_pe), at_once=False)
    lines = [f"## EIE format on the Table III layers, {n_pe} PEs", "",
             f"Random weights at the paper's densities (seed {args.seed}, every dimension "
             f"scaled by {args.scale:g}), encoded for {n_pe} PEs.", "",
             "| layer | size (in x out) | weight density | nonzeros | padding entries | "
             "entries/PE mean / max | static entry balance | encode (ms) | "
             "paper load-balance efficiency |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    with progress.step(f"encoding the Table III layers for {n_pe} PEs"):
        for w in workloads:
            start = time.perf_counter()
            summary = encode(w.indices, w.codebook, config=config).summary()
            seconds = time.perf_counter() - start
            spec = w.spec
            lines.append(
                f"| {spec.name} | {w.size} | {spec.w_density:.0%} | {summary['nnz']} | "
                f"{summary['padding']} | {summary['load_mean']:.0f} / {summary['load_max']} | "
                f"{summary['load_balance']:.1%} | {seconds * 1e3:.0f} | "
                f"{spec.load_balance:.0%} |")
    return lines + [""]


#: How to read the tables; true of any run, so it is part of every document.
_READING = """\
## How to read the tables

- Every time is the best of `--repeat` runs; "CPU time" is the process's own CPU
  time over the same call. On a shared machine the wall time can be far above the
  CPU time (see the load average above); the CPU-time column is then the better
  measure of the code itself.
- `encode` has no Python loop over entries or columns: it finds the nonzeros of
  the whole matrix, reorders them into the PE streams with a stable radix sort on
  a (PE, column) key (two passes when `n_pe * n_cols > 65536`, which is why many
  PEs encode more slowly), builds the padding and the entries with `cumsum` and
  scatters, and finds the column pointers by binary search. Part of its time is a
  pass over the dense index matrix, proportional to its size rather than to its
  nonzeros.
- `eie_layer` (bit-exact: wrap, round, saturate) walks only the columns whose
  activation is nonzero, as the hardware does, reading the encoded v/z entries;
  `scipy.sparse` CSC does the bare integer product from a prebuilt row-index
  array. The benchmark checks that the model, CSC and dense products agree.
- Padding matters only at low density, where gaps of 16 or more zero local rows
  in a PE's slice of a column are common; a layer with at most 16 local rows
  per PE (outputs / PEs) cannot have any. The *static* entry balance (mean over
  maximum of the entries per PE) is not the paper's load-balance efficiency,
  which is *dynamic*: it also counts the cycles a PE waits for the others on
  each broadcast column. That comparison is the cycle model's
  ([`bench_eie_cycles.md`](bench_eie_cycles.md)).
"""


def measure(args, progress):
    """Time the golden model's tools and encode the Table III layers; the Markdown body."""
    check_layer_arguments(args)
    check_int_option("--size", args.size, 1, 1 << 16)
    check_int_option("--repeat", args.repeat, 1, 1000)
    check_pe_counts(args.pes)
    import scipy

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [f"NumPy {np.__version__}, SciPy {scipy.__version__}, {os.cpu_count()} CPUs, "
             f"load average at start {load}; seed {args.seed}, best of {args.repeat}.", ""]
    lines += _speed_table(args, progress)
    lines += _table3_table(args, progress)
    return "\n".join(lines) + "\n" + _READING
