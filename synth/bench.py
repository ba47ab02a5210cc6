"""``python -m synth.bench``: the synthesis results table of docs/bench_synth.md.

    python -m synth.bench --out build/bench_synth --seeds 3
    python -m synth.bench --configs eie-1pe eie-4pe --targets ice40-up5k

Runs :func:`synth.flow.run_flow` for every (configuration, target) pair of the
matrix (by default: every registered ``eie-*`` configuration on every target,
smallest first, and the N:M and dense tiles on the ECP5 parts), over several
nextpnr seeds, and prints Markdown tables: resources, Fmax (min/median/max over
the seeds) and, for EIE, the dense-equivalent throughput of a 10%-density layer
at the achieved median Fmax. A configuration that does not fit is listed with
the resource it ran out of; once an EIE array does not fit a device, the larger
ones are not tried there. Everything is also written to ``bench.json``.
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from hw.generate import build, configs

from .devices import DEVICES, get_device
from .flow import DoesNotFit, FlowError, MemoryMappingError, run_flow
from .report import TABLE_COLUMNS

__all__ = ["eie_efficiency", "nm_dense_macs_per_cycle", "default_matrix", "tables", "main"]

#: Weight density of the layer the throughput column is quoted for.
BENCH_DENSITY = 0.1


def _pe_count(name):
    found = re.fullmatch(r"eie-(\d+)pe", name)
    return int(found.group(1)) if found else None


def eie_efficiency(params, *, timing=None, density=BENCH_DENSITY, seed=0):
    """Efficiency ``e`` of an EIE array on a random square layer, from the cycle model.

    The layer is as large as the configuration allows (``act_depth * n_pe``
    inputs and outputs) with weight density ``density`` and all input
    activations nonzero. ``e`` is real multiply-accumulates (nonzero weights)
    per PE per cycle over the whole layer, requantization pass included, as
    :func:`sw_model.eie_cycles.layer_cycles` predicts the RTL's cycles
    exactly; ``timing`` is the RTL's :class:`~sw_model.eie_cycles.EieTiming`
    (the model's default if ``None``). Returns ``(e, n, cycles)``.
    """
    from sw_model.config import EieConfig
    from sw_model.eie_cycles import layer_cycles
    from sw_model.eie_format import encode
    from sw_model.layers import random_layer

    config = EieConfig.from_dict(params)
    n = config.max_dim
    indices, codebook, acts = random_layer(n, n, density, 1.0, seed)
    layer = encode(indices, codebook, n_pe=config.n_pe,
                   entries_per_word=config.entries_per_word)
    cycles = layer_cycles(layer, acts, config=config, timing=timing).cycles
    macs = int(np.count_nonzero(indices[:, acts != 0]))
    return macs / (config.n_pe * cycles), n, cycles


def nm_dense_macs_per_cycle(sidecar):
    """Dense-equivalent multiply-accumulates per cycle of an N:M MAC or tile.

    Each MAC unit consumes ``m * groups`` dense activations per beat with
    ``n * groups`` multipliers, so a 2:4 unit does twice the dense work of its
    multipliers; a tile has ``units`` such units. This needs the layer to be
    pruned to N:M (at most ``n / m`` density); sparser layers gain nothing more.
    """
    params = sidecar["params"]
    mac = params["mac"] if sidecar["kind"] == "tile" else params
    units = params["units"] if sidecar["kind"] == "tile" else 1
    return units * mac["m"] * mac["groups"]


def default_matrix(names, *, max_pe=16):
    """The (configuration, target) pairs benchmarked by default, in run order."""
    eie = sorted((n for n in names if _pe_count(n) is not None and _pe_count(n) <= max_pe),
                 key=_pe_count)
    tiles = [n for n in ("nm-tile-2of4", "dense-tile", "nm-mac-2of4-g4", "dense-mac-g4")
             if n in names]
    pairs = [(name, target) for target in DEVICES for name in eie]
    pairs += [(name, target) for target in ("ecp5-25f", "ecp5-85f") for name in tiles]
    return pairs


def _resources(results):
    util = results["seeds"][0]["utilization"]
    cells = []
    for header, kind in TABLE_COLUMNS[results["family"]]:
        if kind in util:
            cells.append(f"{header} {util[kind]['used']}/{util[kind]['available']}")
    return ", ".join(cells)


def _row(entry):
    name, target = entry["config"], entry["target"]
    if entry["status"] != "ok":
        return f"| {name} | {target} | {entry['status']}: {entry['message']} | | | |"
    results = entry["results"]
    fmax = results["fmax_mhz"]
    met = sum(run["timing_met"] for run in results["seeds"])
    return (f"| {name} | {target} | {_resources(results)} | {results['flip_flops']} | "
            f"{fmax['min']} / {fmax['median']} / {fmax['max']} "
            f"(target {results['freq_mhz']:g}, met {met}/{len(results['seeds'])}) | "
            f"{entry.get('gops', '')} |")


def tables(entries, seeds):
    """Markdown tables of the benchmark ``entries``."""
    lines = [
        f"| configuration | target | resources (nextpnr used/available) | FF | "
        f"Fmax MHz min / median / max over {seeds} seeds | dense-equiv. GOP/s "
        f"at median Fmax (EIE: {BENCH_DENSITY:.0%} density layer) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [_row(entry) for entry in entries]
    return "\n".join(lines)


def main(argv=None):
    """Run the benchmark matrix; print and write the tables; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m synth.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/bench_synth", help="work folder")
    parser.add_argument("--seeds", type=int, default=3, help="nextpnr seeds 1..N (default 3)")
    parser.add_argument("--configs", nargs="+", help="configurations (default: see above)")
    parser.add_argument("--targets", nargs="+", help="targets (default: all)")
    parser.add_argument("--tables", nargs="+", metavar="BENCH_JSON",
                        help="only print the tables of earlier runs' bench.json files")
    parser.add_argument("--max-pe", type=int, default=16,
                        help="largest EIE array in the default matrix (default %(default)s; "
                             "yosys alone takes tens of minutes for 64 PEs)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, not {args.seeds}")
    if args.tables:
        entries = [e for path in args.tables for e in json.loads(Path(path).read_text())]
        for entry in entries:
            results = entry.get("results")
            if results and results["engine"] == "sparse_nm" and "gops" not in entry:
                macs = nm_dense_macs_per_cycle(results["engine_config"])
                entry["gops"] = round(2 * macs * results["fmax_mhz"]["median"] / 1e3, 2)
        seeds = {len(e["results"]["seeds"]) for e in entries if e.get("results")}
        print(tables(entries, "/".join(map(str, sorted(seeds))) or "?"))
        return 0
    table = configs()
    for target in args.targets or []:
        try:
            get_device(target)
        except ValueError as exc:
            parser.error(str(exc))
    unknown = [n for n in args.configs or [] if n not in table]
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(unknown)}; known: "
                     f"{', '.join(table) or '(none)'}")

    pairs = default_matrix(list(table), max_pe=args.max_pe)
    if args.configs:
        pairs = [(n, t) for t in DEVICES for n in args.configs]
    if args.targets:
        pairs = [(n, t) for n, t in pairs if t in args.targets]

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    entries, too_big = [], {}
    for i, (name, target) in enumerate(pairs, 1):
        pes = _pe_count(name)
        entry = {"config": name, "target": target}
        if pes is not None and target in too_big and pes > too_big[target]:
            print(f"[bench] {i}/{len(pairs)} {name} on {target}: skipped, "
                  f"eie-{too_big[target]}pe already does not fit", file=sys.stderr, flush=True)
            continue
        print(f"[bench] {i}/{len(pairs)} {name} on {target}", file=sys.stderr, flush=True)
        start = time.monotonic()
        design = build(name)
        try:
            results = run_flow(design, name=name, device=get_device(target),
                               out_dir=out / name / target, seeds=range(1, args.seeds + 1),
                               pack=False)
        except DoesNotFit as exc:
            entry.update(status="does not fit", message=str(exc).split(": ", 1)[1],
                         resource=exc.resource, needed=exc.needed, available=exc.available)
            if pes is not None:
                too_big[target] = min(too_big.get(target, pes), pes)
        except MemoryMappingError as exc:
            entry.update(status="memory check failed", message=str(exc))
        except FlowError as exc:
            entry.update(status="flow error", message=str(exc).splitlines()[0])
        else:
            entry.update(status="ok", results=results)
            if design.engine == "eie":
                params = design.config.get("params", design.config)
                e, n, cycles = eie_efficiency(params, timing=getattr(design.top, "timing", None))
                fmax = results["fmax_mhz"]["median"]
                # Dense-equivalent GOP/s = 2 * n_pe * e * f / d (2 operations per MAC).
                entry.update(efficiency=round(e, 4), bench_layer=f"{n}x{n}",
                             bench_cycles=cycles,
                             gops=round(2 * params["n_pe"] * e * fmax * 1e6
                                        / BENCH_DENSITY / 1e9, 2))
            elif design.engine == "sparse_nm":
                macs = nm_dense_macs_per_cycle(design.config)
                # N:M skips only the pruned half: the gain is m / n at any density.
                entry.update(dense_macs_per_cycle=macs,
                             gops=round(2 * macs * results["fmax_mhz"]["median"] / 1e3, 2))
        entry["seconds"] = round(time.monotonic() - start, 1)
        entries.append(entry)
        (out / "bench.json").write_text(json.dumps(entries, indent=2) + "\n")
        print(_row(entry), flush=True)
    print()
    print(tables(entries, args.seeds))
    (out / "bench.md").write_text(tables(entries, args.seeds) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
