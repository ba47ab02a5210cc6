"""Pruning: turn a dense float weight matrix into a sparse one.

This runs before quantization, so it works on float64 weights. A weight
matrix ``w`` has shape ``(outputs, inputs)`` (EIE's layout, ``y = w @ x``); a
layer with a bias carries it as the last column.

One mechanism does all the pruning here: :func:`prune_by_score` turns a
*score* array (higher = more important, from any criterion of
:mod:`sw_model.criteria`, or simply ``abs(w)``) into a boolean *mask* at a
chosen *granularity*:

* :class:`Element`: single weights (unstructured), over the matrix or per row;
* :class:`Row` and :class:`Column`: whole rows (output neurons) or columns
  (inputs);
* :class:`Block`: ``rows x cols`` tiles, e.g. ``k x 1`` vectors or ``k x k``
  blocks;
* :class:`NM`: N:M structured sparsity along the input dimension, per row or
  vector-wise (blocks of rows sharing their kept positions);
* :class:`Balanced`: load-balance-aware pruning for EIE's row-interleaved PEs
  (ESE, FPGA 2017), per PE or per PE and column.

A granularity cuts the matrix into *units* (a weight, a row, a block...); the
scores of a unit's weights are combined into the unit's score by an Lp norm
(``norm``, 1 by default: the sum), and the units with the largest scores are
kept. Ties are broken deterministically in favour of the lower index
(row-major), so the same input always gives the same mask.

A target density becomes a count of kept units with round-half-up:
``count = floor(density * size + 0.5)`` where ``size`` is the number of units
the count applies to (all of them, a row's, a group's of ``m``, a PE's...).
"Kept" means "not forced to 0": a weight that was already 0 and happens to be
kept stays 0.

The magnitude pruners of earlier versions are this mechanism with
``scores = abs(w)``, and return the pruned matrix rather than the mask:

* :func:`prune_magnitude`: unstructured magnitude pruning (Deep Compression);
* :func:`prune_nm`: N:M pruning with ``n`` and ``m`` given;
* :func:`prune_balanced`: PE-balanced magnitude pruning.

Around it: :func:`group_norms` (the unit scores of a matrix),
:func:`soft_threshold` and :func:`group_soft_threshold` (the proximal steps
of L1 and group-lasso regularisation, used by :func:`sw_model.train.train`),
:func:`make_pruner` (a criterion and a granularity as the ``prune`` callable
of :func:`sw_model.train.iterative_prune`). Removing pruned neurons from a
network, which shrinks two matrices each, is
:func:`sw_model.train.remove_neurons`. ``docs/pruning.md`` is the guide.
"""

import math
from dataclasses import dataclass

import numpy as np

from .fixed import check_int, is_real_dtype

__all__ = [
    "check_weights", "density", "prune_magnitude", "prune_nm", "prune_balanced",
    "Granularity", "Element", "Row", "Column", "Block", "NM", "Balanced", "as_granularity",
    "as_groups", "group_norms", "prune_by_score", "soft_threshold", "group_soft_threshold",
    "make_pruner",
]


def check_weights(w):
    """Validate a real-valued 2-D weight matrix; return it as ``float64``."""
    arr = np.asarray(w)
    if not is_real_dtype(arr.dtype):
        raise TypeError(f"w must be a real-valued array, not an array of dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"w must be a 2-D matrix, not shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("w must hold only finite values")
    return arr


def _check_number(name, value):
    """Raise :class:`TypeError` unless ``value`` is a real number (``bool`` is not)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")


def _check_density(value):
    _check_number("density", value)
    if not 0.0 < float(value) <= 1.0:
        raise ValueError(f"density must be in the range (0, 1], not {value!r}")
    return float(value)


def _check_norm(norm):
    """An Lp norm's ``p``: a number from 1 up, ``math.inf`` for the maximum."""
    _check_number("norm", norm)
    if not norm >= 1:       # NaN fails too
        raise ValueError(f"norm must be at least 1 (p of an Lp norm, inf for the maximum), "
                         f"not {norm!r}")
    return float(norm)


def _check_threshold(threshold, shape, each):
    """A threshold: a finite number at least 0, or an array of them of ``shape`` (``each``)."""
    if not isinstance(threshold, np.ndarray):
        _check_number("threshold", threshold)
        if not (math.isfinite(threshold) and threshold >= 0):
            raise ValueError(f"threshold must be a finite number at least 0, not {threshold!r}")
        return float(threshold)
    if not is_real_dtype(threshold.dtype):
        raise TypeError(f"threshold must be a number or a real-valued array, not an array of "
                        f"dtype {threshold.dtype}")
    if threshold.shape != shape:
        raise ValueError(f"threshold must be a number or an array of shape {shape} ({each}), "
                         f"not shape {threshold.shape}")
    bad = ~(np.isfinite(threshold) & (threshold >= 0))
    if bad.any():
        raise ValueError(f"threshold must hold finite values at least 0, but holds "
                         f"{float(threshold[bad][0])!r}")
    return threshold.astype(np.float64)


def _check_scores(scores):
    """Scores are finite, non-negative reals, in a vector or a matrix; returned as float64."""
    arr = np.asarray(scores)
    if not is_real_dtype(arr.dtype):
        raise TypeError(f"scores must be a real-valued array, not an array of dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"scores must be a vector (one score per row or column) or a 2-D "
                         f"matrix, not shape {arr.shape}")
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(f"scores must hold only finite values, but holds "
                         f"{float(arr[~finite][0])!r}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"scores must be at least 0 (higher means more important), but holds "
                         f"{float(arr.min())!r}")
    return arr


def _keep_count(density, size):
    """Weights to keep out of ``size``: round half up of ``density * size``."""
    return min(size, math.floor(density * size + 0.5))


def _rank(magnitudes, axis):
    """Rank of every element along ``axis`` (0 = largest), ties to the lower index."""
    # A stable sort of the negated magnitudes puts equal values in index order.
    order = np.argsort(-magnitudes, axis=axis, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(magnitudes.shape[axis]).reshape(
        [-1 if a == axis else 1 for a in range(magnitudes.ndim)]), axis=axis)
    return ranks


def _keep_largest(units, density):
    """Keep the ``floor(density * units.size + 0.5)`` largest of all ``units``."""
    ranks = _rank(units.ravel(), axis=0).reshape(units.shape)
    return ranks < _keep_count(density, units.size)


def density(w):
    """Fraction of nonzero entries of ``w`` (0.0 for an empty array)."""
    w = np.asarray(w)
    return np.count_nonzero(w) / w.size if w.size else 0.0


# --- granularities -------------------------------------------------------------------------


class Granularity:
    """What one pruning decision keeps or removes: the base of the granularities.

    A granularity says two things about a matrix of a given shape:

    * its *tile*, ``(rows, cols)``: the matrix is cut into units of this size,
      starting at the top left; units at the right and bottom edges may be
      smaller (they hold what is left);
    * its *budget*: which units compete for the kept places, and how many
      places there are for a density (:meth:`_keep`).
    """

    def _tile(self, shape):
        raise NotImplementedError

    def _keep(self, units, density):
        """Which of the unit scores ``units`` (one per tile) are kept, at ``density``."""
        return _keep_largest(units, density)


@dataclass(frozen=True, kw_only=True)
class Element(Granularity):
    """Single weights: unstructured pruning.

    ``scope="global"`` keeps ``floor(density * size + 0.5)`` weights of the
    whole matrix; ``scope="row"`` keeps ``floor(density * n_cols + 0.5)`` of
    every row (each output neuron keeps the same number of inputs).
    """

    scope: str = "global"

    def __post_init__(self):
        if self.scope not in ("global", "row"):
            raise ValueError(f"scope must be 'global' or 'row', not {self.scope!r}")

    def _tile(self, shape):
        return 1, 1

    def _keep(self, units, density):
        if self.scope == "global":
            return _keep_largest(units, density)
        return _rank(units, axis=1) < _keep_count(density, units.shape[1])


@dataclass(frozen=True)
class Row(Granularity):
    """Whole rows: a layer's output neurons (all their inputs and their bias)."""

    def _tile(self, shape):
        return 1, shape[1]


@dataclass(frozen=True)
class Column(Granularity):
    """Whole columns: a layer's inputs (for a hidden layer, the previous layer's neurons)."""

    def _tile(self, shape):
        return shape[0], 1


@dataclass(frozen=True, kw_only=True)
class Block(Granularity):
    """Tiles of ``rows x cols`` weights: ``k x 1`` vectors, ``1 x k`` or ``k x k`` blocks.

    Partial tiles at the bottom and right edges hold what is left and compete
    with the full ones (their norm is over fewer weights).
    """

    rows: int
    cols: int

    def __post_init__(self):
        object.__setattr__(self, "rows", check_int("rows", self.rows, lo=1))
        object.__setattr__(self, "cols", check_int("cols", self.cols, lo=1))

    def _tile(self, shape):
        return self.rows, self.cols


@dataclass(frozen=True, kw_only=True)
class NM(Granularity):
    """N:M structured sparsity: ``n`` kept of every ``m`` consecutive inputs of a row.

    Groups are ``m`` consecutive columns starting at column 0; ``m`` must be a
    power of two and divide the number of columns. ``n`` comes from the
    density like every count here: ``n = floor(density * m + 0.5)`` (so 0.5
    with ``m=4`` is 2:4), and must be at least 1.

    ``block_rows`` > 1 prunes vector-wise, for
    :func:`sw_model.nm_format.compress` with the same ``block_rows``: the rows
    of a block keep the same ``n`` positions of every group, those whose
    scores over the block's rows have the largest norm; a last, shorter block
    has the rows that are left.
    """

    m: int = 4
    block_rows: int = 1

    def __post_init__(self):
        m = check_int("m", self.m, lo=1)
        if m & (m - 1):
            raise ValueError(f"m must be a power of two, not {m!r}")
        object.__setattr__(self, "m", m)
        object.__setattr__(self, "block_rows", check_int("block_rows", self.block_rows, lo=1))

    def _tile(self, shape):
        if shape[1] % self.m:
            raise ValueError(f"The number of columns ({shape[1]}) must be a multiple of m "
                             f"({self.m})")
        return self.block_rows, 1

    def _keep(self, units, density):
        n = _keep_count(density, self.m)
        if n < 1:
            raise ValueError(f"density must be at least {0.5 / self.m} for N:M with m={self.m} "
                             f"(n = floor(density * m + 0.5) must be at least 1), not {density!r}")
        blocks, cols = units.shape
        groups = units.reshape(blocks, cols // self.m, self.m)
        return (_rank(groups, axis=2) < n).reshape(units.shape)


@dataclass(frozen=True, kw_only=True)
class Balanced(Granularity):
    """Single weights, balanced over ``n_pe`` PEs that own interleaved rows.

    Row ``i`` belongs to PE ``i % n_pe`` (EIE's interleaving).

    * ``mode="pe"`` (ESE, FPGA 2017): every PE keeps the same number of
      weights, chosen by score within its own slice, so no PE has more work
      than another over the whole layer;
    * ``mode="column"``: every PE keeps the same number of weights in every
      column, so a broadcast activation gives each PE the same work and no PE
      waits for another.

    The counts are taken from the largest slice, which sets the pace of the
    whole array: with ``L = ceil(n_rows / n_pe)`` local rows,
    ``floor(density * L * n_cols + 0.5)`` per PE or ``floor(density * L + 0.5)``
    per PE and column. When ``n_rows`` is not a multiple of ``n_pe`` the PEs
    with one row fewer may hold fewer weights than that count; they then keep
    all of theirs, and the achieved density is a little below ``density``.
    PEs without rows keep nothing.
    """

    n_pe: int
    mode: str = "pe"

    def __post_init__(self):
        object.__setattr__(self, "n_pe", check_int("n_pe", self.n_pe, lo=1))
        if self.mode not in ("pe", "column"):
            raise ValueError(f"mode must be 'pe' or 'column', not {self.mode!r}")

    def _tile(self, shape):
        return 1, 1

    def _keep(self, units, density):
        rows, cols = units.shape
        local = -(-rows // self.n_pe)
        # Rows missing from the last round of PEs are filled with -inf: they
        # rank below every real weight and are cut off again at the end.
        padded = np.full((local * self.n_pe, cols), -np.inf)
        padded[:rows] = units
        # slices[p, l] is row l * n_pe + p: PE p's local row l.
        slices = padded.reshape(local, self.n_pe, cols).transpose(1, 0, 2)
        if self.mode == "pe":
            flat = slices.reshape(self.n_pe, local * cols)
            keep = (_rank(flat, axis=1) < _keep_count(density, local * cols)).reshape(
                slices.shape)
        else:
            keep = _rank(slices, axis=1) < _keep_count(density, local)
        return keep.transpose(1, 0, 2).reshape(padded.shape)[:rows]


_NAMED = {"element": Element, "row": Row, "column": Column}


def as_granularity(granularity):
    """A :class:`Granularity` from itself or from a name: ``"element"``, ``"row"``, ``"column"``."""
    if isinstance(granularity, Granularity):
        return granularity
    if isinstance(granularity, str) and granularity in _NAMED:
        return _NAMED[granularity]()
    raise TypeError(f"granularity must be 'element', 'row', 'column' or a Granularity "
                    f"(Element, Row, Column, Block, NM, Balanced), not {granularity!r}")


def as_groups(groups):
    """The groups of group lasso, a :class:`Row`, :class:`Column` or :class:`Block`.

    ``groups`` is one of those, or the name ``"row"`` or ``"column"``.
    """
    if isinstance(groups, str) and groups in ("row", "column"):
        return as_granularity(groups)
    if isinstance(groups, (Row, Column, Block)):
        return groups
    error = ValueError if isinstance(groups, (str, Granularity)) else TypeError
    raise error(f"groups must be 'row', 'column' or a Block, not {groups!r}")


def _unit_norms(magnitudes, tile, norm):
    """The Lp norm of the non-negative ``magnitudes`` of every tile; shape ``(R, C)``.

    The matrix is padded with zeros up to whole tiles; zeros add nothing to a
    norm, so an edge tile's norm is that of the weights it has.
    """
    r, c = tile
    if (r, c) == (1, 1):
        return magnitudes       # the norm of one non-negative number is that number
    rows, cols = magnitudes.shape
    n_r, n_c = -(-rows // r), -(-cols // c)
    padded = np.zeros((n_r * r, n_c * c))
    padded[:rows, :cols] = magnitudes
    tiles = padded.reshape(n_r, r, n_c, c)
    if norm == 1:
        return tiles.sum(axis=(1, 3))
    largest = tiles.max(axis=(1, 3))
    if norm == math.inf:
        return largest
    # Scaled by each tile's largest value so that x ** p cannot overflow.
    scale = np.where(largest > 0, largest, 1.0)[:, None, :, None]
    return largest * ((tiles / scale) ** norm).sum(axis=(1, 3)) ** (1 / norm)


def _expand(units, tile, shape):
    """Every unit's value repeated over its tile, cut to ``shape``: the inverse of tiling."""
    r, c = tile
    return np.repeat(np.repeat(units, r, axis=0), c, axis=1)[:shape[0], :shape[1]]


def group_norms(w, *, granularity, norm=2):
    """The Lp norm of the weights of every unit of ``granularity``, on the grid of units.

    The result has one entry per tile: shape ``w.shape`` for :class:`Element`
    and :class:`Balanced` (``abs(w)``), ``(rows, 1)`` for :class:`Row`,
    ``(1, cols)`` for :class:`Column`, ``(ceil(rows / r), ceil(cols / c))``
    for ``Block(rows=r, cols=c)``, ``(ceil(rows / block_rows), cols)`` for
    :class:`NM`. With ``norm=p``, a unit ``u`` scores
    ``(sum over u of |w|**p) ** (1/p)``; ``norm=math.inf`` is the largest
    ``|w|``. The group-lasso penalty of :func:`sw_model.train.train` is the
    sum of the ``norm=2`` values.
    """
    w = check_weights(w)
    granularity = as_granularity(granularity)
    return _unit_norms(np.abs(w), granularity._tile(w.shape), _check_norm(norm))


def prune_by_score(scores, density, *, granularity="element", norm=1, alive=None):
    """A mask keeping the most important units of a matrix, by their scores.

    ``scores``: a non-negative matrix shaped like the weights (higher = more
    important), e.g. ``abs(w)`` or :func:`sw_model.criteria.score_obd`; or a
    vector of one score per row (with ``granularity="row"``) or per column
    (``"column"``), e.g. :func:`sw_model.criteria.score_apoz`.

    ``granularity``: a :class:`Granularity` or one of the names
    ``"element"``, ``"row"``, ``"column"``. Each unit's score is the Lp norm
    (``norm``: ``p >= 1``, ``math.inf`` for the maximum) of the scores of its
    weights; a single-weight unit's score is its weight's score. ``norm=1``
    adds the scores up, which is what a criterion that estimates a loss
    increase per weight (OBD) needs; ``norm=2`` on ``abs(w)`` ranks rows,
    columns or blocks by their L2 norm.

    ``alive``: ``None``, or a boolean array shaped like ``scores`` that is
    ``False`` where a weight (row, column) is already pruned. A unit with
    nothing alive ranks below every unit that has something alive, whatever
    the scores: in iterative pruning, where many scores can be 0 (a dead
    neuron's, an unused input's), a pruned unit must not take a kept place
    from a live one at equal scores.

    Returns a ``bool`` array shaped like ``scores``: ``True`` where a weight
    (or, for a vector, a row or column) is kept. Apply it with
    ``np.where(mask, w, 0.0)``.
    """
    scores = _check_scores(scores)
    density = _check_density(density)
    granularity = as_granularity(granularity)
    norm = _check_norm(norm)
    if alive is not None:
        alive = np.asarray(alive)
        if alive.dtype != np.bool_:
            raise TypeError(f"alive must be a boolean array or None, not an array of dtype "
                            f"{alive.dtype}")
        if alive.shape != scores.shape:
            raise ValueError(f"alive must have the shape of scores {scores.shape}, not "
                             f"{alive.shape}")
    if scores.ndim == 1:
        if not isinstance(granularity, (Row, Column)):
            raise ValueError(f"A vector of scores holds one score per row or per column, so "
                             f"granularity must be Row or Column, not {granularity!r}")
        axis = 1 if isinstance(granularity, Row) else 0
        column = None if alive is None else np.expand_dims(alive, axis)
        return prune_by_score(np.expand_dims(scores, axis), density, granularity=granularity,
                              alive=column).squeeze(axis)
    tile = granularity._tile(scores.shape)
    units = _unit_norms(scores, tile, norm)
    if alive is not None:
        units = np.where(_unit_norms(alive.astype(np.float64), tile, 1.0) > 0, units, -1.0)
    return _expand(granularity._keep(units, density), tile, scores.shape)


# --- the pruners of earlier versions: scores are magnitudes ----------------------------------


def prune_magnitude(w, density, *, scope="global"):
    """Keep the largest-magnitude weights, to ``density`` of the matrix or of each row.

    ``scope="global"`` keeps ``floor(density * w.size + 0.5)`` weights of the
    whole matrix; ``scope="row"`` keeps ``floor(density * n_cols + 0.5)`` of
    every row. It is ``prune_by_score(abs(w), density,
    granularity=Element(scope=scope))`` applied to ``w``.
    """
    w = check_weights(w)
    density = _check_density(density)
    keep = prune_by_score(np.abs(w), density, granularity=Element(scope=scope))
    return np.where(keep, w, 0.0)


def prune_nm(w, n=2, m=4, *, block_rows=1):
    """N:M structured pruning: keep the ``n`` largest of every ``m`` consecutive inputs.

    Groups are ``m`` consecutive weights of a row (the input dimension, axis 1),
    starting at column 0; ``m`` must be a power of two, ``1 <= n <= m`` and the
    number of columns a multiple of ``m``.

    ``block_rows`` > 1 prunes vector-wise, for
    :func:`sw_model.nm_format.compress` with the same ``block_rows``: rows
    ``b * block_rows`` to ``(b + 1) * block_rows - 1`` keep the same ``n``
    positions of every group, those with the largest sum of magnitudes over
    the block's rows (ties to the lower position, as in a row), and drop the
    others in all of them. A last, shorter block sums over the rows it has.
    ``block_rows=1`` (the default) is per-row N:M. It is ``prune_by_score``
    with ``abs(w)``, density ``n / m`` and :class:`NM`.
    """
    w = check_weights(w)
    m = check_int("m", m, lo=1)
    if m & (m - 1):
        raise ValueError(f"m must be a power of two, not {m!r}")
    n = check_int("n", n, lo=1, hi=m)
    granularity = NM(m=m, block_rows=block_rows)
    # n / m is exact for a power-of-two m, so the count floor(n / m * m + 0.5) is n.
    return np.where(prune_by_score(np.abs(w), n / m, granularity=granularity), w, 0.0)


def prune_balanced(w, density, *, n_pe, mode="pe"):
    """Load-balance-aware magnitude pruning for rows interleaved over ``n_pe`` PEs.

    Row ``i`` belongs to PE ``i % n_pe`` (EIE's interleaving); ``mode`` is
    ``"pe"`` (equal counts per PE) or ``"column"`` (equal counts per PE and
    column). The rules, counts and rounding are those of :class:`Balanced`;
    this is ``prune_by_score(abs(w), density, granularity=Balanced(...))``
    applied to ``w``.
    """
    w = check_weights(w)
    density = _check_density(density)
    keep = prune_by_score(np.abs(w), density, granularity=Balanced(n_pe=n_pe, mode=mode))
    return np.where(keep, w, 0.0)


# --- proximal steps of the regularisers ------------------------------------------------------


def _check_real(name, x):
    arr = np.asarray(x)
    if not is_real_dtype(arr.dtype):
        raise TypeError(f"{name} must be a real-valued array, not an array of dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold only finite values")
    return arr


def soft_threshold(x, threshold):
    """The proximal step of ``threshold * sum(|x|)`` (L1): shrink every value towards 0.

    ``sign(x) * max(|x| - threshold, 0)``: values within ``threshold`` of 0
    become exactly 0, the others move ``threshold`` closer to it. ``x`` is a
    real array of any shape (weights, or a vector of scale factors);
    ``threshold`` a number, or an array shaped like ``x`` with one threshold
    per value (the proximal step in a per-weight metric, as
    :func:`sw_model.train.train` takes it with Adam).
    """
    x = _check_real("x", x)
    threshold = _check_threshold(threshold, x.shape, "one per value")
    return np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0)


def group_soft_threshold(w, threshold, *, groups):
    """The proximal step of ``threshold * sum over groups g of ||w_g||_2`` (group lasso).

    ``groups`` is ``"row"``, ``"column"`` or a :class:`Block`. Every group is
    scaled by ``max(0, 1 - threshold / ||w_g||_2)``: a group whose L2 norm is
    at most ``threshold`` becomes exactly 0 as a whole, the others keep their
    direction and lose ``threshold`` of their norm. This is how whole rows,
    columns or blocks reach zero during training, ready to be pruned.
    ``threshold`` is a number, or an array with one threshold per group, on
    the grid of :func:`group_norms` (``(rows, 1)`` for rows...).
    """
    w = check_weights(w)
    tile = as_groups(groups)._tile(w.shape)
    norms = _unit_norms(np.abs(w), tile, 2.0)
    threshold = _check_threshold(threshold, norms.shape, "one per group")
    factor = np.maximum(0.0, 1.0 - np.divide(threshold, norms, out=np.full_like(norms, np.inf),
                                             where=norms > 0))
    return w * _expand(factor, tile, w.shape)


# --- a criterion as the prune callable of iterative_prune ------------------------------------


def make_pruner(score, *, granularity="element", norm=1, layers=None, refit=None):
    """The ``prune(layer, w, density)`` of :func:`sw_model.train.iterative_prune`, from a criterion.

    ``score(layer, w)`` returns the scores of layer number ``layer`` whose
    weights are ``w`` (a matrix shaped like ``w``, or a vector of one score per
    row or column, as :func:`prune_by_score` takes them); the closures of
    :func:`sw_model.criteria.layer_scorer` are ready-made ones. The returned
    callable keeps ``density`` of the layer by :func:`prune_by_score` with
    ``granularity`` and ``norm``, and returns the pruned copy of ``w``.

    A weight that is already zero cannot come back (the fine-tuning keeps
    it at zero), so its score is taken as 0, and a unit (weight, row,
    column, block) that is all zero ranks below every live one (``alive``
    of :func:`prune_by_score`): otherwise a unit pruned at an earlier step
    could take a place from a live one.

    ``layers``: the layer numbers to prune (``None``: all); the other layers
    are returned unchanged (e.g. the output layer, for criteria that score
    hidden neurons). ``refit(layer, w, mask)``, if given, returns new weights
    for the kept places (e.g. :func:`sw_model.criteria.refit_least_squares`);
    the pruned places stay 0 whatever it returns there.
    """
    if not callable(score):
        raise TypeError(f"score must be callable, not {score!r}")
    granularity = as_granularity(granularity)
    norm = _check_norm(norm)
    if layers is not None:
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"layers must be a sequence of layer numbers or None, not {layers!r}")
        layers = frozenset(check_int(f"layers[{i}]", layer, lo=0)
                           for i, layer in enumerate(layers))
    if refit is not None and not callable(refit):
        raise TypeError(f"refit must be callable or None, not {refit!r}")

    def prune(layer, w, density):
        w = check_weights(w)
        if layers is not None and layer not in layers:
            return w
        scores = _check_scores(score(layer, w))
        if scores.ndim == 1 and isinstance(granularity, (Row, Column)):
            axis = 0 if isinstance(granularity, Row) else 1
            if scores.shape[0] != w.shape[axis]:
                kind = ("rows", "columns")[axis]
                raise ValueError(f"score({layer}, w) returned {scores.shape[0]} scores for "
                                 f"{w.shape[axis]} {kind}")
            keep = prune_by_score(scores, density, granularity=granularity,
                                  alive=w.any(axis=1 - axis))
            mask = np.broadcast_to(np.expand_dims(keep, 1 - axis), w.shape)
        else:
            alive = None
            if scores.ndim == 2:
                if scores.shape != w.shape:
                    raise ValueError(f"score({layer}, w) returned scores of shape "
                                     f"{scores.shape} for weights of shape {w.shape}")
                alive = w != 0
                scores = np.where(alive, scores, 0.0)
            # A vector reaches here only with a granularity it cannot have: an error.
            mask = prune_by_score(scores, density, granularity=granularity, norm=norm,
                                  alive=alive)
        if refit is not None:
            fitted = check_weights(refit(layer, w, mask))
            if fitted.shape != w.shape:
                raise ValueError(f"refit({layer}, w, mask) returned shape {fitted.shape} for "
                                 f"weights of shape {w.shape}")
            w = fitted
        return np.where(mask, w, 0.0)

    return prune
