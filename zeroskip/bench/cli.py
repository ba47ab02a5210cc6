"""``zeroskip bench NAME``: run one benchmark, print its table, optionally write it to docs/."""

import importlib

from . import BENCHMARKS, doc_path, write_doc

__all__ = ["HELP", "add_arguments", "run"]

HELP = "run a benchmark and print its table (--write: into docs/bench_<name>.md)"


def add_arguments(parser):
    """One sub-subcommand per benchmark, each with its own options."""
    subparsers = parser.add_subparsers(dest="benchmark", metavar="NAME", required=True,
                                       parser_class=type(parser))
    for name, module_name in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        doc = doc_path(name)
        sub.add_argument("--write", action="store_true",
                         help=f"also replace {doc.relative_to(doc.parents[1])}")
        sub.add_argument("--quiet", "-q", action="store_true",
                         help="print no progress (results and errors still)")


def run(args):
    """Measure, print the document, write it with ``--write``."""
    module = importlib.import_module(BENCHMARKS[args.benchmark])
    body = module.measure(args, args.progress)
    text = write_doc(args.benchmark, module.TITLE, body, args.command_line, write=args.write)
    print(text)
    return 0
