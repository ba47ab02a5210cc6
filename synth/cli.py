"""``zeroskip synth``: FPGA synthesis of a named configuration with yosys and nextpnr.

    zeroskip synth --config eie-8pe --target ecp5-25f-6 --out build/synth
    zeroskip synth --config eie-4pe --target ice40-up5k --seeds 3 --freq 50
    zeroskip synth --list-targets

Results land in ``OUT/CONFIG/TARGET/`` (``results.json``, ``results.md``,
nextpnr's ``seed<N>/report.json`` and the bitstreams). A run identical to an
earlier successful one reuses its results from the cache folder (``--cache``,
default ``build/synth-cache``; ``--no-cache`` runs the tools regardless). Exit
status: 0 on success, 2 for a usage error, 3 when the design does not fit the
device, 4 when a large memory did not map to block RAM, 1 for any other tool
failure.
"""

import argparse
import math
import sys
from pathlib import Path

from hw.generate import build, configs
from zeroskip.errors import EXIT_FAILED, EXIT_OK, UserError

from .devices import DEVICES, get_device
from .flow import DoesNotFit, FlowError, MemoryMappingError, run_flow
from .report import DEFAULT_BRAM_MIN_BITS, results_markdown

__all__ = ["HELP", "EXIT_DOES_NOT_FIT", "EXIT_MEMORY_RULE", "add_arguments", "run"]

HELP = "synthesize a named configuration for an FPGA with yosys and nextpnr"

#: Exit status: the design needs more of a resource than the device has.
EXIT_DOES_NOT_FIT = 3
#: Exit status: a memory above the block-RAM threshold was built from LUTs or flip-flops.
EXIT_MEMORY_RULE = 4


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of MHz, not {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite positive number, not {text!r}")
    return value


def _natural(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text!r}")
    return value


def add_arguments(parser):
    """The options of ``zeroskip synth``."""
    parser.add_argument("--config", help=f"named configuration: {', '.join(configs())}")
    parser.add_argument("--target", help=f"FPGA target: {', '.join(DEVICES)}")
    parser.add_argument("--seed", type=_natural, default=1,
                        help="first nextpnr seed (default %(default)s)")
    parser.add_argument("--seeds", type=_natural, default=1,
                        help="number of seeds from --seed on (default %(default)s)")
    parser.add_argument("--freq", type=_positive_float,
                        help="nextpnr frequency target in MHz (default: the target's)")
    parser.add_argument("--out", default="build/synth", help="output folder (default %(default)s)")
    parser.add_argument("--no-pack", action="store_true", help="skip the bitstream")
    parser.add_argument("--bram-min-bits", type=_natural, default=DEFAULT_BRAM_MIN_BITS,
                        help="memories above this many bits must be block RAM "
                             "(default %(default)s)")
    parser.add_argument("--allow-lut-memories", action="store_true",
                        help="report memories above the threshold that missed block RAM, "
                             "but go on")
    parser.add_argument("--single-step", action="store_true",
                        help="gate the design's clock enable with the wrapper's latch pulse")
    parser.add_argument("--generic-primitives", action="store_true",
                        help="build generic multipliers and block RAMs (registers around `*`, "
                             "memories with a register after the read) instead of the target "
                             "family's primitives (ECP5: MULT18X18D and DP16KD with their "
                             "registers)")
    parser.add_argument("--router", choices=["router1", "router2"],
                        help="nextpnr router (default: nextpnr's, router1)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="DIR", default="build/synth-cache",
                       help="reuse the results of identical earlier runs kept in DIR, and keep "
                            "this run's there (default %(default)s)")
    cache.add_argument("--no-cache", dest="cache", action="store_const", const=None,
                       help="run the tools even if an identical run is cached, keep nothing")
    parser.add_argument("--list-targets", action="store_true", help="list the targets and exit")


def run(args):
    """Synthesize ``args.config`` for ``args.target``; print the results; return the exit status."""
    if args.list_targets:
        for device in DEVICES.values():
            speed = "-" if device.speed is None else f"speed {device.speed}"
            print(f"{device.name:12} {device.part:20} {speed:8} {device.synth_command}")
        return EXIT_OK
    if args.config is None or args.target is None:
        raise UserError("--config and --target are required (or --list-targets)")
    try:
        device = get_device(args.target)
    except ValueError as exc:
        raise UserError(f"--target: {exc}") from None
    table = configs()
    if args.config not in table:
        raise UserError(f"--config: unknown configuration {args.config!r}; known: "
                        f"{', '.join(table) or '(none registered yet)'}")
    if args.seeds < 1:
        raise UserError(f"--seeds must be at least 1, not {args.seeds}")

    design = build(args.config,
                   family=None if args.generic_primitives else device.primitive_family)
    out_dir = Path(args.out) / args.config / device.name
    progress = args.progress
    try:
        with progress.step(f"synthesis of {args.config} for {device.name}"):
            results = run_flow(
                design, device=device, out_dir=out_dir,
                seeds=range(args.seed, args.seed + args.seeds), freq=args.freq,
                pack=not args.no_pack, bram_min_bits=args.bram_min_bits,
                check_memories=not args.allow_lut_memories, single_step=args.single_step,
                router=args.router, cache_dir=args.cache, progress=progress.note)
    except DoesNotFit as exc:
        print(f"zeroskip synth: error: {exc}", file=sys.stderr)
        return EXIT_DOES_NOT_FIT
    except MemoryMappingError as exc:
        print(f"zeroskip synth: error: {exc}", file=sys.stderr)
        return EXIT_MEMORY_RULE
    except FlowError as exc:
        print(f"zeroskip synth: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(results_markdown(results))
    print(f"Results: {out_dir / 'results.json'}")
    return EXIT_OK
