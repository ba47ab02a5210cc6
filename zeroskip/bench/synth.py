"""``zeroskip bench synth``: resources and Fmax of the named configurations on every FPGA target.

    zeroskip bench synth --seeds 3 --write
    zeroskip bench synth --configs eie-1pe eie-4pe --targets ice40-up5k
    zeroskip bench synth --pairs eie-8pe@ecp5-25f-6 eie-16pe@ecp5-85f-6@router2
    zeroskip bench synth --tables build/bench_synth*/bench.json --write

Runs :func:`synth.flow.run_flow` for every (configuration, target) pair of the
matrix (by default: every registered EIE configuration up to ``--max-pe`` PEs
on every target, smallest first, and the N:M and dense tiles and MAC units on
the ECP5 parts; or ``--configs`` on ``--targets``; or exactly the ``--pairs``
given, each with nextpnr's router1 unless it names router2), over several
nextpnr seeds, and returns Markdown tables:
resources, Fmax (min/median/max over the seeds) and the dense-equivalent
throughput at the median Fmax (EIE: on a 10%-density layer, from the cycle
model; N:M: on an N:M-pruned layer). A configuration that does not fit is
listed with the resource it ran out of; once an EIE array does not fit a
device, the larger ones are not tried there. Every entry is also written to
``bench.json`` in ``--out``, so pieces run in parallel can be merged with
``--tables``. Runs identical to earlier ones are reused from the synthesis
cache (``--cache``) and the document says how many were.
"""

import gc
import json
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from amaranth.hdl import UnusedElaboratable

from hw.generate import build, configs
from sw_model.config import EieConfig, SparseMacConfig, SparseTileConfig
from synth.devices import DEVICES, get_device
from synth.flow import DoesNotFit, FlowError, MemoryMappingError, run_flow
from synth.report import TABLE_COLUMNS
from zeroskip.errors import UserError

from .nm_tile import SYNTH_TILES

__all__ = ["TITLE", "HELP", "BENCH_DENSITY", "ROUTERS", "add_arguments", "add_run_arguments",
           "measure", "run_pairs", "describe_method", "eie_efficiency",
           "nm_dense_macs_per_cycle", "configurations", "pe_series", "default_matrix", "tables"]

TITLE = "Synthesis results (yosys + nextpnr, open toolchain)"

HELP = "resources and Fmax of the named configurations on the FPGA targets (takes hours)"

#: Weight density of the layer the EIE throughput column is quoted for.
BENCH_DENSITY = 0.1

#: The N:M tiles and MAC units and their dense baselines, in table order: the
#: tiles of ``zeroskip bench nm-tile``'s synthesis table, then the MAC pair.
NM_CONFIGS = SYNTH_TILES + ("nm-mac-2of4-g4", "dense-mac-g4")

#: Targets the N:M pairs run on by default (those of ``zeroskip bench nm-tile
#: --synth-targets`` in its document, so identical runs come from the cache).
NM_TARGETS = ("ecp5-25f-6", "ecp5-25f-8", "ice40-up5k")


def eie_efficiency(config, timing, *, density=BENCH_DENSITY, seed=0):
    """Efficiency ``e`` of an EIE array on a random square layer, from the cycle model.

    The layer is as large as ``config`` (an :class:`~sw_model.config.EieConfig`)
    allows, ``config.max_dim`` inputs and outputs, with weight density
    ``density`` and all input activations nonzero. ``e`` is real
    multiply-accumulates (nonzero weights) per PE per cycle over the whole
    layer (its pipeline fill and drain included; there is no requantization
    pass), as
    :func:`sw_model.eie_cycles.layer_cycles` predicts the RTL's cycles exactly
    given the array's ``timing`` (the design's
    :class:`~sw_model.config.EieTiming`). Returns ``(e, n, cycles)``.
    """
    from sw_model.eie_cycles import layer_cycles
    from sw_model.eie_format import encode
    from sw_model.layers import random_layer

    n = config.max_dim
    indices, codebook, acts = random_layer(n, n, density, 1.0, seed)
    layer = encode(indices, codebook, config=config)
    cycles = layer_cycles(layer, acts, config=config, timing=timing).cycles
    macs = int(np.count_nonzero(indices[:, acts != 0]))
    return macs / (config.n_pe * cycles), n, cycles


def nm_dense_macs_per_cycle(config):
    """Dense-equivalent multiply-accumulates per cycle of an N:M MAC unit or tile.

    Each MAC unit consumes ``m * groups`` dense activations per beat with
    ``n * groups`` multipliers, so a 2:4 unit does twice the dense work of its
    multipliers; a tile (:class:`~sw_model.config.SparseTileConfig`) has
    ``units`` such units. This needs the layer to be pruned to N:M (at most
    ``n / m`` density); sparser layers gain nothing more.
    """
    if isinstance(config, SparseTileConfig):
        return config.units * config.mac.lanes
    if isinstance(config, SparseMacConfig):
        return config.lanes
    raise TypeError(f"config must be a SparseMacConfig or SparseTileConfig, not {config!r}")


def configurations():
    """``{name: namespace(engine, config)}`` of every named configuration, typed.

    Each top is built only to read its engine and configuration, never
    elaborated: Amaranth's warning about unused elaboratables is silenced for
    them, and they are collected (they hold reference cycles) before the
    warning filter is restored.
    """
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        for name in configs():
            design = build(name)
            found[name] = SimpleNamespace(engine=design.engine, config=design.config)
            del design
        gc.collect()
    return found


def pe_series(designs):
    """``{name: n_pe}`` of the ``eie-<N>pe`` configurations, the arrays that differ in PE count.

    ``designs`` as from :func:`configurations`. Configurations sized for one
    part (``eie-2pe-up5k``) are not in the series: fewer PEs there need not
    mean a smaller design.
    """
    return {name: design.config.n_pe for name, design in designs.items()
            if design.engine == "eie" and name == f"eie-{design.config.n_pe}pe"}


def default_matrix(designs, *, max_pe=16):
    """The (configuration, target) pairs benchmarked by default, in run order.

    ``designs`` maps configuration names to objects with the design's
    ``engine`` and typed ``config`` (see :func:`configurations`): every EIE
    array of at most ``max_pe`` PEs on every target, smallest first, then the
    N:M configurations of :data:`NM_CONFIGS` on :data:`NM_TARGETS`.
    """
    eie = sorted((name for name, design in designs.items()
                  if design.engine == "eie" and design.config.n_pe <= max_pe),
                 key=lambda name: designs[name].config.n_pe)
    tiles = [name for name in NM_CONFIGS if name in designs]
    pairs = [(name, target) for target in DEVICES for name in eie]
    pairs += [(name, target) for target in NM_TARGETS for name in tiles]
    return pairs


def _resources(results):
    util = results["seeds"][0]["utilization"]
    return ", ".join(f"{header} {util[kind]['used']}/{util[kind]['available']}"
                     for header, kind in TABLE_COLUMNS[results["family"]] if kind in util)


def _target(results):
    notes = [] if results["speed_grade"] is None else [f"speed {results['speed_grade']}"]
    if results["router"] != "router1":
        notes.append(results["router"])
    return results["target"] + (f" ({', '.join(notes)})" if notes else "")


def _row(entry):
    name, target = entry["config"], entry["target"]
    if entry["status"] != "ok":
        return f"| {name} | {target} | {entry['status']}: {entry['message']} | | | |"
    results = entry["results"]
    fmax = results["fmax_mhz"]
    met = sum(run["timing_met"] for run in results["seeds"])
    return (f"| {name} | {_target(results)} | {_resources(results)} | "
            f"{results['flip_flops']} | {fmax['min']} / {fmax['median']} / {fmax['max']} "
            f"(target {results['freq_mhz']:g}, met {met}/{len(results['seeds'])}) | "
            f"{entry.get('gops', '')} |")


def _table(entries, seeds, throughput):
    lines = [f"| configuration | target | resources (nextpnr used/available) | FF | "
             f"Fmax MHz min / median / max over {seeds} seeds | {throughput} |",
             "| --- | --- | --- | --- | --- | --- |"]
    return lines + [_row(entry) for entry in entries]


def tables(entries, seeds):
    """Markdown tables of the benchmark ``entries`` (``seeds``: the seed count, for headers)."""
    eie = [e for e in entries if e["engine"] == "eie"]
    nm = [e for e in entries if e["engine"] != "eie"]
    lines = []
    if eie:
        lines += ["## EIE PE arrays", ""]
        lines += _table(eie, seeds, f"dense-equiv. GOP/s at median Fmax, "
                                    f"{BENCH_DENSITY:.0%} density layer")
        measured = {e["config"]: e for e in eie if "efficiency" in e}
        if measured:
            lines += ["", f"Efficiency e of the cycle model (random n x n layer, "
                          f"{BENCH_DENSITY:.0%} weight density, all activations nonzero, "
                          f"pipeline fill and drain included):", "",
                      "| configuration | layer | cycles | e |", "| --- | --- | --- | --- |"]
            lines += [f"| {name} | {e['bench_layer']} | {e['bench_cycles']} | "
                      f"{e['efficiency']} |" for name, e in measured.items()]
        lines.append("")
    if nm:
        lines += ["## N:M tiles and MAC units against their dense baselines", ""]
        lines += _table(nm, seeds, "dense-equiv. GOP/s at median Fmax, N:M-pruned layer")
        lines.append("")
    return "\n".join(lines)


def describe_method(entries, seeds):
    """How the numbers were made, from the results themselves."""
    done = [e["results"] for e in entries if e["status"] == "ok"]
    targets = {r["target"]: r for r in done}
    parts = "; ".join(f"{name}: {r['part']}"
                      + ("" if r["speed_grade"] is None else f", speed grade {r['speed_grade']}")
                      + f", goal {r['freq_mhz']:g} MHz" for name, r in targets.items())
    tools = sorted({f"{tool} {version}" for r in done for tool, version in r["tools"].items()})
    cached = sum(r["cached"] for r in done)
    return (
        f"Every configuration is wrapped in the serial pin wrapper (six pins, free-running), "
        f"synthesized once with yosys, then placed and routed by nextpnr with {seeds} seed(s) "
        f"at the target's frequency goal (`--timing-allow-fail`; router1 unless the target "
        f"column names router2). Targets: {parts or 'none'}. "
        f"Fmax is nextpnr's achieved frequency for `clk` from each seed's `--report` JSON, "
        f"as min / median / max over the seeds; \"met\" counts the seeds that reached the "
        f"goal. Resources are nextpnr's utilization of the first seed; FF is the flip-flop "
        f"count of yosys's final netlist. The flow enforces that memories above the "
        f"block-RAM threshold are block RAM; a row that breaks the rule says so. "
        f"Tools: {', '.join(tools) or 'none run'}. "
        f"{cached} of {len(done)} run(s) were reused from the synthesis cache (identical "
        f"Verilog, scripts, options and tool versions).")


def add_run_arguments(parser, *, out):
    """``--out`` (default ``out``), ``--seeds`` and the cache options of a synthesis benchmark."""
    parser.add_argument("--out", default=out, help="work folder (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=3,
                        help="nextpnr seeds 1..N (default %(default)s)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="DIR", default="build/synth-cache",
                       help="synthesis cache folder (default %(default)s)")
    cache.add_argument("--no-cache", dest="cache", action="store_const", const=None,
                       help="run every pair's tools even if an identical run is cached")


def add_arguments(parser):
    """The options of ``zeroskip bench synth``."""
    add_run_arguments(parser, out="build/bench_synth")
    parser.add_argument("--configs", nargs="+", metavar="NAME",
                        help="configurations, on every target (default: see the module)")
    parser.add_argument("--targets", nargs="+", metavar="TARGET",
                        help=f"targets (default: all of {', '.join(DEVICES)})")
    parser.add_argument("--pairs", nargs="+", metavar="CONFIG@TARGET[@ROUTER]",
                        help="exactly these configurations on these targets, in this order "
                             "(instead of --configs and --targets); @router2 routes that "
                             "pair with nextpnr's router2 instead of router1")
    parser.add_argument("--tables", nargs="+", metavar="BENCH_JSON",
                        help="run nothing: merge the entries of earlier runs' bench.json files")
    parser.add_argument("--max-pe", type=int, default=16,
                        help="largest EIE array in the default matrix (default %(default)s; "
                             "yosys alone takes tens of minutes for 64 PEs)")


#: nextpnr routers a pair may name (router1 is nextpnr's default).
ROUTERS = ("router1", "router2")


def _split_pairs(items):
    """``CONFIG@TARGET[@ROUTER]`` items as ``(config, target, router)`` tuples."""
    pairs = []
    for item in items:
        parts = item.split("@")
        if len(parts) not in (2, 3) or not all(parts):
            raise UserError(f"--pairs: {item!r} is not CONFIG@TARGET or CONFIG@TARGET@ROUTER "
                            f"(e.g. eie-8pe@ecp5-25f-6)")
        if len(parts) == 3 and parts[2] not in ROUTERS:
            raise UserError(f"--pairs: unknown router {parts[2]!r} in {item!r}; known: "
                            f"{', '.join(ROUTERS)}")
        pairs.append((parts[0], parts[1], parts[2] if len(parts) == 3 else None))
    return pairs


def _pairs(args, known):
    """The ``(configuration, target, router)`` triples to run (router ``None``: router1).

    ``known`` as from :func:`configurations`.
    """
    given = []
    if args.pairs:
        if args.configs or args.targets:
            raise UserError("--pairs cannot be combined with --configs or --targets")
        given = _split_pairs(args.pairs)
    for option, target in ([("--targets", t) for t in args.targets or []]
                           + [("--pairs", t) for _, t, _ in given]):
        try:
            get_device(target)
        except ValueError as exc:
            raise UserError(f"{option}: {exc}") from None
    for option, names in (("--configs", args.configs or []),
                          ("--pairs", [n for n, _, _ in given])):
        unknown = [name for name in names if name not in known]
        if unknown:
            raise UserError(f"{option}: unknown configuration(s) {', '.join(unknown)}; "
                            f"known: {', '.join(known) or '(none)'}")
    if given:
        return given
    if args.configs:
        pairs = [(name, target) for target in DEVICES for name in args.configs]
    else:
        pairs = default_matrix(known, max_pe=args.max_pe)
    return [(name, target, None) for name, target in pairs
            if not args.targets or target in args.targets]


def _measure_pair(design, target, router, args, progress):
    """One (configuration, target) entry of ``bench.json``."""
    entry = {"config": design.name, "target": target, "engine": design.engine}
    start = time.monotonic()
    try:
        results = run_flow(design, device=get_device(target),
                           out_dir=Path(args.out) / design.name / target,
                           seeds=range(1, args.seeds + 1), pack=False, router=router,
                           cache_dir=args.cache, progress=progress.note)
    except DoesNotFit as exc:
        entry.update(status="does not fit", message=str(exc).split(": ", 1)[1],
                     resource=exc.resource, needed=exc.needed, available=exc.available)
    except MemoryMappingError as exc:
        entry.update(status="memory check failed", message=str(exc))
    except FlowError as exc:
        entry.update(status="flow error", message=str(exc).splitlines()[0])
    else:
        entry.update(status="ok", results=results)
        fmax = results["fmax_mhz"]["median"]
        if isinstance(design.config, EieConfig):
            e, n, cycles = eie_efficiency(design.config, design.timing)
            # Dense-equivalent GOP/s = 2 * n_pe * e * f / d (2 operations per MAC).
            entry.update(efficiency=round(e, 4), bench_layer=f"{n}x{n}", bench_cycles=cycles,
                         gops=round(2 * design.config.n_pe * e * fmax * 1e6
                                    / BENCH_DENSITY / 1e9, 2))
        else:
            macs = nm_dense_macs_per_cycle(design.config)
            # N:M skips only the pruned weights: the gain is m / n at any density.
            entry.update(dense_macs_per_cycle=macs, gops=round(2 * macs * fmax / 1e3, 2))
    entry["seconds"] = round(time.monotonic() - start, 1)
    return entry


def measure(args, progress):
    """Run the matrix (or merge ``--tables``); return the Markdown body."""
    if args.seeds < 1:
        raise UserError(f"--seeds must be at least 1, not {args.seeds}")
    if args.tables:
        entries = []
        for path in args.tables:
            try:
                found = json.loads(Path(path).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise UserError(f"--tables: cannot read {path!r}: {exc}") from None
            if not isinstance(found, list) or not all("engine" in e for e in found):
                raise UserError(f"--tables: {path!r} is not a bench.json of this benchmark "
                                f"(entries without 'engine' come from `python -m synth.bench`; "
                                f"rerun them)")
            entries += found
        seeds = {len(e["results"]["seeds"]) for e in entries if e["status"] == "ok"}
        seeds = "/".join(map(str, sorted(seeds))) or "?"
        return describe_method(entries, seeds) + "\n\n" + tables(entries, seeds)

    known = configurations()
    entries = run_pairs(_pairs(args, known), known, args, progress)
    body = describe_method(entries, args.seeds) + "\n\n" + tables(entries, args.seeds)
    (Path(args.out) / "bench.md").write_text(body + "\n")
    return body


def run_pairs(pairs, known, args, progress):
    """Run ``(configuration, target, router)`` triples; return their ``bench.json`` entries.

    ``known`` as from :func:`configurations`; ``args`` has ``out``, ``seeds``
    and ``cache`` (:func:`add_run_arguments`). Once an array of the
    ``eie-<N>pe`` series (:func:`pe_series`) does not fit a target, larger
    ones of the series are skipped there.
    """
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    series = pe_series(known)
    entries, too_big = [], {}
    for i, (name, target, router) in enumerate(pairs, 1):
        pes = series.get(name)
        if pes is not None and pes > too_big.get(target, pes):
            progress.note(f"{i}/{len(pairs)} {name} on {target}: skipped, an EIE array of "
                          f"{too_big[target]} PEs already does not fit")
            continue
        with progress.step(f"{i}/{len(pairs)} {name} on {target}"
                           + (f" ({router})" if router else "")):
            # A fresh design per pair: each synthesis elaborates its own.
            family = get_device(target).primitive_family
            entry = _measure_pair(build(name, family=family), target, router, args, progress)
        if pes is not None and entry["status"] == "does not fit":
            too_big[target] = min(too_big.get(target, pes), pes)
        entries.append(entry)
        (out / "bench.json").write_text(json.dumps(entries, indent=2) + "\n")
        progress.note(_row(entry))
    return entries
