"""``zeroskip bench synth-scaling``: Fmax of the named EIE arrays against their PE count.

    zeroskip bench synth-scaling --pes 4 16 --target ecp5-85f-6 --seeds 3 --write

Each ``eie-<N>pe`` configuration goes through the flow of ``zeroskip bench
synth`` (:func:`zeroskip.bench.synth.run_pairs`: the same wrapper, seeds and
synthesis cache, so runs identical to that benchmark's are reused) on one
target, and the median Fmax at each PE count is given relative to the fewest
PEs': how much clock a larger array loses.
"""

from synth.devices import get_device
from zeroskip.errors import UserError

from .synth import (
    ROUTERS,
    add_run_arguments,
    configurations,
    describe_method,
    pe_series,
    run_pairs,
    tables,
)

__all__ = ["TITLE", "HELP", "add_arguments", "measure", "scaling_table"]

TITLE = "EIE array Fmax against PE count (yosys + nextpnr, one part)"

HELP = "Fmax of the named EIE arrays against their PE count on one FPGA target (takes hours)"


def add_arguments(parser):
    """The options of ``zeroskip bench synth-scaling``."""
    add_run_arguments(parser, out="build/bench_synth_scaling")
    parser.add_argument("--pes", nargs="+", type=int, default=[1, 4, 8, 16], metavar="N",
                        help="PE counts, each a named configuration eie-<N>pe "
                             "(default: %(default)s)")
    parser.add_argument("--target", default="ecp5-85f-6",
                        help="FPGA target (default %(default)s)")
    parser.add_argument("--router", choices=ROUTERS,
                        help="nextpnr router for every run (default: nextpnr's, router1)")


def scaling_table(entries):
    """Markdown rows: each PE count's median Fmax, relative to the fewest PEs' that placed."""
    placed = [e for e in entries if e["status"] == "ok"]
    lines = ["| PEs | Fmax MHz, median | relative to the fewest PEs |", "|---|---|---|"]
    if not placed:
        return lines
    first = placed[0]["results"]["fmax_mhz"]["median"]
    for entry in entries:
        pes = entry["config"].removeprefix("eie-").removesuffix("pe")
        if entry["status"] != "ok":
            lines.append(f"| {pes} | {entry['status']} | |")
            continue
        median = entry["results"]["fmax_mhz"]["median"]
        lines.append(f"| {pes} | {median} | {median / first:.1%} |")
    return lines


def measure(args, progress):
    """Run every PE count on the target; return the Markdown body."""
    if args.seeds < 1:
        raise UserError(f"--seeds must be at least 1, not {args.seeds}")
    try:
        get_device(args.target)
    except ValueError as exc:
        raise UserError(f"--target: {exc}") from None
    known = configurations()
    names = [f"eie-{n}pe" for n in sorted(set(args.pes))]
    unknown = [name for name in names if name not in known]
    if unknown:
        series = pe_series(known)
        eie = sorted(series, key=series.get)
        raise UserError(f"--pes: no configuration {', '.join(unknown)}; known: {', '.join(eie)}")
    entries = run_pairs([(name, args.target, args.router) for name in names], known, args,
                        progress)
    return "\n".join([describe_method(entries, args.seeds), "", tables(entries, args.seeds),
                      f"## Median Fmax against PE count, {args.target}", "",
                      *scaling_table(entries), ""])
