"""Golden-model benchmark: encoder and functional-model speed, and Table III layers.

Run ``python -m sw_model.bench`` (or ``make bench``). It prints Markdown tables
on stdout and progress on stderr; ``docs/bench_sw_model.md`` holds a recorded
run. Wall-clock times are the best of ``--repeat`` runs on whatever machine runs
the script: compare them with each other, not across machines.

Tables:

1. a 4096 x 4096 layer at 9 % weight and 35 % activation density (Alex-7's
   shape): time to encode it for several PE counts, and time of one
   matrix-vector product in the functional model against ``scipy.sparse``
   CSC (``csc @ x``) and a dense NumPy ``W @ x`` on the same integer matrix;
2. the nine layers of the EIE paper's Table III encoded for 64 PEs: entries,
   padding and the static balance of entries over PEs.
"""

import argparse
import os
import platform
import sys
import time

import numpy as np

from .eie_format import encode
from .eie_model import eie_layer
from .layers import random_layer, table3_layers

__all__ = ["best_time", "speed_table", "table3_format_table", "main"]


def _progress(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


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


def speed_table(*, n=4096, w_density=0.09, act_density=0.35, pe_counts=(1, 8, 64), repeat=5,
                seed=0):
    """Rows of the speed table (list of dicts) for an ``n`` x ``n`` random layer."""
    import scipy.sparse

    _progress(f"generating a {n}x{n} layer, {w_density:.0%} weights, "
              f"{act_density:.0%} activations")
    indices, codebook, acts = random_layer(n, n, w_density, act_density, seed)
    nnz = int(np.count_nonzero(indices))
    weights = codebook[indices]
    rows = []
    layers = {}
    for n_pe in pe_counts:
        _progress(f"encoding for {n_pe} PEs")
        seconds, layers[n_pe] = best_time(lambda n_pe=n_pe: encode(indices, codebook, n_pe=n_pe),
                                          repeat)
        rows.append({"what": f"encode, {n_pe} PEs", "seconds": seconds,
                     "unit": "nonzeros/s"})

    reference = None
    for n_pe in pe_counts:
        _progress(f"functional model, {n_pe} PEs")
        seconds, out = best_time(lambda n_pe=n_pe: eie_layer(layers[n_pe], acts), repeat)
        reference = out if reference is None else reference
        if not np.array_equal(out, reference):
            raise AssertionError(f"the model's output depends on n_pe ({n_pe})")
        rows.append({"what": f"eie_layer, {n_pe} PEs", "seconds": seconds,
                     "unit": "weights/s"})

    _progress("scipy.sparse CSC and dense NumPy")
    csc = scipy.sparse.csc_array(weights)
    seconds, sparse_acc = best_time(lambda: csc @ acts, repeat)
    rows.append({"what": "scipy.sparse CSC `csc @ x` (int64, no requantization)",
                 "seconds": seconds, "unit": "weights/s"})
    seconds, dense_acc = best_time(lambda: weights @ acts, repeat)
    rows.append({"what": "dense NumPy `W @ x` (int64, no requantization)",
                 "seconds": seconds, "unit": "weights/s"})
    if not np.array_equal(sparse_acc, dense_acc):
        raise AssertionError("scipy.sparse and dense products differ")
    expected = np.clip((dense_acc + 2048) >> 12, -32768, 32767)
    if not np.array_equal(reference, expected):
        raise AssertionError("the functional model disagrees with the dense product")
    return nnz, rows


def table3_format_table(*, n_pe=64, seed=0):
    """Rows of the Table III format table (list of dicts), each layer encoded for ``n_pe``."""
    rows = []
    for layer in table3_layers():
        _progress(f"Table III {layer.name}: {layer.n_in}x{layer.n_out}")
        indices, codebook, _ = random_layer(layer.n_in, layer.n_out, layer.w_density,
                                            layer.act_density, seed)
        start = time.perf_counter()
        encoded = encode(indices, codebook, n_pe=n_pe)
        seconds = time.perf_counter() - start
        summary = encoded.summary()
        rows.append({"layer": layer, "seconds": seconds, **summary})
    return rows


def _fmt_rate(rate):
    return f"{rate / 1e6:.1f} M"


def main(argv=None):
    """Command-line entry point: print the benchmark tables."""
    parser = argparse.ArgumentParser(prog="python -m sw_model.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (best is kept)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random layers")
    parser.add_argument("--skip-table3", action="store_true",
                        help="only the 4096x4096 speed table")
    args = parser.parse_args(argv)

    import scipy

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, "
          f"SciPy {scipy.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average at start {load}; seed {args.seed}, best of {args.repeat}\n")

    nnz, rows = speed_table(repeat=args.repeat, seed=args.seed)
    print(f"4096 x 4096 layer, 9% weight density ({nnz} nonzeros), 35% activation density\n")
    print("| step | best wall time (ms) | best CPU time (ms) | throughput (nonzeros / wall) |")
    print("|---|---:|---:|---:|")
    for row in rows:
        wall, cpu = row["seconds"]
        print(f"| {row['what']} | {wall * 1e3:.1f} | {cpu * 1e3:.1f} | "
              f"{_fmt_rate(nnz / wall)} {row['unit']} |")
    print()

    if not args.skip_table3:
        rows = table3_format_table(seed=args.seed)
        print("EIE Table III layers (inputs x outputs), random weights at the paper's density, "
              "encoded for 64 PEs\n")
        print("| layer | size | weight density | nonzeros | padding entries | "
              "entries/PE mean / max | static entry balance | encode (ms) | "
              "paper load-balance efficiency |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            layer = row["layer"]
            print(f"| {layer.name} | {layer.n_in} x {layer.n_out} | {layer.w_density:.0%} | "
                  f"{row['nnz']} | {row['padding']} | "
                  f"{row['load_mean']:.0f} / {row['load_max']} | {row['load_balance']:.1%} | "
                  f"{row['seconds'] * 1e3:.0f} | {layer.load_balance:.0%} |")
        print()
    _progress("done")


if __name__ == "__main__":
    main()
