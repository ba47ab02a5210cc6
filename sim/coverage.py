"""Functional coverage of the cocotb testbenches: named bins, per-run files, a merged report.

Each bin is one thing the regression must have exercised at least once
(:data:`BINS`: the EIE array's queue filling, a padding entry, a bypass of
the accumulator's read, saturation at both ends, every host error code, a
reset in every state of the central unit, ...; the N:M unit's index patterns,
stalls and wrap-around). A testbench counts what it saw in a
:class:`Coverage` (:func:`coverage`), sampling the design's own signals each
cycle (:class:`EieMonitor`) or the transactions it checks, and the counts are
written after every test to the file ``$ZEROSKIP_COVERAGE`` names (one file
per Verilator build; :func:`sim.runner.run_cocotb` sets the variable when
``$ZEROSKIP_COVERAGE_DIR`` is set).

:func:`merge` adds up a folder of such files, :func:`report` prints the table
(bins never hit first) and :func:`unhit` lists the bins left at zero. ``make
test`` fails when a bin is unhit (``--coverage-closure``, see
``tests/conftest.py``); ``python -m sim.coverage --write`` runs the Verilator
tests with a fresh folder and writes ``docs/bench_coverage.md``.
"""

import functools
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BINS", "ENV_COVERAGE", "ENV_COVERAGE_DIR", "Bin", "Coverage", "EieMonitor",
           "coverage", "covered_test", "merge", "report", "unhit"]

#: The file a testbench writes its counts to.
ENV_COVERAGE = "ZEROSKIP_COVERAGE"
#: The folder the test session collects the files in.
ENV_COVERAGE_DIR = "ZEROSKIP_COVERAGE_DIR"


@dataclass(frozen=True)
class Bin:
    """One coverage bin: ``engine`` (``"eie"`` or ``"nm"``), ``name``, what a hit means."""

    engine: str
    name: str
    what: str

    @property
    def key(self):
        """``engine.name``, the bin's key in the count files."""
        return f"{self.engine}.{self.name}"


def _eie_bins():
    from hw.eie.array import _State
    from hw.eie.program import Error

    yield Bin("eie", "queue_full", "a PE's activation queue holds queue_depth columns")
    yield Bin("eie", "stall_every_pe", "a run in which every PE (of 2 or more) stalled")
    yield Bin("eie", "padding_entry", "a padding entry (weight index 0) reaches a PE's "
                                      "weight stage")
    yield Bin("eie", "zero_group", "the LNZD takes a group whose activations are all zero")
    yield Bin("eie", "bypass_1", "an update of the row the previous update wrote "
                                 "(accumulator bypass of the last sum)")
    yield Bin("eie", "bypass_2_3", "an update of a row written two or three updates "
                                   "earlier and not by the previous one (bypass of the "
                                   "older sums)")
    yield Bin("eie", "saturate_high", "requantization clamps an output to the largest "
                                      "activation")
    yield Bin("eie", "saturate_low", "requantization clamps an output to the smallest "
                                     "activation (no ReLU)")
    yield Bin("eie", "acc_wrap", "an accumulator sum wraps at acc_bits")
    yield Bin("eie", "bias_layer", "a layer with a bias column runs")
    for error in Error:
        if error != Error.NONE:
            yield Bin("eie", f"error_{error.name.lower()}",
                      f"the status reports error {error.name} for a rejected command")
    for state in _State:
        yield Bin("eie", f"reset_in_{state.name.lower()}",
                  f"a reset while the central unit is in {state.name}")


def _nm_bins():
    yield Bin("nm", "all_index_patterns", "a MAC run sends every ascending n-of-m index "
                                          "pattern of its configuration")
    yield Bin("nm", "input_stall", "the MAC unit's input stream waits (valid, not ready)")
    yield Bin("nm", "output_stall", "a MAC result waits for the sink (valid, not ready)")
    yield Bin("nm", "acc_wrap", "a MAC dot product wraps at its accumulator width")
    yield Bin("nm", "extreme_product", "the most negative activation times the most "
                                       "negative weight")
    yield Bin("nm", "reset_mid_stream", "a reset while a MAC or tile holds work")


#: Every bin, EIE first.
BINS = (*_eie_bins(), *_nm_bins())
_KEYS = {b.key for b in BINS}


class Coverage:
    """Counts of the bins one testbench process hit; :meth:`save` writes them."""

    def __init__(self, path=None):
        self.counts = Counter()
        self.path = None if path is None else Path(path)

    def hit(self, engine, name, count=1):
        """Count ``count`` hits of bin ``engine.name`` (an unknown bin is an error)."""
        key = f"{engine}.{name}"
        if key not in _KEYS:
            raise KeyError(f"Unknown coverage bin {key!r}")
        if count:
            self.counts[key] += int(count)

    @property
    def recording(self):
        """Whether the counts are saved (``$ZEROSKIP_COVERAGE`` is set).

        Monitors that read a design's internal signals run only then: a
        flattened netlist (:mod:`sim.mutation`) keeps its ports but not every
        internal name.
        """
        return self.path is not None

    def save(self):
        """Write the counts as JSON to :attr:`path` (nothing without a path)."""
        if self.path is not None:
            self.path.write_text(json.dumps(dict(sorted(self.counts.items())), indent=1))


_COVERAGE = None


def coverage():
    """The testbench process's :class:`Coverage`, writing to ``$ZEROSKIP_COVERAGE`` if set."""
    global _COVERAGE
    if _COVERAGE is None:
        _COVERAGE = Coverage(os.environ.get(ENV_COVERAGE))
    return _COVERAGE


def covered_test(fn):
    """``cocotb.test()`` for ``fn``, saving the process's coverage counts when it ends."""
    import cocotb

    @functools.wraps(fn)
    async def test(dut):
        try:
            await fn(dut)
        finally:
            coverage().save()
    return cocotb.test()(test)


def eie_state(dut):
    """The EIE array's state (:class:`hw.eie.array._State`), from its one-hot state flags.

    The flags are registers and survive any synthesis of the design; the
    encoded ``state`` is a wire that only the formal harnesses read.
    """
    from hw.eie.array import _State

    for state in _State:
        if getattr(dut, f"in_{state.name.lower()}").value == 1:
            return state
    raise AssertionError("the EIE array's state flags are all low")


class EieMonitor:
    """Samples an EIE array's signals at every falling edge while it computes.

    Counts queue-full cycles, padding entries in the weight stage, all-zero
    groups taken by the LNZD and the accumulators' bypasses (per PE), into
    ``cov``. Reads the design's internal signals by their Amaranth names.
    """

    def __init__(self, tb, cov):
        self.tb, self.cov = tb, cov
        dut = tb.dut
        cfg = tb.config
        self.computing = dut.in_compute
        self.take_zero = dut.take_zero
        self.index_mask = (1 << cfg.index_bits) - 1
        self.depth = cfg.queue_depth
        self.pes = []
        for k in range(cfg.n_pe):
            pe = getattr(dut, f"pe_{k}")
            self.pes.append((pe.act_queue.level, pe.e_valid, pe.e_entry, pe.acc.bypass1,
                             pe.acc.bypass_any))

    async def run(self):
        from cocotb.triggers import FallingEdge, ReadOnly

        hit = self.cov.hit
        while True:
            await FallingEdge(self.tb.clk)
            await ReadOnly()
            if self.computing.value != 1:
                continue
            if self.take_zero.value == 1:
                hit("eie", "zero_group")
            for level, e_valid, e_entry, bypass1, bypass_any in self.pes:
                if level.value == self.depth:
                    hit("eie", "queue_full")
                if e_valid.value == 1 and int(e_entry.value) & self.index_mask == 0:
                    hit("eie", "padding_entry")
                if bypass1.value == 1:
                    hit("eie", "bypass_1")
                if bypass_any.value == 1 and bypass1.value == 0:
                    hit("eie", "bypass_2_3")


def merge(folder):
    """The summed counts of every ``*.json`` in ``folder`` and how many files there were."""
    total = Counter()
    files = sorted(Path(folder).glob("*.json"))
    for path in files:
        counts = json.loads(path.read_text())
        unknown = set(counts) - _KEYS
        if unknown:
            raise ValueError(f"{path}: unknown coverage bins {sorted(unknown)}")
        total.update(counts)
    return total, len(files)


def unhit(counts):
    """The bins ``counts`` leaves at zero, in :data:`BINS` order."""
    return [b for b in BINS if counts.get(b.key, 0) == 0]


def report(counts):
    """Markdown table of every bin with its count, the unhit ones first."""
    rows = sorted(BINS, key=lambda b: counts.get(b.key, 0) != 0)
    lines = ["| bin | hits | what a hit is |", "| --- | ---: | --- |"]
    for b in rows:
        n = counts.get(b.key, 0)
        lines.append(f"| `{b.key}` | {n if n else '**0 (unhit)**'} | {b.what} |")
    return "\n".join(lines)


#: Title of ``docs/bench_coverage.md``.
TITLE = "Functional coverage of the Verilator regression"


def main(argv=None):
    """``python -m sim.coverage [--write]``: run the Verilator tests, merge, print the table."""
    import argparse
    import shlex
    import shutil
    import subprocess
    import sys

    from .runner import add_jobs_argument

    parser = argparse.ArgumentParser(prog="python -m sim.coverage", description=main.__doc__)
    add_jobs_argument(parser, "pytest-xdist workers")
    parser.add_argument("--out", default="build/coverage",
                        help="folder of the count files (emptied first; default: %(default)s)")
    parser.add_argument("--write", action="store_true",
                        help="also replace docs/bench_coverage.md (when the tests passed)")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    folder = Path(args.out).resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-m", "verilator and not slow", "-n", str(args.jobs), "--dist", "loadgroup", "tests"]
    print(f"running the Verilator tests: {shlex.join(command)}", file=sys.stderr, flush=True)
    env = dict(os.environ, **{ENV_COVERAGE_DIR: str(folder)})
    done = subprocess.run(command, cwd=root, env=env, check=False)
    if done.returncode != 0:
        print(f"the tests failed (exit status {done.returncode}); nothing written",
              file=sys.stderr)
        return 1
    counts, files = merge(folder)
    missing = unhit(counts)
    body = (f"{len(BINS) - len(missing)} of {len(BINS)} bins hit, summed over {files} "
            "testbench runs (one per Verilator build) of "
            "`pytest -m \"verilator and not slow\"`, the cocotb tests of `make test`. "
            "A hit is counted by the testbench: the EIE monitor samples the array's own "
            "registers every cycle of a layer (queue "
            "level, weight-stage entry, accumulator bypass selects, the LNZD taking an "
            "all-zero group); the status reads and the resets give the error codes and "
            "the states; the layers' exact sums give wrap and saturation, which the "
            "bit-exact comparison confirms the RTL reproduced. `make test` fails if a "
            "bin is unhit (see docs/coverage.md).\n\n" + report(counts))
    print(body)
    if args.write:
        from zeroskip.bench import write_doc
        write_doc("coverage", TITLE, body,
                  shlex.join(["python", "-m", "sim.coverage",
                              *(argv if argv is not None else sys.argv[1:])]), write=True)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
