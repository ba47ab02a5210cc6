"""The ``zeroskip`` command: one program, one subcommand per job.

Each subcommand lives in a module that provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``; ``args.progress`` is a
:class:`~zeroskip.progress.Progress` honouring ``--quiet``. Exit status: 0
when everything ran and every check passed, 1 when a check failed (the RTL
differs from the golden or cycle model), 2 for bad input with a one-line
message and no traceback, other values as a subcommand documents (``synth``:
3 does not fit, 4 memory not in block RAM), 130 when interrupted.
"""

import argparse
import importlib
import shlex
import sys

from .errors import EXIT_USAGE, UserError
from .progress import Progress

__all__ = ["SUBCOMMANDS", "main"]

#: Subcommand -> module providing ``HELP``, ``add_arguments`` and ``run``.
SUBCOMMANDS = {
    "demo": "zeroskip.demo",
    "compile": "zeroskip.compile",
    "simulate": "zeroskip.simulate",
    "synth": "synth.cli",
    "verilog": "hw.cli",
    "bench": "zeroskip.bench.cli",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit status 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser():
    parser = _Parser(prog="zeroskip", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=_Parser)
    modules = {}
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.add_argument("--quiet", "-q", action="store_true",
                         help="print no progress (results and errors still)")
        modules[name] = module
    return parser, modules


def main(argv=None):
    """Run ``zeroskip`` with ``argv`` (default: the command line); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, modules = _parser()
    args = parser.parse_args(argv)
    # The command as typed, for documents that say how they were made.
    args.command_line = "zeroskip " + shlex.join(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args.progress = Progress(quiet=args.quiet)
    try:
        return modules[args.command].run(args)
    except UserError as exc:
        print(f"zeroskip {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"zeroskip {args.command}: interrupted", file=sys.stderr)
        return 130
