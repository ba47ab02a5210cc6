"""``zeroskip verilog``: Verilog and JSON side-cars for named configurations.

    zeroskip verilog --list
    zeroskip verilog eie-8pe nm-tile-2of4 --out build/verilog
    zeroskip verilog all --out build/verilog
    zeroskip verilog eie-8pe --family ecp5

``--family`` builds the FPGA family's primitives (:mod:`hw.primitives`; ECP5:
``MULT18X18D`` instances with their registers) instead of the generic
version, as ``zeroskip synth`` does for that family's targets.
"""

from .generate import configs
from .primitives import FAMILIES

__all__ = ["HELP", "add_arguments", "run"]

HELP = "write deterministic Verilog and JSON side-cars of named configurations"


def add_arguments(parser):
    """Options of ``zeroskip verilog``."""
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="configuration name(s), or 'all'")
    parser.add_argument("--list", action="store_true", help="list the named configurations")
    parser.add_argument("--out", default="build/verilog",
                        help="output folder (default %(default)s)")
    parser.add_argument("--family", choices=FAMILIES,
                        help="instantiate this FPGA family's primitives (default: generic)")


def run(args):
    """Write each named configuration's ``.v`` and ``.json``; print one line each."""
    from zeroskip.errors import UserError

    from .generate import build

    table = configs()
    if args.list:
        for name in table:
            print(name)
        return 0
    if not args.names:
        raise UserError("name at least one configuration, or 'all' (see --list)")
    names = list(table) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in table]
    if unknown:
        raise UserError(f"unknown configuration(s): {', '.join(unknown)}; "
                        f"known: {', '.join(table)}")
    with args.progress.bar(len(names), "configurations") as bar:
        for name in names:
            v_path, j_path = build(name, family=args.family).write(args.out)
            print(f"{name}: {v_path} {j_path}", flush=True)
            bar.advance()
    return 0
