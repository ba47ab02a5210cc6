"""A user's network from an ``.npz``: its weight matrices and optional test data, validated.

The file holds ``w0, w1, ...``, layer ``i``'s float weights of shape
``(outputs, inputs)`` (``y = W @ x``), each layer's inputs the previous
layer's outputs, and optionally ``x`` (test inputs, ``(vectors, inputs)``) and
``y`` (their integer labels). Biases (``b<i>``) are refused because the EIE
array computes ``requant(W @ x)`` without one; pickled objects are never
loaded. Every problem is a :class:`~zeroskip.errors.UserError` that names the
file and the array.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError

__all__ = ["Network", "load_npz", "load_weights", "layer_sizes", "dims"]


@dataclass(frozen=True)
class Network:
    """A float network and the data it is evaluated on.

    ``weights``: the layers' ``float64`` matrices ``(outputs, inputs)``;
    ``x``, ``y``: test inputs and labels (either may be ``None``);
    ``source``: where the network came from, in words.
    """

    weights: tuple
    x: np.ndarray | None
    y: np.ndarray | None
    source: str


def layer_sizes(weights):
    """``[inputs, outputs of layer 0, outputs of layer 1, ...]`` of a chain of matrices."""
    return [int(weights[0].shape[1])] + [int(w.shape[0]) for w in weights]


def dims(sizes):
    """The one way zeroskip writes layer dimensions: ``inputs -> outputs`` (``64 -> 256``)."""
    return " -> ".join(str(int(s)) for s in sizes)


def load_npz(path, what):
    """Open ``path`` as an ``.npz`` of plain arrays; ``what`` names the file in messages."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{what} {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"{what} {str(path)!r} is a folder, not an .npz file") from None
    except ValueError as exc:
        raise UserError(f"{what} {str(path)!r} is not a NumPy .npz of plain arrays "
                        f"(pickled objects are not loaded): {exc}") from None
    except OSError as exc:
        raise UserError(f"{what} {str(path)!r} cannot be read as .npz: {exc}") from None
    if not hasattr(archive, "files"):
        raise UserError(f"{what} {str(path)!r} holds a single array, not an .npz archive")
    return archive


def _array(archive, name, path):
    try:
        return archive[name]
    except ValueError as exc:
        raise UserError(f"array {name!r} in {str(path)!r} cannot be loaded without "
                        f"pickle: {exc}") from None


def _matrix(archive, name, path, previous):
    w = _array(archive, name, path)
    if w.dtype == np.bool_ or not (np.issubdtype(w.dtype, np.floating)
                                   or np.issubdtype(w.dtype, np.integer)):
        raise UserError(f"array {name!r} in {str(path)!r} must hold numbers, not dtype {w.dtype}")
    if w.ndim != 2 or 0 in w.shape:
        raise UserError(f"array {name!r} in {str(path)!r} must be a non-empty 2-D "
                        f"(outputs, inputs) matrix, not shape {w.shape}")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise UserError(f"array {name!r} in {str(path)!r} holds non-finite values")
    if previous is not None and w.shape[1] != previous.shape[0]:
        raise UserError(f"array {name!r} in {str(path)!r} has {w.shape[1]} inputs, but the "
                        f"previous layer has {previous.shape[0]} outputs")
    return w


def load_weights(path):
    """The :class:`Network` in ``path`` (see the module docstring for the layout)."""
    path = Path(path)
    archive = load_npz(path, "weights file")
    names = set(archive.files)
    biases = sorted(n for n in names if n.startswith("b") and n[1:].isdigit())
    if biases:
        raise UserError(f"weights file {str(path)!r} has biases ({', '.join(biases)}); the EIE "
                        f"array computes requant(W @ x) without a bias, so train without one")
    weights = []
    while f"w{len(weights)}" in names:
        weights.append(_matrix(archive, f"w{len(weights)}", path,
                               weights[-1] if weights else None))
    if not weights:
        raise UserError(f"weights file {str(path)!r} has no layer arrays (expected w0, w1, ...; "
                        f"found {', '.join(sorted(names)) or 'nothing'})")
    unknown = sorted(names - {f"w{i}" for i in range(len(weights))} - {"x", "y"})
    if unknown:
        raise UserError(f"weights file {str(path)!r} has unexpected arrays: "
                        f"{', '.join(unknown)} (layers must be numbered w0, w1, ... without gaps)")
    x = y = None
    if "x" in names:
        x = _array(archive, "x", path)
        if (x.ndim != 2 or x.shape[1] != weights[0].shape[1] or x.shape[0] == 0
                or x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number)):
            raise UserError(f"array 'x' in {str(path)!r} must be numeric with shape (vectors, "
                            f"{weights[0].shape[1]}), not {x.dtype} {x.shape}")
        x = x.astype(np.float64)
        if not np.all(np.isfinite(x)):
            raise UserError(f"array 'x' in {str(path)!r} holds non-finite values")
    if "y" in names:
        if x is None:
            raise UserError(f"array 'y' (labels) in {str(path)!r} needs the inputs 'x' as well")
        y = _array(archive, "y", path)
        if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise UserError(f"array 'y' in {str(path)!r} must be integer labels of shape "
                            f"({x.shape[0]},), not {y.dtype} {y.shape}")
        y = y.astype(np.int64)
    return Network(weights=tuple(weights), x=x, y=y, source=f"user weights from {path}")
