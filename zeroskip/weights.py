"""A user's network from an ``.npz``: its weight matrices and optional test data, validated.

The file holds ``w0, w1, ...``, layer ``i``'s float weights of shape
``(outputs, inputs)`` (``y = W @ x + b``), each layer's inputs the previous
layer's outputs; optionally ``b0, b1, ...``, layer ``i``'s biases of shape
``(outputs,)`` (any layer may have one or not); and optionally ``x`` (test
inputs, ``(vectors, inputs)``) and ``y`` (their integer labels). Pickled
objects are never loaded. Every problem is a
:class:`~zeroskip.errors.UserError` that names the file and the array.

A bias becomes what EIE makes of it: one more column of the layer's matrix,
the last, whose activation is the constant 1.0
(:func:`sw_model.eie_format.append_bias_column`). From here on a network is
those matrices and one flag per layer saying whether its last column is a
bias; pruning, weight sharing and encoding treat the bias column as a column.

Test data may also come from a file of their own (``zeroskip compile --data``,
:func:`load_test_data`): ``x`` and optionally ``y``, checked the same way.
ONNX and safetensors networks are read by :mod:`zeroskip.importers` into the
same :class:`Network`.
"""

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sw_model.eie_format import append_bias_column
from sw_model.fixed import is_real_dtype

from .errors import UserError

__all__ = ["Network", "load_npz", "load_array", "unreadable_file", "load_weights",
           "load_test_data", "layer_sizes", "bias_text", "dims"]


@dataclass(frozen=True)
class Network:
    """A float network and the data it is evaluated on.

    ``weights``: the layers' ``float64`` matrices ``(outputs, inputs)``, or
    ``(outputs, inputs + 1)`` with the bias column last for a layer with a
    bias; ``x``, ``y``: test inputs and labels (either may be ``None``);
    ``source``: where the network came from, in words; ``bias``: one ``bool``
    per layer, whether it has a bias; ``data_source``: where ``x`` and ``y``
    came from, in words.
    """

    weights: tuple
    x: np.ndarray | None
    y: np.ndarray | None
    source: str
    bias: tuple
    data_source: str = "the weights file's test data"


def layer_sizes(weights, bias=None):
    """``[inputs, outputs of layer 0, outputs of layer 1, ...]`` of a chain of matrices.

    ``bias`` (one ``bool`` per layer, or ``None`` for no biases) says which
    matrices end in a bias column, which is not an input.
    """
    first = int(weights[0].shape[1]) - int(bool(bias and bias[0]))
    return [first] + [int(w.shape[0]) for w in weights]


def bias_text(bias):
    """Which layers have a bias, in words: ``"no biases"``, ``"a bias in every layer"``, ..."""
    layers = [i for i, flag in enumerate(bias or ()) if flag]
    if not layers:
        return "no biases"
    if len(layers) == len(bias):
        return "a bias in every layer"
    return f"a bias in layer{'s' if len(layers) > 1 else ''} {', '.join(map(str, layers))}"


def dims(sizes):
    """The one way zeroskip writes layer dimensions: ``inputs -> outputs`` (``64 -> 256``)."""
    return " -> ".join(str(int(s)) for s in sizes)


def _file_in_the_way(path):
    """The nearest parent of ``path`` that exists and is a file, else ``None``."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def unreadable_file(what, path, exc):
    """The :class:`UserError` for ``OSError`` ``exc`` raised on opening ``path``."""
    if isinstance(exc, FileNotFoundError):
        return UserError(f"{what} {str(path)!r} does not exist")
    if isinstance(exc, IsADirectoryError):
        return UserError(f"{what} {str(path)!r} is a folder, not a file")
    blocker = _file_in_the_way(path)
    if isinstance(exc, NotADirectoryError) and blocker is not None:
        return UserError(f"{what} {str(path)!r} does not exist ({str(blocker)!r} is a file, "
                         f"not a folder)")
    return UserError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}")


def load_npz(path, what):
    """Open ``path`` as an ``.npz`` of plain arrays; ``what`` names the file in messages.

    A missing, empty, truncated or corrupted file, or one that is not an
    ``.npz``, is a :class:`UserError`. Members are read later, through
    :func:`load_array`, which reports a corrupted or pickled member the same way.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise unreadable_file(what, path, exc) from None
    except EOFError:
        raise UserError(f"{what} {str(path)!r} is empty, not an .npz archive") from None
    except zipfile.BadZipFile as exc:
        raise UserError(f"{what} {str(path)!r} is not a readable .npz archive (truncated or "
                        f"corrupted?): {exc}") from None
    except ValueError as exc:
        raise UserError(f"{what} {str(path)!r} is not a NumPy .npz of plain arrays "
                        f"(pickled objects are not loaded): {exc}") from None
    if not hasattr(archive, "files"):
        raise UserError(f"{what} {str(path)!r} holds a single array, not an .npz archive")
    return archive


def load_array(archive, name, path):
    """Array ``name`` of an ``.npz`` opened by :func:`load_npz`; a :class:`UserError` if unreadable.

    Members are read only now, so a corrupted member, or an object array that
    would need pickle, shows here; the message names the array and the file.
    """
    try:
        return archive[name]
    except ValueError as exc:
        if "pickle" in str(exc):
            raise UserError(f"array {name!r} in {str(path)!r} cannot be loaded without "
                            f"pickle: {exc}") from None
        raise UserError(f"array {name!r} in {str(path)!r} is not a plain NumPy array: "
                        f"{exc}") from None
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise UserError(f"array {name!r} in {str(path)!r} cannot be read (the file is "
                        f"truncated or corrupted?): {exc}") from None


def _matrix(archive, name, path, previous):
    w = load_array(archive, name, path)
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


def _bias(archive, name, path, w):
    b = load_array(archive, name, path)
    if not is_real_dtype(b.dtype):
        raise UserError(f"array {name!r} in {str(path)!r} must hold numbers, not dtype {b.dtype}")
    if b.shape != (w.shape[0],):
        raise UserError(f"array {name!r} in {str(path)!r} must be a vector of one bias per "
                        f"output, shape ({w.shape[0]},), not shape {b.shape}")
    b = b.astype(np.float64)
    if not np.all(np.isfinite(b)):
        raise UserError(f"array {name!r} in {str(path)!r} holds non-finite values")
    return b


def load_weights(path):
    """The :class:`Network` in ``path`` (see the module docstring for the layout)."""
    path = Path(path)
    with load_npz(path, "weights file") as archive:
        return _network(archive, path)


def _network(archive, path):
    names = set(archive.files)
    weights = []
    while f"w{len(weights)}" in names:
        weights.append(_matrix(archive, f"w{len(weights)}", path,
                               weights[-1] if weights else None))
    if not weights:
        raise UserError(f"weights file {str(path)!r} has no layer arrays (expected w0, w1, ...; "
                        f"found {', '.join(sorted(names)) or 'nothing'})")
    known = {f"{kind}{i}" for kind in "wb" for i in range(len(weights))}
    stray = sorted((n for n in names - known if n[:1] == "b" and n[1:].isdigit()),
                   key=lambda n: int(n[1:]))
    if stray:
        raise UserError(f"array {stray[0]!r} in {str(path)!r} is a bias for layer "
                        f"{int(stray[0][1:])}, but there is no w{int(stray[0][1:])} (the file "
                        f"has layers w0 to w{len(weights) - 1})")
    unknown = sorted(names - known - {"x", "y"})
    if unknown:
        raise UserError(f"weights file {str(path)!r} has unexpected arrays: "
                        f"{', '.join(unknown)} (layers must be numbered w0, w1, ... without gaps)")
    n_inputs = weights[0].shape[1]
    bias = tuple(f"b{i}" in names for i in range(len(weights)))
    weights = [append_bias_column(w, _bias(archive, f"b{i}", path, w)) if flag else w
               for i, (w, flag) in enumerate(zip(weights, bias, strict=True))]
    x = y = None
    if "x" in names:
        x, y = _test_data(archive, path, n_inputs)
    elif "y" in names:
        raise UserError(f"array 'y' (labels) in {str(path)!r} needs the inputs 'x' as well")
    return Network(weights=tuple(weights), x=x, y=y, source=f"user weights from {path}",
                   bias=bias)


def _test_data(archive, path, n_inputs):
    """``x`` and ``y`` (or ``None``) of an archive holding ``x``, checked for ``n_inputs``."""
    x = load_array(archive, "x", path)
    # Numeric means real: complex numbers would lose their imaginary part.
    if x.ndim != 2 or x.shape[1] != n_inputs or x.shape[0] == 0 or x.dtype.kind not in "iuf":
        raise UserError(f"array 'x' in {str(path)!r} must be numeric with shape (vectors, "
                        f"{n_inputs}), not {x.dtype} {x.shape}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise UserError(f"array 'x' in {str(path)!r} holds non-finite values")
    y = None
    if "y" in archive.files:
        y = load_array(archive, "y", path)
        if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise UserError(f"array 'y' in {str(path)!r} must be integer labels of shape "
                            f"({x.shape[0]},), not {y.dtype} {y.shape}")
        y = y.astype(np.int64)
    return x, y


def load_test_data(path, n_inputs):
    """Test inputs ``x`` and labels ``y`` (or ``None``) from the ``.npz`` ``path``.

    The file holds ``x`` (``(vectors, n_inputs)``, numbers) and optionally
    ``y`` (one integer label per vector), nothing else; ``n_inputs`` is the
    network's. Every problem is a :class:`UserError` naming the file and the array.
    """
    path = Path(path)
    with load_npz(path, "data file") as archive:
        names = set(archive.files)
        if "x" not in names:
            found = ", ".join(sorted(names)) or "nothing"
            raise UserError(f"data file {str(path)!r} has no array 'x' (test inputs, shape "
                            f"(vectors, {n_inputs})); found {found}")
        unknown = sorted(names - {"x", "y"})
        if unknown:
            raise UserError(f"data file {str(path)!r} has unexpected arrays: {', '.join(unknown)} "
                            f"(expected x and optionally y)")
        return _test_data(archive, path, n_inputs)
