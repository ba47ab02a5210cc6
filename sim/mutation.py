"""Mutation score of the Verilator regression: faults injected into generated designs.

How much would the regression catch? For each :data:`SUBJECTS` entry (a design
point of the regression and the cocotb module that tests it):

1. the design is elaborated to RTLIL with its Python source locations
   (:meth:`hw.generate.Design.rtlil`) and flattened by yosys (``prep -flatten``);
2. yosys's ``mutate -list N -seed S`` picks ``N`` single-bit faults spread over
   the netlist's cells (modes ``inv``: a bit inverted; ``const0``/``const1``:
   stuck at 0 or 1; ``cnot0``/``cnot1``: a bit replaced by the inverse of
   another bit of the same signal, whenever that bit is 0 or 1);
3. all of them go into one netlist, each behind a comparison with a new
   top-level input ``mutant_select`` (``mutate -ctrl``; 0 selects none), which
   Verilator builds once;
4. the testbench runs on it with ``mutant_select`` 0, which must pass (the
   unmutated design), then once per mutant with the same seed and stimulus. A
   mutant is **killed** when a test fails, the simulator stops, or a test runs
   past twice the cycles of the longest test on the unmutated design
   (``$ZEROSKIP_CYCLE_LIMIT``); otherwise it **survived**.

A surviving mutant is either equivalent (no input sequence tells it apart
from the design, e.g. a flipped bit that no output depends on) or a hole in the
regression; :func:`report` lists each with its cell, port bit and Python source
line so it can be answered by a test or argued equivalent. The score is the
percentage killed.

``python -m sim.mutation [--write]`` runs every subject and prints the table;
``--write`` replaces ``docs/bench_mutation.md``. Work folders are under
``build/mutation/<subject>``.
"""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .runner import (
    ENV_CYCLE_LIMIT,
    ENV_DATA,
    ENV_MUTANT,
    ENV_SIDECAR,
    add_jobs_argument,
    build_design,
    run_tests,
)
from .toolchain import require_yosys

__all__ = ["Subject", "SUBJECTS", "Mutant", "parse_mutations", "run_subject", "report", "main"]

#: The input ``mutate -ctrl`` adds, and its width (mutants 1 .. 2**16 - 1).
SELECT = "mutant_select"
SELECT_BITS = 16
#: Clock period of :class:`sim.streams.TB`, to turn the results' times into cycles.
CLOCK_NS = 10
#: A mutant's test may run this many times the longest unmutated test's cycles.
CYCLE_FACTOR = 2
ROOT = Path(__file__).resolve().parent.parent
#: Verilator warnings of yosys's netlist beyond the runner's: a ``$pmux`` is
#: written as a ``casez`` whose arms overlap only if its select is not one-hot
#: (which a mutant may make it; the first arm wins).
NETLIST_WAIVERS = ["-Wno-CASEOVERLAP"]


@dataclass(frozen=True)
class Subject:
    """A design point of the regression and the cocotb module that tests it.

    ``make(folder)`` returns the top-level component and writes the
    testbench's data file ``folder / "data.npz"`` (or returns ``None`` as the
    second item when the testbench reads none). ``mutants`` is the default
    number of mutants.
    """

    name: str
    test_module: str
    what: str
    make: object
    mutants: int


def _eie_subject(folder):
    from hw.eie.array import EieArray

    from .eie_stimuli import build_jobs, save_jobs, small_config

    config = small_config(2, 2, entries_per_word=8)
    # The "full" set: every stimulus set of the regression, chains included.
    jobs = build_jobs("full", config, np.random.default_rng(1))
    save_jobs(folder / "data.npz", jobs, load=True)
    return EieArray(config=config), folder / "data.npz"


def _mac_subject(folder):
    from hw.sparse_nm import NMMac

    from .nm_stimulus import mac_config

    return NMMac(config=mac_config(2, 4, 1, 16)), None


def _tile_subject(folder):
    from sw_model.config import SparseTileConfig

    from .nm_stimulus import mac_config, tile_top

    config = SparseTileConfig(mac=mac_config(2, 4, 2, 8), units=3, act_depth=16,
                              weight_depth=64)
    top, init_w = tile_top(config, (7, 40))
    np.savez(folder / "data.npz", init_w=init_w)
    return top, folder / "data.npz"


#: The mutated designs: one of each engine's blocks, at a point of ``make test``.
SUBJECTS = [
    Subject("eie-pe2_q2", "sim.tb_eie",
            "EIE array, 2 PEs, queue 2, 8 entries per word (test point pe2_q2, "
            "\"full\" stimulus set)", _eie_subject, 200),
    Subject("nm-mac-2of4-g1-16b", "sim.tb_nm_mac",
            "N:M MAC unit, 2:4, 1 group, 16-bit operands (test point 2of4-g1-16b)",
            _mac_subject, 100),
    Subject("nm-tile-2of4-g2-8b", "sim.tb_nm_tile",
            "N:M tile, 2:4, 2 groups, 3 units, 8-bit operands, weights initialised "
            "(test point nm-tile-2of4-g2-8b)", _tile_subject, 100),
]


@dataclass(frozen=True)
class Mutant:
    """One line of ``mutate -list``: the fault selected by ``mutant_select == index``.

    ``cell`` is the flattened netlist's cell (its hierarchy before the last
    ``.``), ``port``/``bit`` the faulted bit, ``wire`` the signal it drives
    or reads (when named), ``src`` the Python source lines of the cell.
    """

    index: int
    mode: str
    cell: str
    port: str
    bit: int
    wire: str
    src: tuple
    ctrlbit: int = -1

    @property
    def block(self):
        """The Python source file of the faulted logic (``?`` when yosys kept none)."""
        return self.src[0].rsplit(":", 1)[0] if self.src else "?"

    def describe(self):
        """``mode cell port[bit]``, the control bit of a ``cnot`` and the signal, if named."""
        text = f"{self.mode} {self.cell} {self.port}[{self.bit}]"
        if self.ctrlbit >= 0:
            text += f" by [{self.ctrlbit}]"
        if self.wire:
            text += f" ({self.wire})"
        return text


def _relative(src):
    path, _, line = src.rpartition(":")
    try:
        path = str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        pass
    return f"{path}:{line}"


def parse_mutations(text):
    """The :class:`Mutant` of each line of a ``mutate -list ... -ctrl`` script."""
    mutants = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        if words[:2] != ["mutate", "-ctrl"] or words[2] != SELECT:
            raise ValueError(f"mutation list line {number} is not a `mutate -ctrl {SELECT}` "
                             f"command: {line!r}")
        index = int(words[4])
        options, src = {}, []
        rest = words[5:]
        if len(rest) % 2:
            raise ValueError(f"mutation list line {number} has an option without a value: "
                             f"{line!r}")
        for key, value in zip(rest[::2], rest[1::2], strict=True):
            if key == "-src":
                src.append(_relative(value))
            else:
                options[key] = value
        mutants.append(Mutant(index=index, mode=options["-mode"], cell=options["-cell"],
                              port=options["-port"], bit=int(options["-portbit"]),
                              wire=options.get("-wire", ""), src=tuple(src),
                              ctrlbit=int(options.get("-ctrlbit", -1))))
    return mutants


def _yosys(script, cwd):
    done = subprocess.run([require_yosys(), "-q", "-p", script], cwd=cwd, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"yosys failed in {cwd}:\n{done.stdout}{done.stderr}")


def make_netlist(design, folder, count, seed, only=None):
    """Write the flattened netlist with ``count`` mutants; return its path and the mutants.

    ``only``: ``mutate -list`` filters, e.g. ``{"mode": "const0", "wire":
    "o__valid"}`` (every candidate by default).
    """
    il = folder / f"{design.name}.il"
    il.write_text(design.rtlil())
    prep = f"read_rtlil {il.name}; prep -flatten -top {design.toplevel}"
    filters = "".join(f" -{key} {value}" for key, value in (only or {}).items())
    _yosys(f"{prep}; mutate -list {count} -seed {seed}{filters} -o mutations.ys "
           f"-ctrl {SELECT} {SELECT_BITS} 1", folder)
    mutants = parse_mutations((folder / "mutations.ys").read_text())
    netlist = folder / f"{design.name}-mutants.v"
    _yosys(f"{prep}; script mutations.ys; opt_clean; write_verilog -noattr {netlist.name}",
           folder)
    return netlist, mutants


def _test_cycles(results_xml):
    """Simulated cycles of each test case in a cocotb results file."""
    cycles = {}
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if props.get("sim_time_unit") != "ns" or "sim_time_duration" not in props:
            raise RuntimeError(f"{results_xml}: test {case.get('name')} has no simulated "
                               f"time in ns")
        cycles[case.get("name")] = float(props["sim_time_duration"]) / CLOCK_NS
    if not cycles:
        raise RuntimeError(f"{results_xml}: no test cases")
    return cycles


def run_subject(subject, out, *, mutants=None, seed=1, jobs=2, only=None, progress=None):
    """Mutate ``subject``, run its tests on every mutant; return the results as a ``dict``.

    ``only``: filters of the mutants' choice (see :func:`make_netlist`).

    The ``dict`` holds the subject's name and description, the number of
    tests, the cycle limit and one entry per mutant (its fields and
    ``"killed"``). Raises :class:`RuntimeError` if the unmutated design
    fails its tests (then no mutant can be judged).
    """
    from hw.generate import Design, load_sidecar
    from zeroskip.progress import Progress

    progress = progress or Progress(quiet=True)
    count = subject.mutants if mutants is None else mutants
    if count < 1 or count >= 1 << SELECT_BITS:
        raise ValueError(f"mutants must be 1 to {(1 << SELECT_BITS) - 1}, not {count}")
    folder = Path(out).resolve() / subject.name
    folder.mkdir(parents=True, exist_ok=True)
    top, data = subject.make(folder)
    design = Design(name=subject.name, top=top)
    _, sidecar = design.write(folder)
    info = load_sidecar(sidecar)
    with progress.step(f"{subject.name}: {count} mutants, yosys mutate -seed {seed}"):
        netlist, listed = make_netlist(design, folder, count, seed, only)
        if not listed:
            raise RuntimeError(f"{subject.name}: yosys found no mutation candidate")
        build = folder / "build"
        build_design(info, build, verilog=netlist, waivers=NETLIST_WAIVERS)
    env = {ENV_SIDECAR: sidecar}
    if data is not None:
        env[ENV_DATA] = data
    runs = folder / "runs"

    def run(index, limit=None):
        test_dir = runs / str(index)
        test_dir.mkdir(parents=True, exist_ok=True)
        extra = {ENV_MUTANT: index}
        if limit is not None:
            extra[ENV_CYCLE_LIMIT] = limit
        total, failed = run_tests(info, subject.test_module, build_dir=build, test_dir=test_dir,
                                  seed=seed, env={**env, **extra})
        return total, failed, test_dir

    with progress.step(f"{subject.name}: the unmutated design ({subject.test_module})"):
        total, failed, test_dir = run(0)
        if total == 0 or failed:
            raise RuntimeError(f"{subject.name}: {failed} of {total} tests fail with no "
                               f"mutant selected; see {test_dir / 'sim.log'}")
        cycles = _test_cycles(test_dir / "results.xml")
        limit = int(CYCLE_FACTOR * max(cycles.values())) + 100
    results = []
    with progress.step(f"{subject.name}: {len(listed)} mutants, {jobs} at a time"), \
            progress.bar(len(listed), "mutants") as bar:
        def judge(mutant):
            got, failed, _ = run(mutant.index, limit)
            bar.advance()
            return dict(asdict(mutant), killed=bool(failed or got < total), failed=failed)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(judge, listed))
    summary = {"subject": subject.name, "what": subject.what, "test_module": subject.test_module,
               "tests": total, "cycle_limit": limit, "seed": seed, "mutants": results}
    (folder / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


#: Surviving mutants argued equivalent to their design, by subject and
#: :meth:`Mutant.describe`, each with the argument. The arguments are read, not
#: proved: each names why no input sequence can tell the mutant apart. An entry
#: whose mutant is killed or no longer made is reported as stale (the RTL or
#: the list changed), and ``main`` fails until it is reviewed.
_ROUNDING = ("the rounding add `acc + half` (half = 1 << (w_frac_bits - 1)): the output "
             "takes the sum's bits from w_frac_bits up, and a change to a bit of the "
             "addend below bit w_frac_bits - 1 moves none of them (the carry into bit "
             "w_frac_bits is bit w_frac_bits - 1 of the addend)")
_RUN_CYCLES = ("the busy, stall and cycle counters restart at every RUN (array.py:753-759, "
               "pe.py:386) and count at most once per cycle of the run; a run here lasts "
               "under 2**15 cycles: sw_model.eie_cycles gives 18712 cycles for the densest "
               "run there is, four 96 x 97 layers (act_depth 48, 2 PEs) with every weight "
               "and activation nonzero, more entries than the matrix memory even holds. "
               "Only host-written pointers whose columns run past act_depth rows, a program "
               "no model defines, could run longer. So counter bits from 15 up stay 0")
_HALF = ("With `half` constant (tile.py:257, 307) vector v + 1 is written to the half of "
         "the activation memory that vector v reads. With beats >= 2 every read of v's "
         "last block comes at the first fetch_advance cycle after its issue, before the "
         "next vector's write of that beat, which is issued beats - 1 such cycles later; "
         "with beats = 1 the read and the write meet at one clock edge, and the read port "
         "is not transparent, so in simulation it returns the old word either way. "
         "Equivalent in simulation, not in the hardware: the halves keep `no_rw_check` "
         "true, which lets yosys map act_mem to block RAM that leaves such a collision "
         "undefined")
_NO_OP = "the fault forces the input bit to the constant it already is"
EQUIVALENT = {
    # N:M MAC (mac.py:189, the requantization's rounding add).
    ("nm-mac-2of4-g1-16b", "inv $30 Y[3]"): _ROUNDING + "; bit 3 of the sum is not read",
    ("nm-mac-2of4-g1-16b", "const1 $30 A[9]"): _ROUNDING,
    ("nm-mac-2of4-g1-16b", "inv $30 A[6]"): _ROUNDING,
    ("nm-mac-2of4-g1-16b", "const0 $flatten\\select.$procmux$25_CMP0 A[0]"):
        "the select's `offsets[1] == 2` with offset bit 0 stuck at 0 also matches offset 3, "
        "which the index decode never makes (offsets lie in 0 .. m - n = 0 .. 2)",
    ("nm-mac-2of4-g1-16b", "cnot0 $29 A[15] by [25]"):
        "`acc < T` with T = (lo << shift) - half = -2**27 - 2048 (mac.py:193): the fault "
        "sets acc bit 15 only when bit 25 is 0, which can only raise acc and so only "
        "matters for acc in [T - 2**15, T); there bit 25 is 1 (T's bits 25..24 are 11 and "
        "the interval does not borrow from them)",
    ("nm-mac-2of4-g1-16b", "cnot0 $49 Q[1] by [0] (flags_2.first)"):
        "the fault sets `first` only while `valid` (bit 0) is 0; the flags go down the "
        "pipeline unchanged and `first` and `last` act only with `valid` (mac.py:175-177)",
    ("nm-tile-2of4-g2-8b", "cnot0 $flatten\\unit_0.$46 Q[2] by [0] (unit_0.flags_0.last)"):
        "the fault sets `last` only while `valid` (bit 0) is 0; the flags go down the "
        "pipeline unchanged and `first` and `last` act only with `valid` (mac.py:175-177)",
    ("nm-tile-2of4-g2-8b", "const1 $flatten\\unit_2.$31 A[1]"): _ROUNDING,
    ("nm-tile-2of4-g2-8b", "cnot0 $flatten\\unit_1.$30 A[1] by [9]"):
        "`acc < T` with T = (lo << shift) - half = -8224 (mac.py:193, 8-bit operands): the "
        "fault sets acc bit 1 only when bit 9 is 0, which can only raise acc by 2 and so "
        "only matters for acc in [T - 2, T); there bit 9 is 1 (T = 0x..DFE0)",
    ("nm-tile-2of4-g2-8b", "const1 $121 CLK[0]"): "`half` never loads. " + _HALF,
    ("nm-tile-2of4-g2-8b", "inv $67 A[0]"): "`half.eq(~half)` reloads `half`. " + _HALF,
    ("nm-tile-2of4-g2-8b", "const1 $68 B[0]"):
        "`block + 1` (tile.py:309): bit 0 of the constant 1 stuck at 1",
    ("nm-tile-2of4-g2-8b", "const1 $48 A[0]"):
        "the AND of the units' `i.ready` (tile.py:266) with unit 0's stuck at 1: every "
        "unit's `ready` is the same function of the shared output `ready` and of "
        "pipeline state all units hold alike (they differ only in weight data), so the "
        "other units' `ready` equals unit 0's",
    # EIE array.
    ("eie-pe2_q2", "cnot1 $1130 A[47] by [2]"):
        "the zero test of the command's data bits 6 .. 63 in `_below` (array.py:64): the "
        "fault flips bit 53 only when bit 8 of the same vector is 1, and then the vector "
        "is nonzero either way",
    ("eie-pe2_q2", "cnot0 $1017 A[9] by [11]"):
        "the status count's saturation test `status_count.all()` (array.py:722): the fault "
        "flips bit 9 only when bit 11 is 0, and then not all bits are 1 either way",
    ("eie-pe2_q2", "cnot1 $1119 A[0] by [1]"):
        "`count >= 2` of PE 1's 2-bit credit counter (array.py:517): the fault flips bit 0 "
        "only when bit 1 is 1, and a 2-bit count is >= 2 exactly when bit 1 is 1",
    ("eie-pe2_q2", "const1 $688 B[1]"): "`queued >= 2` (array.py:432): " + _NO_OP,
    ("eie-pe2_q2", "const1 $flatten\\pe_1.\\act_queue.$29 B[0]"):
        "the read pointer's `+ 1` (blocks.py:189): " + _NO_OP,
    ("eie-pe2_q2", "const0 $flatten\\pe_1.\\acc.$procmux$2076 B[0]"):
        "the reset value 0 of PE 1's bank-0 valid flag of row 27: " + _NO_OP,
    ("eie-pe2_q2", "const1 $flatten\\pe_0.\\acc.$procmux$6158 B[0]"):
        "the 1 a host input sets its row's valid flag to (bank 0, row 10): " + _NO_OP,
    ("eie-pe2_q2", "const1 $flatten\\pe_1.\\acc.$procmux$1879 B[0]"):
        "the 1 a host input sets its row's valid flag to (bank 0, row 34): " + _NO_OP,
    ("eie-pe2_q2", "const1 $1063 A[0]"):
        "`computing & layer_done` (array.py:793) with `computing` stuck at 1: `layer_done` "
        "(array.py:525) already has `computing` as a factor",
    ("eie-pe2_q2", "const0 $procmux$6984 S[0]"):
        "READ's goto(RESP) (array.py:781-783) no longer clears `in_start`: in READ "
        "`in_start` is 0 (the state flags are one-hot) and only IDLE's and COMPUTE's "
        "transitions set it, so it stays 0 anyway",
    ("eie-pe2_q2", "const0 $procmux$7030 S[0]"):
        "READ's goto(RESP) (array.py:781-783) no longer clears `in_read`: the array is in "
        "READ and RESP at once until the response is taken, when goto(IDLE) (array.py:785, "
        "after it) clears both. Meanwhile `wait` keeps counting; if the response waits 8 "
        "cycles, `host_read` (array.py:382) repeats the same group read (`out_bank` and "
        "`host_addr` hold, and no command runs, so no accumulator or flag changes) and "
        "`read_done` reloads `resp_data` with the same value. The group-buffer write such "
        "a read makes goes to slot `g_read[:3]`, as the first one's does, and every RUN "
        "writes a slot before it reads it. Nothing else reads `in_read`; `state` is for "
        "the formal harnesses and the waves",
    ("eie-pe2_q2", "const1 $flatten\\pe_0.\\acc.$procmux$3958 B[0]"):
        "the reset value of PE 0's bank-1 valid flag of row 25 set to 1 (blocks.py:469): "
        "bank 1 is read only by the updates and group reads of a run (layer 0 "
        "accumulates into it) and by READ_ACT after a run of an odd number of layers "
        "(`out_bank`, reset to 0); each follows the START of such a run's layer 0, whose "
        "`acc.clear` (pe.py:237, dst = 1) clears bank 1's flags, and a reset in between "
        "resets `out_bank` too",
    ("eie-pe2_q2", "inv $flatten\\pe_0.$262 Q[6] (pe_0.row_reg)"):
        "`row_reg` bit 6: the row is _bits(act_depth) + 1 = 7 bits wide (pe.py:355-358) "
        "but the accumulators take its low 6 bits (`acc.row`, pe.py:376), and the low "
        "bits of `row_reg + z + 1` do not depend on a higher bit of an addend",
    ("eie-pe2_q2", "const0 pe_0.ptr_read.mem.storage RD_DATA[20] "
                   "(pe_0.ptr_read.mem.rp__data)"):
        "pointer-word bit 20 is bit 7 of `tail` = column length - 2 (`ptr_word`, "
        "blocks.py:102; ptr_bits 13). The issue stage reads `tail` only when the column "
        "has 2 or more entries (`more`, pe.py:314), and a column of a well-formed layer "
        "has at most act_depth = 48 entries in a PE (each entry moves the row on by at "
        "least 1 and every row is below act_depth), so the bit is 0 whenever it is read. "
        "A host-written pointer pair may span more, which no model defines",
    ("eie-pe2_q2", "inv $flatten\\pe_0.$110 A[10] (pe_0.rd_data)"):
        _ROUNDING + " (pe.py:256, w_frac_bits = 12)",
    ("eie-pe2_q2", "cnot1 $flatten\\pe_1.$110 A[7] by [2] (pe_1.rd_data)"):
        _ROUNDING + " (pe.py:256, w_frac_bits = 12)",
    ("eie-pe2_q2", "cnot1 $flatten\\pe_0.$274 Q[2] by [27] (pe_0.busy_count)"):
        _RUN_CYCLES + "; the fault acts only when bit 27 is 1",
    ("eie-pe2_q2", "const0 $flatten\\pe_0.$142 Y[31]"):
        "bit 31 of the busy counter's increment (pe.py:390). " + _RUN_CYCLES,
}


def _score(killed, total):
    return f"{100 * killed / total:.1f} %" if total else "-"


def _mutants(summary):
    for m in summary["mutants"]:
        fields = {k: (tuple(v) if k == "src" else v) for k, v in m.items()
                  if k not in ("killed", "failed")}
        yield Mutant(**fields), m["killed"]


def stale_equivalences(summaries):
    """Entries of :data:`EQUIVALENT` of the subjects run whose mutant is killed or not made."""
    survivors = {(s["subject"], m.describe()) for s in summaries
                 for m, killed in _mutants(s) if not killed}
    ran = {s["subject"] for s in summaries}
    return sorted(key for key in EQUIVALENT if key[0] in ran and key not in survivors)


def report(summaries):
    """Markdown: per subject and source file, mutants, killed, equivalent, survived, score.

    The score is the percentage killed of the mutants not argued equivalent
    (:data:`EQUIVALENT`). Survivors and equivalent mutants are listed.
    """
    lines = ["| subject | block (source file) | mutants | killed | equivalent (argued) | "
             "survived | score (killed / not equivalent) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    survivors, equivalent = [], []
    grand = Counter()
    for summary in summaries:
        name = summary["subject"]
        blocks = {}
        for mutant, killed in _mutants(summary):
            entry = blocks.setdefault(mutant.block, Counter())
            entry["mutants"] += 1
            reason = None if killed else EQUIVALENT.get((name, mutant.describe()))
            if killed:
                entry["killed"] += 1
            elif reason:
                entry["equivalent"] += 1
                equivalent.append((name, mutant, reason))
            else:
                survivors.append((name, mutant))
        total = Counter()
        for block, c in sorted(blocks.items()):
            lines.append(_row(name, f"`{block}`", c))
            total.update(c)
        lines.append(_row(f"**{name}**", "all", total, bold=True))
        grand.update(total)
    lines.append(_row("**all subjects**", "", grand, bold=True))
    text = "\n".join(lines)
    if survivors:
        text += ("\n\nSurviving mutants (not argued equivalent): holes in the regression "
                 "or equivalents not yet argued.\n\n"
                 "| subject | mutant | fault | source |\n| --- | ---: | --- | --- |\n")
        text += "\n".join(f"| {s} | {m.index} | `{m.describe()}` | {', '.join(m.src) or '?'} |"
                          for s, m in survivors)
    if equivalent:
        text += ("\n\nMutants argued equivalent (`sim.mutation.EQUIVALENT`):\n\n"
                 "| subject | mutant | fault | source | why no test can kill it |\n"
                 "| --- | ---: | --- | --- | --- |\n")
        text += "\n".join(f"| {s} | {m.index} | `{m.describe()}` | {', '.join(m.src) or '?'} "
                          f"| {why} |" for s, m, why in equivalent)
    stale = stale_equivalences(summaries)
    if stale:
        text += ("\n\n**Stale equivalence arguments** (the mutant is killed or no longer "
                 "made; review `sim.mutation.EQUIVALENT`): "
                 + "; ".join(f"{s}: `{d}`" for s, d in stale))
    return text


def _row(subject, block, c, *, bold=False):
    cells = [c["mutants"], c["killed"], c["equivalent"],
             c["mutants"] - c["killed"] - c["equivalent"],
             _score(c["killed"], c["mutants"] - c["equivalent"])]
    if bold:
        cells = [f"**{x}**" for x in cells]
    return f"| {subject} | {block} | " + " | ".join(map(str, cells)) + " |"


#: Title of ``docs/bench_mutation.md``.
TITLE = "Mutation score of the Verilator regression"


def main(argv=None):
    """``python -m sim.mutation [--write]``: mutate each subject, run its tests, print the table."""
    import argparse
    import shlex

    from zeroskip.progress import Progress

    names = [s.name for s in SUBJECTS]
    parser = argparse.ArgumentParser(prog="python -m sim.mutation", description=main.__doc__)
    parser.add_argument("--subjects", nargs="+", metavar="NAME", choices=names, default=names,
                        help=f"subjects (default: all of {', '.join(names)})")
    parser.add_argument("--mutants", type=int, default=None,
                        help="mutants per subject (default: each subject's own, "
                             f"{', '.join(f'{s.name} {s.mutants}' for s in SUBJECTS)})")
    parser.add_argument("--seed", type=int, default=1,
                        help="yosys mutate's seed and the testbench seed (default: %(default)s)")
    add_jobs_argument(parser, "simulations")
    parser.add_argument("--out", default="build/mutation",
                        help="work folder (default: %(default)s)")
    parser.add_argument("--write", action="store_true",
                        help="also replace docs/bench_mutation.md")
    parser.add_argument("--quiet", "-q", action="store_true", help="print no progress")
    args = parser.parse_args(argv)
    if args.mutants is not None and not 1 <= args.mutants < 1 << SELECT_BITS:
        parser.error(f"--mutants must be 1 to {(1 << SELECT_BITS) - 1}, not {args.mutants}")
    chosen = [s for s in SUBJECTS if s.name in args.subjects]
    progress = Progress(total=3 * len(chosen), quiet=args.quiet)
    try:
        summaries = [run_subject(s, args.out, mutants=args.mutants, seed=args.seed,
                                 jobs=args.jobs, progress=progress) for s in chosen]
    except RuntimeError as exc:
        print(f"python -m sim.mutation: {exc}", file=sys.stderr)
        return 1
    body = (_method(summaries) + "\n\n" + report(summaries))
    print(body)
    stale = stale_equivalences(summaries)
    if stale:
        print(f"python -m sim.mutation: {len(stale)} stale entries in EQUIVALENT; review them",
              file=sys.stderr)
        return 1
    if args.write:
        from zeroskip.bench import write_doc
        write_doc("mutation", TITLE, body,
                  shlex.join(["python", "-m", "sim.mutation",
                              *(argv if argv is not None else sys.argv[1:])]), write=True)
    return 0


def _method(summaries):
    rows = "\n".join(f"- `{s['subject']}`: {s['what']}; `{s['test_module']}`, {s['tests']} "
                     f"tests, seed {s['seed']}, cycle limit {s['cycle_limit']}."
                     for s in summaries)
    return ("Each subject's design is flattened by yosys, which picks single-bit faults "
            "spread over its cells (`mutate -list`; modes inv, const0, const1, cnot0, "
            "cnot1) and puts them all in one netlist behind a `mutant_select` input. "
            "Verilator builds it once; the testbench runs with no mutant selected (it "
            "must pass), then once per mutant with the same seed. A mutant is killed "
            "when a test fails, the simulator stops, or a test runs past "
            f"{CYCLE_FACTOR} times the cycles of the longest unmutated test. Survivors "
            "argued equivalent are counted apart, with the argument. A block is the Python "
            "source file of the faulted logic. See docs/mutation.md.\n\n" + rows)


if __name__ == "__main__":
    raise SystemExit(main())
