"""Options shared by ``zeroskip demo`` and ``zeroskip compile``, and their checks.

Every check raises :class:`~zeroskip.errors.UserError` with the option's name
and the value given, before any work starts.
"""

import math
from pathlib import Path

import numpy as np

from sw_model.config import EieConfig

from .errors import UserError

__all__ = [
    "MAX_PE", "MAX_QUEUE_DEPTH", "MAX_WIDTH", "MAX_HIDDEN_LAYERS", "MAX_SEED",
    "add_array_arguments", "add_pruning_arguments", "check_int_option", "check_density",
    "check_mhz", "parse_widths", "check_out", "make_out",
]

#: Bounds of the array's parameters (those of :class:`sw_model.config.EieConfig`).
MAX_PE = 1024
MAX_QUEUE_DEPTH = 1024
#: Largest seed (NumPy's generators take any non-negative integer; this is 32 bits).
MAX_SEED = (1 << 32) - 1
#: Bounds of the built-in MLP's hidden layers.
MAX_WIDTH = 4096
MAX_HIDDEN_LAYERS = 8


def add_array_arguments(parser):
    """``--pe`` and ``--queue-depth``: the EIE array the network is compiled for."""
    parser.add_argument("--pe", dest="n_pe", type=int, default=8, metavar="N",
                        help=f"PEs of the EIE array, 1 to {MAX_PE} (default %(default)s)")
    parser.add_argument("--queue-depth", type=int, default=EieConfig().queue_depth, metavar="N",
                        help=f"activation queue depth of every PE, 1 to {MAX_QUEUE_DEPTH} "
                             f"(default %(default)s, the configuration's: 16 deep costs "
                             f"no more LUT RAM than 1 on ECP5)")


def add_pruning_arguments(parser, *, finetune_applies):
    """``--density``, ``--finetune`` and ``--seed``: what is done to the network.

    ``finetune_applies`` says in the help which networks ``--finetune`` is for.
    """
    parser.add_argument("--density", type=float, default=0.1, metavar="D",
                        help="target weight density, in (0, 1]: magnitude pruning keeps this "
                             "fraction of every layer's weights (the classifier layer at least "
                             "0.4); layers already sparser keep all their nonzeros "
                             "(default %(default)s)")
    parser.add_argument("--finetune", action="store_true",
                        help=f"{finetune_applies}prune in steps and fine-tune on the digits "
                             f"training set after each (needs 64 inputs and 10 outputs); without "
                             f"it your weights are pruned once and never trained")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of training and of the digits split (default %(default)s)")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return _is_int(value) or isinstance(value, (float, np.floating))


def check_int_option(option, value, lo, hi):
    """``value`` if it is an integer and ``lo <= value <= hi``; else a :class:`UserError`."""
    if not (_is_int(value) and lo <= value <= hi):
        raise UserError(f"{option} must be an integer from {lo} to {hi}, not {value!r}")
    return value


def check_density(value):
    """A density in ``(0, 1]`` (NaN is not in it)."""
    if not (_is_real(value) and 0 < value <= 1):
        raise UserError(f"--density must be in (0, 1], not {value!r}")
    return value


def check_mhz(option, value):
    """A clock frequency in MHz: positive, finite, at most 1000."""
    if not (_is_real(value) and math.isfinite(value) and 0 < value <= 1000):
        raise UserError(f"{option} must be a frequency in MHz above 0 and at most 1000, "
                        f"not {value!r}")
    return value


def parse_widths(option, text):
    """Comma-separated layer widths (``"256,128"``) as a tuple of ints."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise UserError(f"{option} must be comma-separated integers such as 256,128, "
                        f"not {text!r}") from None
    if not 1 <= len(widths) <= MAX_HIDDEN_LAYERS or not all(
            1 <= w <= MAX_WIDTH for w in widths):
        raise UserError(f"{option} must be 1 to {MAX_HIDDEN_LAYERS} widths, each from 1 to "
                        f"{MAX_WIDTH}, not {text!r}")
    return widths


def check_out(option, path):
    """An output folder: absent (it will be made) or a folder, never a file."""
    if not isinstance(path, (str, Path)):
        raise UserError(f"{option} must be a folder name, not {path!r}")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {str(path)!r} is a file, not a folder")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{option} {str(path)!r} is inside {str(parent)!r}, which is "
                                f"a file")
            break
    return path


def make_out(option, path):
    """Make the output folder ``path`` (checked by :func:`check_out`) and return it.

    A folder the user may not create (no permission, a read-only file system)
    is a :class:`UserError` naming the option, not a traceback.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{option} {str(path)!r} cannot be made: {exc.strerror or exc}") from None
    return path
