"""``python -m synth``: FPGA synthesis of a named configuration with yosys and nextpnr.

    python -m synth --config eie-8pe --target ecp5-25f --out build/synth
    python -m synth --config eie-4pe --target ice40-up5k --seeds 3 --freq 50
    python -m synth --list-targets

Results land in ``OUT/CONFIG/TARGET/`` (``results.json``, ``results.md``,
nextpnr's ``seed<N>/report.json`` and the bitstreams). Exit status: 0 on
success, 2 for a usage error, 3 when the design does not fit the device, 4 when
a large memory did not map to block RAM, 1 for any other tool failure.
"""

import argparse
import sys
from pathlib import Path

from hw.generate import build, configs

from .devices import DEVICES, get_device
from .flow import DoesNotFit, FlowError, MemoryMappingError, run_flow
from .report import DEFAULT_BRAM_MIN_BITS, results_markdown


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of MHz, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text!r}")
    return value


def _natural(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text!r}")
    return value


def main(argv=None):
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m synth",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="named configuration (see `python -m hw list`)")
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
    parser.add_argument("--router", choices=["router1", "router2"],
                        help="nextpnr router (default: nextpnr's, router1)")
    parser.add_argument("--list-targets", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)

    if args.list_targets:
        for device in DEVICES.values():
            print(f"{device.name:12} {device.part:20} {device.synth_command}")
        return 0
    if args.config is None or args.target is None:
        parser.error("--config and --target are required")
    try:
        device = get_device(args.target)
    except ValueError as exc:
        parser.error(str(exc))
    table = configs()
    if args.config not in table:
        parser.error(f"unknown configuration {args.config!r}; known: "
                     f"{', '.join(table) or '(none registered yet)'}")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, not {args.seeds}")

    design = build(args.config)
    out_dir = Path(args.out) / args.config / device.name
    try:
        results = run_flow(
            design, name=args.config, device=device, out_dir=out_dir,
            seeds=range(args.seed, args.seed + args.seeds), freq=args.freq,
            pack=not args.no_pack, bram_min_bits=args.bram_min_bits,
            check_memories=not args.allow_lut_memories, single_step=args.single_step,
            router=args.router)
    except DoesNotFit as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except MemoryMappingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    except FlowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(results_markdown(results))
    print(f"Results: {out_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
