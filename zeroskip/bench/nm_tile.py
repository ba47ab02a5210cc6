"""``zeroskip bench nm-tile``: 2:4 sparse against dense tile at equal multiplier count (Verilator).

    zeroskip bench nm-tile --write
    zeroskip bench nm-tile --rows 64 --k 256 --units 4 --groups 2

Both tiles (:class:`hw.sparse_nm.NMTile`) have ``--units`` MAC units of
``2 * --groups`` multipliers. The sparse tile's units are 2:4 (``4 * groups``
activations per beat); the dense tile's units are 2:2, plain dense MACs of the
same width (``2 * groups`` activations per beat), running the same pruned
matrix stored densely.

For every ``--rows`` value the benchmark draws a random 2:4-pruned ``rows x
--k`` layer of 16-bit weights and one 16-bit activation vector, loads the
layer through each tile's ``wload`` stream and runs the vector with no stalls
(:func:`zeroskip.rtl.run_nm_tile`; the testbench checks the outputs bit for
bit against the golden model). One build per tile, sized for the largest
layer, serves every layer. The cycles from the first activation beat accepted
to the last result valid must equal ``NMTile.vector_cycles(beats, blocks) =
blocks * beats + latency``, or the benchmark stops. "Dense-equivalent MACs per
cycle" is ``rows * K / cycles``.

The ``--formula-rows`` layers are not simulated: their rows give
``vector_cycles`` of the built tiles, labelled as such. A tile holding a
1024 x 1024 layer has 8192 (sparse) or 16384 (dense) weight words per unit,
and Amaranth's Verilog gives every memory word its initial value, so
Verilator's C++ compile grows with the memory: the sparse tile alone took
7.5 minutes to generate, build, load and run when tried (its cycles equal the
formula), and the dense tile has twice the words.
"""

import time
from pathlib import Path

import numpy as np

from hw.generate import Design
from hw.sparse_nm import NMTile
from sw_model.config import SparseMacConfig, SparseTileConfig

from ..errors import UserError
from ..options import check_int_option, check_out

__all__ = ["TITLE", "HELP", "N", "M", "add_arguments", "measure"]

TITLE = "N:M sparse against dense tile at equal multiplier count (Verilator)"

HELP = "2:4 sparse against dense N:M tile in Verilator, cycles and throughput (minutes)"

#: The sparse pattern: ``N`` kept weights in every group of ``M``.
N, M = 2, 4

#: Bits of the weights and activations.
BITS = 16


def add_arguments(parser):
    """The options of ``zeroskip bench nm-tile``."""
    parser.add_argument("--rows", type=int, nargs="+", default=[128, 256], metavar="R",
                        help="outputs of the layers simulated (default: 128 256)")
    parser.add_argument("--formula-rows", type=int, nargs="*", default=[1024], metavar="R",
                        help="outputs of the layers given by the tiles' cycle formula, not "
                             "simulated (default: 1024; none with the option alone)")
    parser.add_argument("--k", type=int, default=1024,
                        help=f"inputs of every layer, a multiple of {M} (default %(default)s)")
    parser.add_argument("--units", type=int, default=8,
                        help="MAC units of each tile (default %(default)s)")
    parser.add_argument("--groups", type=int, default=4,
                        help="groups per beat of each MAC unit (default %(default)s)")
    parser.add_argument("--seed", type=int, default=2016,
                        help="seed of the layers and vectors (default %(default)s)")
    parser.add_argument("--out", default="build/bench_nm_tile",
                        help="build folder, one sub-folder per tile (default %(default)s)")


def _tiles(args):
    """``{label: SparseTileConfig}``: both tiles, sized for the largest layer."""
    tiles = {}
    for label, m in ((f"sparse-{N}of{M}", M), (f"dense-{N}of{N}", N)):
        mac = SparseMacConfig(n=N, m=m, groups=args.groups, act_bits=BITS, w_bits=BITS)
        beats = -(-args.k // mac.lanes)
        blocks = -(-max(args.rows) // args.units)
        tiles[label] = SparseTileConfig(mac=mac, units=args.units, act_depth=beats,
                                        weight_depth=beats * blocks)
    return tiles


def _layer(args, rows):
    """The ``rows x K`` layer and its vector: the same for every tile and every run."""
    from sim.nm_stimulus import random_acts, random_nm_matrix

    rng = np.random.default_rng([args.seed, rows])
    w = random_nm_matrix(rng, rows, args.k, N, M, BITS)
    return w, random_acts(rng, args.k, BITS)[np.newaxis]


def _measure_tile(label, config, args, progress):
    """Every layer through one tile; ``{rows: record}``."""
    from ..rtl import run_nm_tile

    build_dir = Path(args.out).resolve() / label
    top = NMTile(config=config)
    _, sidecar = Design(name=f"bench-{label}", top=top).write(build_dir)
    records = {}
    for rows in args.rows:
        w, acts = _layer(args, rows)
        started = time.perf_counter()
        run = run_nm_tile(sidecar, w, acts, build_dir=build_dir)
        seconds = time.perf_counter() - started
        formula = top.vector_cycles(run.beats, run.blocks)
        if run.cycles != formula:
            raise AssertionError(f"{label}, {rows} x {args.k}: measured {run.cycles} cycles, "
                                 f"but blocks * beats + latency = {formula}; simulation in "
                                 f"{build_dir}")
        records[rows] = {"beats": run.beats, "blocks": run.blocks, "cycles": run.cycles,
                         "latency": top.latency, "how": "Verilator", "seconds": f"{seconds:.0f}"}
        progress.note(f"{label}, {rows} x {args.k}: {run.cycles} cycles, {seconds:.0f} s")
    beats = records[args.rows[0]]["beats"]
    for rows in args.formula_rows:
        blocks = -(-rows // config.units)
        records[rows] = {"beats": beats, "blocks": blocks, "latency": top.latency,
                         "cycles": top.vector_cycles(beats, blocks),
                         "how": "formula (not simulated)", "seconds": "-"}
    return records


def measure(args, progress):
    """Both tiles on every layer; the Markdown body."""
    for option, values in (("--rows", args.rows), ("--formula-rows", args.formula_rows)):
        for rows in values:
            check_int_option(option, rows, 1, 1 << 16)
        if len(set(values)) != len(values):
            raise UserError(f"{option} must not repeat a value, not "
                            f"{' '.join(map(str, values))}")
    both = sorted(set(args.rows) & set(args.formula_rows))
    if both:
        raise UserError(f"--formula-rows must not repeat a value of --rows, not "
                        f"{' '.join(map(str, both))}")
    check_int_option("--k", args.k, M, 1 << 16)
    if args.k % M:
        raise UserError(f"--k must be a multiple of {M}, not {args.k!r}")
    check_int_option("--units", args.units, 1, 256)
    check_int_option("--groups", args.groups, 1, 256)
    if args.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, not {args.seed!r}")
    check_out("--out", args.out)
    tiles = _tiles(args)
    measured = {}
    for label, config in tiles.items():
        with progress.step(f"{label} tile: build, then {len(args.rows)} layer(s)"):
            measured[label] = _measure_tile(label, config, args, progress)
    sparse, dense = tiles
    mults = args.units * N * args.groups
    lines = [
        f"Random {N}:{M}-pruned {BITS}-bit weights and one {BITS}-bit activation vector per "
        f"layer (seed {args.seed}), no stalls. Sparse tile: {args.units} units of {N}:{M} x "
        f"{args.groups} groups; dense tile: {args.units} units of {N}:{N} x {args.groups} "
        f"groups (the same matrix stored densely), so both have {mults} multipliers.", "",
        "*Verilator* rows: the layer is loaded through the tile's `wload` stream, the cycles "
        "are counted in the simulation from the first activation beat accepted to the last "
        "result valid (both included), the outputs are checked bit for bit against "
        "`sw_model.nm_model` by the testbench, and every count equals "
        "`NMTile.vector_cycles = blocks * beats + latency` (the benchmark checks it). Sim "
        "wall time is that of the whole run (data written, simulator started, layer loaded, "
        "vector run); the first row of each tile also includes its Verilator build. "
        "*Formula* rows: `vector_cycles` of the same tiles for a layer not simulated (see "
        "below).", "",
        "| tile | layer | cycles from | units x multipliers | activations / beat "
        "| beats / row block | row blocks | latency | cycles | dense-equivalent MACs / cycle "
        "| per multiplier | speed-up vs dense | sim wall time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for rows in [*args.rows, *args.formula_rows]:
        dense_cycles = measured[dense][rows]["cycles"]
        for label, config in tiles.items():
            r = measured[label][rows]
            rate = rows * args.k / r["cycles"]
            lines.append(
                f"| {label} | {rows} x {args.k} | {r['how']} | {config.units} x "
                f"{config.mac.mults} | {config.mac.lanes} | {r['beats']} | {r['blocks']} "
                f"| {r['latency']} | {r['cycles']} | {rate:.2f} "
                f"| {rate / (config.units * config.mac.mults):.4f} "
                f"| {dense_cycles / r['cycles']:.4f}x | {r['seconds']} |")
    if args.formula_rows:
        # The tiles' act_depth is the layers' beats (see _tiles).
        words = {label: config.act_depth * -(-max(args.formula_rows) // config.units)
                 for label, config in tiles.items()}
        lines += ["", f"The formula rows are not simulated: a tile holding a "
                      f"{max(args.formula_rows)} x {args.k} layer needs "
                      f"{' and '.join(f'{n} ({label})' for label, n in words.items())} "
                      f"weight words per unit, and Amaranth's Verilog gives every memory word "
                      f"its initial value, so Verilator's C++ compile grows with the memory. When "
                      f"tried with the default options, the sparse tile sized for 1024 x 1024 "
                      f"(8192 words per unit) took "
                      f"7.5 minutes to generate, build, load and run, and its 8200 cycles "
                      f"equalled the formula; the dense tile has twice the words."]
    lines += ["", f"Area and Fmax of the N:M tiles on FPGAs: [`bench_synth.md`](bench_synth.md) "
              f"(`zeroskip bench synth`). The {sparse} tile's speed-up here is in cycles "
              f"only."]
    return "\n".join(lines)
