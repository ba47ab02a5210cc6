"""Shared pytest set-up: tool paths and the per-test build directory."""

import os
import shutil
from pathlib import Path

import pytest

from sim.coverage import BINS, ENV_COVERAGE_DIR, merge, report, unhit
from sim.toolchain import setup_path

setup_path()

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def build_root():
    """Root of the per-parameter-point build directories (``build/tests``, or ``$ZS_BUILD``)."""
    path = Path(os.environ.get("ZS_BUILD", ROOT / "build" / "tests"))
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- Functional coverage (sim/coverage.py). The controlling process gives the
# session a fresh folder for the testbenches' count files (xdist workers
# inherit the variable); at the end it merges them into report.md beside
# them and, with --coverage-closure (`make test`), fails the session if any
# bin was left unhit.

def pytest_addoption(parser):
    parser.addoption("--coverage-closure", action="store_true",
                     help="fail the session if a functional coverage bin of sim/coverage.py "
                          "is unhit (make test passes it)")


def _controller(config):
    return not hasattr(config, "workerinput")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pytest_configure(config):
    if not _controller(config):
        return
    if os.environ.get(ENV_COVERAGE_DIR):
        folder = Path(os.environ[ENV_COVERAGE_DIR])
        for stale in folder.glob("*.json"):
            stale.unlink()
    else:
        # A folder of this session's own (sessions may run side by side);
        # those of sessions that have ended are removed.
        parent = Path(os.environ.get("ZS_BUILD", ROOT / "build" / "tests")) / "coverage"
        for old in parent.glob("session-*"):
            if not _pid_alive(int(old.name.split("-")[1])):
                shutil.rmtree(old, ignore_errors=True)
        folder = parent / f"session-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[ENV_COVERAGE_DIR] = str(folder)
    config.stash[_COVERAGE_KEY] = None


_COVERAGE_KEY = pytest.StashKey()


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if not _controller(config):
        return
    folder = Path(os.environ[ENV_COVERAGE_DIR])
    counts, files = merge(folder)
    if files == 0 and not config.getoption("--coverage-closure"):
        return
    (folder / "report.md").write_text(report(counts) + "\n")
    missing = unhit(counts)
    config.stash[_COVERAGE_KEY] = (folder, files, missing)
    if missing and config.getoption("--coverage-closure"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    found = config.stash.get(_COVERAGE_KEY, None)
    if found is None:
        return
    folder, files, missing = found
    terminalreporter.write_line(
        f"functional coverage: {len(BINS) - len(missing)} of {len(BINS)} bins hit in "
        f"{files} testbench run(s); report {folder / 'report.md'}")
    if missing and config.getoption("--coverage-closure"):
        terminalreporter.write_line(
            "FAILED coverage closure: unhit bins " + ", ".join(b.key for b in missing),
            red=True)
