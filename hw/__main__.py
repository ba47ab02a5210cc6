"""``python -m hw``: write Verilog and JSON side-cars for named configurations.

    python -m hw list                 # the named configurations
    python -m hw NAME [NAME ...] --out DIR
    python -m hw all --out DIR
"""

import argparse
import sys

from .generate import configs, generate


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hw", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help="configuration name(s), 'all', or 'list'")
    parser.add_argument("--out", default="build/verilog",
                        help="output folder (default %(default)s)")
    args = parser.parse_args(argv)
    table = configs()
    if args.names == ["list"]:
        for name in table:
            print(name)
        return 0
    names = list(table) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in table]
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(unknown)}; "
                     f"known: {', '.join(table) or '(none)'}")
    for i, name in enumerate(names, 1):
        v_path, j_path = generate(name, args.out)
        print(f"[{i}/{len(names)}] {name}: {v_path} {j_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
