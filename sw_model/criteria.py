"""Pruning criteria: how much each weight, neuron or input of a layer matters.

A criterion returns *scores*: finite, non-negative, higher = more important.
:func:`sw_model.prune.prune_by_score` turns scores into a mask at any
granularity, combining the scores of a structure's weights by an Lp norm, so
every criterion here works with every granularity its scores fit. Scores come
in three shapes (:data:`CRITERIA` says which is which):

* ``"weight"``: a matrix shaped like the layer's weights (bias column
  included): :func:`score_magnitude`, :func:`score_obd`. Any granularity;
* ``"neuron"``: one score per output neuron (row) of a *hidden* layer:
  :func:`score_apoz`, :func:`score_slimming`. Row granularity only: they
  measure a neuron's output, not its weights;
* ``"column"``: one score per input (column) of a layer:
  :func:`score_regression`. Column granularity only.

Every layer is scored on its own, in the layout of :mod:`sw_model.train`:
``w`` is ``(outputs, inputs)``, ``(outputs, inputs + 1)`` with a bias as the
last column; a network is an :class:`sw_model.train.Mlp` and calibration
inputs ``x`` are a ``(samples, inputs)`` batch of the network's inputs (for
the regression criterion, of the layer's inputs).

:func:`layer_scorer` wraps any criterion as ``score(layer, w)``, which
:func:`sw_model.prune.make_pruner` turns into the ``prune`` callable of
:func:`sw_model.train.iterative_prune`; :func:`criterion_pruner` does both.
``docs/pruning.md`` is the guide, with a table of which criterion works at
which granularity.
"""

import numpy as np

from .fixed import check_batch, check_int
from .prune import Column, Row, as_granularity, check_weights, make_pruner
from .train import Mlp

__all__ = [
    "CRITERIA", "score_magnitude", "hessian_diagonal", "score_obd", "score_apoz",
    "score_slimming", "score_regression", "refit_least_squares", "layer_scorer",
    "criterion_pruner",
]

#: The criteria by name, and what their scores are for: ``"weight"`` (a matrix
#: like the layer's weights), ``"neuron"`` (a vector over a hidden layer's rows)
#: or ``"column"`` (a vector over a layer's inputs). ``"obd"`` uses the
#: Gauss-Newton Hessian, ``"obd-fisher"`` the empirical Fisher.
CRITERIA = {
    "magnitude": "weight",
    "obd": "weight",
    "obd-fisher": "weight",
    "apoz": "neuron",
    "slimming": "neuron",
    "regression": "column",
}

_HESSIANS = ("gauss-newton", "fisher")


def _check_mlp(mlp):
    if not isinstance(mlp, Mlp):
        raise TypeError(f"mlp must be an Mlp, not {mlp!r:.80}")


def _network_inputs(mlp, x):
    return check_batch("x", x, mlp.input_weights(0).shape[1])


def _check_labels(y, n_samples, n_classes):
    arr = np.asarray(y)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"y must be an integer array of class labels, not an array of dtype "
                        f"{arr.dtype}")
    if arr.shape != (n_samples,):
        raise ValueError(f"y must have shape ({n_samples},) (one label per sample of x), not "
                         f"{arr.shape}")
    if arr.min() < 0 or arr.max() >= n_classes:
        bad = arr.min() if arr.min() < 0 else arr.max()
        raise ValueError(f"y must hold class labels in [0, {n_classes - 1}], but holds {bad}")
    return arr.astype(np.int64)


def _check_bias(bias):
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be a bool, not {bias!r}")
    return bool(bias)


def _layer_inputs(x, w, bias):
    """A layer's calibration inputs, with the bias column's constant 1.0 appended if it has one."""
    x = check_batch("x", x, w.shape[1] - bias)
    return np.concatenate((x, np.ones((len(x), 1))), axis=1) if bias else x


def _softmax(logits):
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def score_magnitude(w):
    """Magnitude: ``s_ij = |w_ij|`` (Han et al., "Learning both weights and connections", 2015).

    The simplest saliency: a small weight contributes little to any output.
    At a coarser granularity, :func:`sw_model.prune.prune_by_score` combines
    the magnitudes of a structure with its ``norm``: ``norm=1`` ranks rows,
    columns or blocks by ``sum |w|`` (L1), ``norm=2`` by
    ``sqrt(sum w**2)`` (L2), ``norm=p`` by ``(sum |w|**p) ** (1/p)``.
    """
    return np.abs(check_weights(w))


def hessian_diagonal(mlp, x, y=None, *, hessian="gauss-newton"):
    """An estimate of the diagonal of the loss's Hessian, one matrix per layer like its weights.

    The loss is the mean softmax cross-entropy over the calibration batch
    ``x`` (``N`` samples). With ``g_n`` the gradient of sample ``n``'s loss
    with respect to the logits ``z_n`` and ``J_n`` the Jacobian of ``z_n``
    with respect to the weights:

    * ``hessian="gauss-newton"``: the diagonal of the Gauss-Newton matrix
      ``G = 1/N sum_n J_n^T H_n J_n``, where ``H_n = diag(p_n) - p_n p_n^T``
      is the exact Hessian of the cross-entropy with respect to the logits
      (``p_n`` the softmax). ``G`` is the Hessian without the term that holds
      the network's second derivatives (and the ReLUs' are 0 anyway), and is
      positive semi-definite. Since ``H_n = sum_k p_nk (p_n - e_k)(p_n -
      e_k)^T``, ``G_ii = 1/N sum_n sum_k p_nk (dl_nk/dw_i)^2`` where ``l_nk``
      is sample ``n``'s loss as if its label were ``k``: the Fisher
      information of the model's own predictive distribution, computed
      exactly by one back-propagation per class. No labels (``y=None``).
    * ``hessian="fisher"``: the empirical Fisher ``F_ii = 1/N sum_n
      (dl_n/dw_i)^2``, the mean of the squared per-sample gradients with the
      true labels ``y``. It equals the Gauss-Newton diagonal when the model's
      predictions match the labels' distribution, and is cheaper (one
      back-propagation).

    A per-sample gradient of layer ``i`` is the outer product of the
    back-propagated ``delta`` and the layer's input ``a``, so its square is
    ``delta**2`` times ``a**2``, and the mean over samples is one matrix
    product: ``h = (delta**2).T @ (a**2) / N`` (a bias column sees ``a = 1``).
    """
    _check_mlp(mlp)
    x = _network_inputs(mlp, x)
    if hessian not in _HESSIANS:
        raise ValueError(f"hessian must be 'gauss-newton' or 'fisher', not {hessian!r}")
    logits, acts, relus = mlp.forward_trace(x)
    p = _softmax(logits)
    n, k = p.shape
    if hessian == "fisher":
        if y is None:
            raise ValueError("hessian='fisher' needs the labels y of the calibration inputs")
        y = _check_labels(y, n, k)
        g = p.copy()
        g[np.arange(n), y] -= 1.0
        deltas, _ = mlp.backward(acts, relus, g)
        squares = [d ** 2 for d in deltas]
    else:
        if y is not None:
            raise ValueError("hessian='gauss-newton' takes no labels (it weighs every class by "
                             "the model's probability); pass y=None")
        # Row n * k + c: sample n with label c, whose logit gradient is p_n - e_c.
        g = (p[:, None, :] - np.eye(k)[None]).reshape(n * k, k)
        deltas, _ = mlp.backward([np.repeat(a, k, axis=0) for a in acts],
                                 [np.repeat(r, k, axis=0) for r in relus], g)
        weight = p.reshape(n * k, 1)
        squares = [(weight * d ** 2).reshape(n, k, -1).sum(axis=1) for d in deltas]
    diagonal = []
    for i, sq in enumerate(squares):
        h = sq.T @ acts[i] ** 2 / n
        if mlp.bias[i]:
            h = np.concatenate((h, sq.sum(axis=0)[:, None] / n), axis=1)
        diagonal.append(h)
    return diagonal


def score_obd(mlp, x, y=None, *, hessian="gauss-newton"):
    """Optimal Brain Damage (LeCun, Denker and Solla, 1990): ``s_i = 1/2 * h_ii * w_i**2``.

    The estimated increase of the loss when weight ``w_i`` is set to 0. The
    loss around the trained weights is expanded to second order,
    ``dL = g^T dw + 1/2 dw^T H dw``, and three approximations make it one
    number per weight:

    1. the network is at a local minimum, so the gradient term ``g^T dw`` is
       dropped (fine-tune before scoring if it is not);
    2. the Hessian is diagonal: the interactions between weights (the
       off-diagonal terms) are ignored, so the cost of removing several
       weights is taken as the sum of their costs, which is what
       ``norm=1`` in :func:`sw_model.prune.prune_by_score` adds up for a
       structure;
    3. ``H`` is not the true Hessian but the Gauss-Newton matrix or the
       empirical Fisher (:func:`hessian_diagonal`, ``hessian=``), which are
       positive semi-definite, so no score is negative, and need only
       first derivatives.

    Setting ``w_i`` to 0 is ``dw_i = -w_i``, whence ``1/2 h_ii w_i**2``.
    Returns one matrix per layer of ``mlp``, shaped like its weights.
    """
    h = hessian_diagonal(mlp, x, y, hessian=hessian)
    return [0.5 * hi * np.asarray(w, dtype=np.float64) ** 2
            for hi, w in zip(h, mlp.weights, strict=True)]


def score_apoz(mlp, x):
    """APoZ (Hu et al., "Network Trimming", 2016): ``s_j = 1 - APoZ_j`` per hidden neuron.

    ``APoZ_j``, the Average Percentage of Zeros, is the fraction of the
    calibration samples ``x`` for which hidden neuron ``j``'s output (after
    its ReLU, and its scale factor if any) is exactly 0. A neuron that is
    almost always 0 passes almost nothing on, so a high APoZ means a low
    score. Returns one vector per hidden layer (``len(mlp.weights) - 1``).
    """
    _check_mlp(mlp)
    acts = mlp.forward(_network_inputs(mlp, x))[1]
    return [1.0 - np.mean(a == 0, axis=0) for a in acts[1:-1]]


def score_slimming(mlp):
    """Network slimming (Liu et al., ICCV 2017): ``s_j = |gamma_j|`` per hidden neuron.

    ``gamma_j`` is neuron ``j``'s learnable scale factor (``Mlp.scales``),
    which multiplies its output. Training with the penalty ``scale_l1 *
    sum |gamma|`` (:func:`sw_model.train.train`, a proximal step) drives the
    factors of the neurons the network can do without to exactly 0, and
    they can then be removed without changing the outputs. Returns one
    vector per hidden layer.

    The penalty alone can be dodged by shrinking ``gamma`` and growing the
    next layer's weights to match; a little ``l1`` on the weights as well
    prevents that.
    """
    _check_mlp(mlp)
    if mlp.scales is None:
        raise ValueError("score_slimming needs an Mlp with scale factors "
                         "(Mlp.init(..., scales=True), trained with scale_l1 > 0)")
    return [np.abs(gamma) for gamma in mlp.scales]


def score_regression(w, x, *, bias=False):
    """Regression-based input selection (as ThiNet, Luo et al., ICCV 2017): one score per column.

    ``x`` is a calibration batch of the layer's *inputs* ``(samples,
    inputs)`` (with ``bias``, the last column of ``w`` is a bias, whose input
    is a constant 1.0 appended to ``x``). The layer's outputs are
    ``Y = X W^T``; keeping only the columns ``S`` and refitting their weights
    by least squares leaves the error ``min_A ||X W^T - X_S A||_F``.

    The columns are chosen by greedy forward selection: starting from none,
    each step adds the column that reduces that error most, given those
    already chosen (with ``q_j`` the part of column ``j`` orthogonal to the
    chosen ones and ``R`` the residual, the reduction is
    ``||q_j^T R||^2 / ||q_j||^2``; the columns are orthogonalised by
    modified Gram-Schmidt as they are chosen). The selection is per column,
    the same for every row, so it removes inputs (channel selection); it is
    not per row or per weight. Columns whose remaining part is negligible
    (linearly dependent on the chosen ones, or all zero) come last, in index
    order.

    The score of a column is ``n_cols - (the step at which it was chosen)``:
    the first chosen scores ``n_cols``, the last 1. The choices are nested,
    so ``prune_by_score(scores, density, granularity="column")`` keeps
    exactly the greedy selection of that size. Refit the kept weights with
    :func:`refit_least_squares`.
    """
    w = check_weights(w)
    x = _layer_inputs(x, w, _check_bias(bias))
    n_cols = w.shape[1]
    residual = x @ w.T
    basis = x.copy()
    corr = basis.T @ residual
    norms2 = (basis ** 2).sum(axis=0)
    # Below this, what is left of a column is rounding noise: it adds nothing.
    tolerance = 1e-12 * norms2.max()
    free = np.ones(n_cols, dtype=bool)
    scores = np.zeros(n_cols)
    for step in range(n_cols):
        live = free & (norms2 > tolerance)
        gain = np.where(live, (corr ** 2).sum(axis=1) / np.where(live, norms2, 1.0), -1.0)
        gain[~free] = -np.inf
        j = int(np.argmax(gain))        # ties: the lower index
        scores[j] = n_cols - step
        free[j] = False
        if live[j]:
            q = basis[:, j] / np.sqrt(norms2[j])
            a, b = basis.T @ q, residual.T @ q
            basis -= np.outer(q, a)
            residual -= np.outer(q, b)
            corr -= np.outer(a, b)
            norms2 = (basis ** 2).sum(axis=0)
    return scores


def refit_least_squares(w, x, *, mask, bias=False):
    """The weights that best reproduce a layer's outputs using only the places ``mask`` keeps.

    For every row ``r`` (an output), with ``S`` its kept columns:
    ``w'_r[S] = argmin_a ||X w_r - X_S a||_2`` (least squares,
    ``numpy.linalg.lstsq``: the minimum-norm solution when ``X_S`` has
    dependent columns), and ``w'_r = 0`` elsewhere. ``x`` is a calibration
    batch of the layer's inputs (``bias`` as in :func:`score_regression`);
    ``mask`` is a boolean matrix shaped like ``w``, any granularity. Rows
    with the same kept columns are solved together.
    """
    w = check_weights(w)
    x = _layer_inputs(x, w, _check_bias(bias))
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array, not an array of dtype {mask.dtype}")
    if mask.shape != w.shape:
        raise ValueError(f"mask must have the shape of w {w.shape}, not {mask.shape}")
    target = x @ w.T
    fitted = np.zeros_like(w)
    patterns, which = np.unique(mask, axis=0, return_inverse=True)
    which = which.ravel()
    for k, pattern in enumerate(patterns):
        rows, cols = np.flatnonzero(which == k), np.flatnonzero(pattern)
        if cols.size:
            coef = np.linalg.lstsq(x[:, cols], target[:, rows], rcond=None)[0]
            fitted[np.ix_(rows, cols)] = coef.T
    return fitted


def layer_scorer(criterion, mlp, *, x=None, y=None):
    """Criterion ``criterion`` (a name of :data:`CRITERIA`) as ``score(layer, w)``.

    ``score(layer, w)`` returns the scores of layer number ``layer`` of
    ``mlp``, computed when it is called, on the network as it is then (so
    during :func:`sw_model.train.iterative_prune`, on the network pruned so
    far); it is what :func:`sw_model.prune.make_pruner` takes. The inputs a
    criterion needs: ``x``, a calibration batch of the network's inputs, for
    ``"obd"``, ``"obd-fisher"``, ``"apoz"`` and ``"regression"`` (which
    feeds it through the network to the layer); ``y``, their labels, for
    ``"obd-fisher"`` only. Giving one that the criterion does not use is an
    error rather than silently ignored.

    The criteria that read the network (OBD, APoZ, slimming) check that
    ``w`` is ``mlp.weights[layer]``; the neuron criteria (``"apoz"``,
    ``"slimming"``) score hidden layers only.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(map(repr, CRITERIA))}, not "
                         f"{criterion!r}")
    _check_mlp(mlp)
    needs_x = criterion in ("obd", "obd-fisher", "apoz", "regression")
    needs_y = criterion == "obd-fisher"
    for name, value, needed in (("x", x, needs_x), ("y", y, needs_y)):
        if needed and value is None:
            raise ValueError(f"criterion {criterion!r} needs {name}")
        if not needed and value is not None:
            raise ValueError(f"criterion {criterion!r} does not use {name}; pass {name}=None")
    if x is not None:
        x = _network_inputs(mlp, x)
    if y is not None:
        y = _check_labels(y, len(x), mlp.weights[-1].shape[0])
    n_layers = len(mlp.weights)

    def score(layer, w):
        layer = check_int("layer", layer, lo=0, hi=n_layers - 1)
        if criterion == "magnitude":
            return score_magnitude(w)
        if criterion == "regression":
            return score_regression(w, mlp.forward(x)[1][layer], bias=mlp.bias[layer])
        if not np.array_equal(w, mlp.weights[layer]):
            raise ValueError(f"w is not mlp.weights[{layer}]: criterion {criterion!r} scores "
                             f"the network it was built on")
        if criterion == "obd":
            return score_obd(mlp, x)[layer]
        if criterion == "obd-fisher":
            return score_obd(mlp, x, y, hessian="fisher")[layer]
        if layer == n_layers - 1:
            raise ValueError(f"criterion {criterion!r} scores hidden neurons; layer {layer} is "
                             f"the output layer")
        if criterion == "apoz":
            return score_apoz(mlp, x)[layer]
        return score_slimming(mlp)[layer]

    return score


def criterion_pruner(criterion, mlp, *, granularity, norm=1, x=None, y=None, refit=False):
    """The ``prune(layer, w, density)`` of :func:`sw_model.train.iterative_prune` for a criterion.

    :func:`layer_scorer` (``criterion``, ``x``, ``y``) and
    :func:`sw_model.prune.make_pruner` (``granularity``, ``norm``) together.
    The neuron criteria prune the hidden layers only (their scores fit
    ``granularity="row"`` only); the others prune every layer. With
    ``refit``, the kept weights of every pruned layer are refitted by least
    squares (:func:`refit_least_squares`) to reproduce the layer's outputs on
    its inputs from ``x``, which ``refit`` then needs.
    """
    if not isinstance(refit, (bool, np.bool_)):
        raise TypeError(f"refit must be a bool, not {refit!r}")
    if refit and x is None:
        raise ValueError("refit needs x, a calibration batch of the network's inputs")
    granularity = as_granularity(granularity)
    kind = CRITERIA.get(criterion)
    wanted = {"neuron": Row, "column": Column}.get(kind)
    if wanted is not None and not isinstance(granularity, wanted):
        raise ValueError(f"criterion {criterion!r} scores whole {wanted.__name__.lower()}s, so "
                         f"granularity must be {wanted.__name__}, not {granularity!r}")
    score = layer_scorer(criterion, mlp, x=x, y=y)
    layers = range(len(mlp.weights) - 1) if kind == "neuron" else None
    refit_layer = None
    if refit:
        calibration = _network_inputs(mlp, x)

        def refit_layer(layer, w, mask):
            inputs = mlp.forward(calibration)[1][layer]
            return refit_least_squares(w, inputs, mask=np.array(mask), bias=mlp.bias[layer])

    return make_pruner(score, granularity=granularity, norm=norm, layers=layers,
                       refit=refit_layer)
