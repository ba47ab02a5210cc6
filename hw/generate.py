"""Named configurations and deterministic Verilog generation.

Each engine package exposes ``CONFIGS``, a mapping from a configuration name
to a function that builds the top-level ``wiring.Component``. :func:`generate`
writes ``<name>.v`` and a JSON side-car ``<name>.json`` holding the engine
configuration and the port list, so a testbench or a report can read back
exactly what was built. The same configuration always gives the same bytes.
"""

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring

__all__ = ["Design", "ENGINE_PACKAGES", "configs", "build", "port_list", "generate"]

#: Packages that contribute named configurations (each has a ``configs`` module
#: with a ``CONFIGS`` dict of name -> zero-argument factory returning a Design).
ENGINE_PACKAGES = ["hw.eie", "hw.sparse_nm"]


@dataclass(frozen=True)
class Design:
    """A top-level component and the configuration it was built from."""

    top: wiring.Component
    engine: str
    config: dict


def configs():
    """All named configurations: ``{name: factory}``, sorted by name."""
    found = {}
    for package in ENGINE_PACKAGES:
        try:
            module = importlib.import_module(f"{package}.configs")
        except ModuleNotFoundError as exc:
            if exc.name not in (package, f"{package}.configs"):
                raise
            continue
        for name, factory in module.CONFIGS.items():
            if name in found:
                raise ValueError(f"Configuration name {name!r} is defined twice")
            found[name] = factory
    return dict(sorted(found.items()))


def build(name):
    """Build the named configuration's :class:`Design`."""
    table = configs()
    if name not in table:
        raise ValueError(
            f"Unknown configuration {name!r}; known: {', '.join(table) or '(none)'}")
    return table[name]()


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


def generate(name, out_dir, *, design=None):
    """Write ``<name>.v`` and ``<name>.json`` to ``out_dir``; return the two paths."""
    design = build(name) if design is None else design
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = verilog.convert(design.top, name=name.replace("-", "_"), emit_src=False)
    v_path = out_dir / f"{name}.v"
    v_path.write_text(text)
    sidecar = {
        "name": name,
        "toplevel": name.replace("-", "_"),
        "engine": design.engine,
        "config": design.config,
        "ports": port_list(design.top),
    }
    j_path = out_dir / f"{name}.json"
    j_path.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return v_path, j_path
