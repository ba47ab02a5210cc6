"""``zeroskip bench nm-tile``: 2:4 sparse against dense tile at equal multiplier count (Verilator).

    zeroskip bench nm-tile --synth-targets ecp5-25f-6 --write
    zeroskip bench nm-tile --rows 64 --k 256 --units 4 --groups 2 --synth-targets

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

The ``--formula-rows`` layers (none by default) are not simulated: their rows
give ``vector_cycles`` of the built tiles, labelled as such. A tile holding a
1024 x 1024 layer has 8192 (sparse) or 16384 (dense) weight words per unit;
Amaranth's Verilog gives every memory word its initial value, one statement
each, which made Verilator's C++ compile of such a tile take many minutes.
The benchmark's tiles start with zero memories and get the layer through
``wload``, and Verilator runs with ``--x-initial 0``, so the written Verilog
is simulated without those all-zero initial blocks
(:func:`_drop_zero_memory_init`): the same simulation, built in a fraction of
the time.

With ``--synth-targets`` it adds a synthesis table of the named tiles
(:data:`SYNTH_TILES`, 16 multipliers each) made by :func:`synth.flow.run_flow`
(results reused from the synthesis cache when identical): LUT4, FF, DSP,
block RAM, Fmax over ``--synth-seeds`` seeds, and dense-equivalent GOP/s at
each tile's own median Fmax against the dense tile.
"""

import re
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

#: Named tiles of the synthesis table (``hw.sparse_nm.configs``), 16 multipliers each.
SYNTH_TILES = ("nm-tile-2of4", "nm-tile-2of4-shared", "nm-tile-1of4", "nm-tile-4of8",
               "dense-tile")

#: The dense baseline the synthesis table compares with.
SYNTH_BASELINE = "dense-tile"


def add_arguments(parser):
    """The options of ``zeroskip bench nm-tile``."""
    parser.add_argument("--rows", type=int, nargs="+", default=[128, 256, 1024], metavar="R",
                        help="outputs of the layers simulated (default: 128 256 1024)")
    parser.add_argument("--formula-rows", type=int, nargs="*", default=[], metavar="R",
                        help="outputs of layers given by the tiles' cycle formula, not "
                             "simulated (default: none)")
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
    parser.add_argument("--synth-targets", nargs="*", default=[], metavar="TARGET",
                        help="FPGA targets of a synthesis table of the named tiles "
                             "(e.g. ecp5-25f-6 ice40-up5k; default none: no synthesis)")
    parser.add_argument("--synth-seeds", type=int, default=3,
                        help="nextpnr seeds 1..N per tile and target (default %(default)s)")
    parser.add_argument("--synth-out", default="build/bench_nm_tile_synth",
                        help="synthesis folder, one sub-folder per tile and target "
                             "(default %(default)s)")
    parser.add_argument("--synth-cache", default="build/synth-cache",
                        help="synthesis result cache (default %(default)s)")


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


#: A Verilog ``initial`` block that sets memory words to zero, one statement per word.
_ZERO_MEMORY_INIT = re.compile(r"^  initial begin\n(?:    \w+\[\d+\] = \d+'h0+;\n)+  end\n",
                               re.MULTILINE)


def _drop_zero_memory_init(verilog_path):
    """Remove the all-zero initial blocks of memories from a written design; return the count.

    Amaranth's Verilog gives every memory word its initial value, one statement
    per word, and a tile sized for a 1024 x 1024 layer has 65536 (sparse) or
    131072 (dense) weight words, which Verilator turns into C++ it compiles for
    many minutes. The benchmark's tiles start with zero memories and load the
    layer through ``wload``; Verilator runs with ``--x-initial 0``
    (:data:`sim.runner`), so memories without an initial block start at zero
    too, and the simulation is the same.
    """
    path = Path(verilog_path)
    text, count = _ZERO_MEMORY_INIT.subn("", path.read_text())
    path.write_text(text)
    return count


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
    verilog, sidecar = Design(name=f"bench-{label}", top=top).write(build_dir)
    progress.note(f"{label}: {_drop_zero_memory_init(verilog)} all-zero memory initial "
                  f"blocks left out of the Verilog")
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


#: nextpnr utilization keys per family: logic, block RAM, DSP.
_RESOURCES = {
    "ecp5": ("TRELLIS_COMB", "DP16KD", "MULT18X18D"),
    "ice40": ("ICESTORM_LC", "ICESTORM_RAM", "ICESTORM_DSP"),
}


def _check_synth_options(args):
    """Validate the synthesis options; the :class:`synth.devices.Device` of every target."""
    from synth.devices import get_device

    check_int_option("--synth-seeds", args.synth_seeds, 1, 20)
    check_out("--synth-out", args.synth_out)
    if len(set(args.synth_targets)) != len(args.synth_targets):
        raise UserError(f"--synth-targets must not repeat a target, not "
                        f"{' '.join(args.synth_targets)}")
    devices = []
    for target in args.synth_targets:
        try:
            devices.append(get_device(target))
        except ValueError as exc:
            raise UserError(f"--synth-targets: {exc}") from None
    return devices


def _synthesize(args, devices, progress):
    """Every tile of :data:`SYNTH_TILES` on every target: ``{(tile, target): results}``."""
    from hw.generate import build
    from synth.flow import DoesNotFit, run_flow

    seeds = tuple(range(1, args.synth_seeds + 1))
    results = {}
    for device in devices:
        for name in SYNTH_TILES:
            design = build(name, family=device.primitive_family)
            with progress.step(f"{name} on {device.name}: yosys, nextpnr seeds "
                               f"{seeds[0]}..{seeds[-1]}"):
                try:
                    results[name, device.name] = run_flow(
                        design, device=device,
                        out_dir=Path(args.synth_out) / name / device.name, seeds=seeds,
                        pack=False, cache_dir=args.synth_cache, progress=progress.note)
                except DoesNotFit as exc:
                    results[name, device.name] = {"does_not_fit": str(exc)}
    return results


def _synth_table(results, devices, seeds):
    """Markdown lines of the synthesis table and how it was made."""
    tools = sorted({f"{tool} {version}" for r in results.values()
                    for tool, version in r.get("tools", {}).items()})
    lines = [
        f"## Synthesis at equal multipliers ({seeds} seeds)", "",
        f"Every tile has 4 units of 4 multipliers (`hw/sparse_nm/configs.py`). Each is "
        f"wrapped in the serial pin wrapper, synthesized once by `synth.flow.run_flow` "
        f"(yosys) and placed and routed by nextpnr with seeds 1 to {seeds} at the target's "
        f"default frequency goal, without a bitstream; results reused from the synthesis "
        f"cache are marked. LUT4 is nextpnr's `TRELLIS_COMB` (ECP5; LUT4s and carry "
        f"halves) or `ICESTORM_LC` (iCE40), block RAM `DP16KD` or `ICESTORM_RAM`, DSP "
        f"`MULT18X18D` or `ICESTORM_DSP`, all from seed 1's report; FF is the flip-flops "
        f"of yosys's netlist. Fmax is nextpnr's achieved clock frequency, min / median / "
        f"max over the seeds. Dense-equivalent GOP/s = 2 x units x activations per beat "
        f"x median Fmax (one beat per cycle, on a layer pruned to the tile's pattern). "
        f"Tools: {', '.join(tools)}. The multipliers are `hw.primitives.Multiplier` "
        f"built for the target (`Device.primitive_family`): on ECP5 one `MULT18X18D` "
        f"instance each, with its input and output registers; on iCE40 the generic "
        f"version (registers around `*`, which yosys maps to `SB_MAC16` on the UP5K).", "",
        "| tile | pattern | target | speed grade | LUT4 | FF | DSP | block RAM "
        "| Fmax MHz min / median / max | GOP/s | LUT4 per GOP/s | LUT4 vs dense "
        "| GOP/s vs dense | cached |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for device in devices:
        logic_key, bram_key, dsp_key = _RESOURCES[device.family]
        rows = {}
        for name in SYNTH_TILES:
            r = results[name, device.name]
            if "does_not_fit" in r:
                lines.append(f"| {name} | | {device.name} | | does not fit: "
                             f"{r['does_not_fit']} | | | | | | | | | |")
                continue
            used = r["seeds"][0]["utilization"]
            # The configuration as built, from the design's side-car in the results.
            config = SparseTileConfig.from_dict(r["design"]["config"])
            fmax = r["fmax_mhz"]
            gops = 2 * config.units * config.mac.lanes * fmax["median"] / 1000
            rows[name] = {"lut": used[logic_key]["used"], "gops": gops, "r": r,
                          "config": config}
        base = rows.get(SYNTH_BASELINE)
        for name, row in rows.items():
            r, mac = row["r"], row["config"].mac
            fmax = r["fmax_mhz"]
            lut_vs = f"{100 * (row['lut'] / base['lut'] - 1):+.1f}%" if base else "-"
            gops_vs = f"{row['gops'] / base['gops']:.3f}x" if base else "-"
            used = r["seeds"][0]["utilization"]
            lines.append(
                f"| {name} | {mac.n}:{mac.m} x {mac.groups}"
                f"{', shared indices' if row['config'].shared_indices else ''} | {device.name} "
                f"| {r['speed_grade'] if r['speed_grade'] is not None else '-'} "
                f"| {row['lut']} | {r['flip_flops']} | {used[dsp_key]['used']} "
                f"| {used[bram_key]['used']} "
                f"| {fmax['min']:.2f} / {fmax['median']:.2f} / {fmax['max']:.2f} "
                f"| {row['gops']:.2f} | {row['lut'] / row['gops']:.1f} "
                f"| {lut_vs} | {gops_vs} "
                f"| {'yes' if r['cached'] else 'no'} |")
    lines += ["", "Critical paths (nextpnr's slowest path of each seed):", ""]
    for (name, target), r in results.items():
        if "does_not_fit" in r:
            continue
        paths = "; ".join(
            f"seed {run['seed']}: {run['critical_path']['start']} -> "
            f"{run['critical_path']['end']}, {run['critical_path']['delay_ns']:.2f} ns, "
            f"{run['critical_path']['logic_levels']} logic levels"
            for run in r["seeds"] if run.get("critical_path"))
        lines.append(f"* {name}, {target}: {paths}")
    return lines


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
    devices = _check_synth_options(args)
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
        "vector run); the first row of each tile also includes its Verilator build. Each "
        "tile is built once, sized for the largest layer, and simulated without the all-zero "
        "initial blocks of its memories (they start at zero under Verilator's `--x-initial "
        "0` either way)."
        + (" *Formula* rows: `vector_cycles` of the same tiles for a layer not simulated "
           "(see below)." if args.formula_rows else ""), "",
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
        lines += ["", "The formula rows are not simulated: their cycles are "
                      "`vector_cycles(beats, blocks)` of the tiles built for the simulated rows."]
    lines += ["", f"The {sparse} tile's speed-up here is in cycles only"
                  + ("; the synthesis table below gives the clock frequencies." if devices
                     else " (`--synth-targets` adds a synthesis table).")]
    if devices:
        lines += ["", *_synth_table(_synthesize(args, devices, progress), devices,
                                     args.synth_seeds)]
    return "\n".join(lines)
