"""A small float MLP, trained and pruned in NumPy: where a compressed model starts.

The demo (``make demo``) trains a ReLU MLP on scikit-learn's bundled
handwritten-digits set (8x8 images, 10 classes; no download), then prunes it
iteratively with short fine-tuning. Weights are stored as EIE lays a layer
out, ``W`` of shape ``(outputs, inputs)`` with ``y = W @ x``.

A layer may have a bias, stored as EIE stores it: one more column of ``W``,
the last, whose input is the constant 1.0 (``y = W[:, :-1] @ x + W[:, -1]``;
:func:`sw_model.eie_format.append_bias_column`). Masks, pruning and the
optimizer then treat the biases as weights of that column, exactly as weight
sharing and the encoder do; ``Mlp.bias`` says which layers have one.

A hidden neuron may also have a learnable *scale factor* ``gamma`` that
multiplies its output (network slimming, Liu et al., ICCV 2017): trained with
an L1 penalty (``train(..., scale_l1=...)``), the factors of unimportant
neurons reach exactly 0, and :func:`sw_model.criteria.score_slimming` ranks
neurons by ``|gamma|``. ``Mlp.fold_scales`` moves the factors into the next
layer's weights, so the exported network has none.

Training can regularise towards structure (``l1``, ``group_lasso``); pruning
is iterative with any criterion and granularity (:func:`iterative_prune` with
:func:`sw_model.prune.make_pruner`); :func:`remove_neurons` drops pruned
neurons. ``docs/pruning.md`` is the guide.

Floats are used here on purpose: training is upstream of quantization. The
bit-exact path starts at :func:`sw_model.fixed.to_fixed`.
"""

from dataclasses import dataclass, field

import numpy as np

from .eie_format import check_bias_flags
from .fixed import check_int, is_real_dtype
from .prune import Row, as_groups, group_norms, group_soft_threshold, soft_threshold

__all__ = ["Dataset", "load_digits_dataset", "Mlp", "remove_neurons", "train", "iterative_prune"]


@dataclass(frozen=True)
class Dataset:
    """Features scaled to ``[0, 1]`` and integer labels, split into train and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self):
        return self.x_train.shape[1]

    @property
    def n_classes(self):
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def load_digits_dataset(*, test_fraction=0.25, seed=0):
    """The digits set that ships inside scikit-learn, split with a fixed seed.

    Pixel values 0..16 are scaled to ``[0, 1]``. The split is a seeded
    permutation, stratified by class, so the same seed gives the same split.
    """
    from sklearn.datasets import load_digits

    if isinstance(test_fraction, (bool, np.bool_)) or not isinstance(
            test_fraction, (int, float, np.integer, np.floating)):
        raise TypeError(f"test_fraction must be a number, not {test_fraction!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), not {test_fraction!r}")
    check_int("seed", seed, lo=0)
    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        where = rng.permutation(np.flatnonzero(y == label))
        test[where[: int(round(len(where) * test_fraction))]] = True
    return Dataset(x[~test], y[~test], x[test], y[test])


@dataclass
class Mlp:
    """An MLP: ReLU after every layer but the last (which gives logits).

    ``weights``: one float matrix per layer, ``(outputs, inputs)``, or
    ``(outputs, inputs + 1)`` for a layer with a bias (the bias column last);
    ``masks``: where the weights may be nonzero (all by default); ``bias``: a
    ``bool`` for every layer or one per layer (see
    :func:`sw_model.eie_format.check_bias_flags`),
    stored as a tuple. The default has no biases. ``scales``: ``None`` (the
    default) or one float vector per hidden layer (``len(weights) - 1`` of
    them), the scale factors ``gamma`` of that layer's neurons: hidden neuron
    ``j`` of layer ``i`` outputs ``scales[i][j] * relu(z_j)``.
    """

    weights: list
    masks: list = field(default=None)
    bias: bool | tuple = False
    scales: list | None = None

    def __post_init__(self):
        self.bias = check_bias_flags(self.bias, len(self.weights))
        for i, (w, flag) in enumerate(zip(self.weights, self.bias, strict=True)):
            if flag and np.shape(w)[1] < 2:
                raise ValueError(f"weights[{i}] has a bias, so it needs at least 2 columns "
                                 f"(the inputs and the bias column), not shape {np.shape(w)}")
        if self.masks is None:
            self.masks = [np.ones_like(w, dtype=bool) for w in self.weights]
        if self.scales is not None:
            self.scales = _check_scales(self.scales, self.weights)

    @classmethod
    def init(cls, sizes, *, seed=0, bias=False, scales=False):
        """He-initialised weights for layer sizes ``(inputs, hidden..., outputs)``.

        With ``bias``, every layer gets a bias column, initialised to 0; with
        ``scales``, every hidden neuron gets a scale factor, initialised to 1
        (the network computes what it would without). The other weights are
        the same either way.
        """
        if len(sizes) < 2:
            raise ValueError(f"sizes must name at least inputs and outputs, not {sizes!r}")
        for i, size in enumerate(sizes):
            check_int(f"sizes[{i}]", size, lo=1)
        for name, flag in (("bias", bias), ("scales", scales)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, not {flag!r}")
        rng = np.random.default_rng(seed)
        weights = [rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
        if bias:
            weights = [np.concatenate((w, np.zeros((w.shape[0], 1))), axis=1) for w in weights]
        gammas = [np.ones(n) for n in sizes[1:-1]] if scales else None
        return cls(weights, bias=bool(bias), scales=gammas)

    def input_weights(self, i):
        """Layer ``i``'s weights that multiply its inputs (without the bias column)."""
        return self.weights[i][:, :-1] if self.bias[i] else self.weights[i]

    def forward(self, x):
        """Logits for a batch ``x`` of shape ``(batch, inputs)``, and the activations.

        The activations are every layer's input (``x`` first) and the logits,
        without the bias column's constant.
        """
        logits, acts, _ = self.forward_trace(x)
        return logits, acts

    def forward_trace(self, x):
        """:meth:`forward`, and every hidden layer's ReLU output before its scale factors.

        Returns ``(logits, acts, relus)``: ``acts`` as :meth:`forward` gives
        them, ``relus[i]`` the ReLU output of hidden layer ``i`` (equal to
        ``acts[i + 1]`` without scale factors). Back-propagation
        (:meth:`backward`) needs both.
        """
        acts, relus = [x], []
        h = x
        for i, w in enumerate(self.weights):
            h = h @ self.input_weights(i).T
            if self.bias[i]:
                h = h + w[:, -1]
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
                relus.append(h)
                if self.scales is not None:
                    h = h * self.scales[i]
            acts.append(h)
        return h, acts, relus

    def backward(self, acts, relus, grad_logits):
        """Back-propagate ``grad_logits``, the loss's gradient with respect to the logits.

        ``acts`` and ``relus`` come from :meth:`forward_trace` of the same
        batch; ``grad_logits`` has one row per sample. Returns ``(deltas,
        grad_scales)``:

        * ``deltas[i]``: the gradient with respect to layer ``i``'s outputs
          before its ReLU (``z_i``), one row per sample. Layer ``i``'s weight
          gradient is ``deltas[i].T @ acts[i]`` (its bias's
          ``deltas[i].sum(axis=0)``); one sample's is the outer product of its
          rows, which is what :func:`sw_model.criteria.hessian_diagonal` squares;
        * ``grad_scales[i]``: the gradient of hidden layer ``i``'s scale
          factors, summed over the batch; ``None`` without scale factors.

        Through a hidden neuron ``a = gamma * relu(z)``:
        ``dL/dz = dL/da * gamma * [z > 0]`` and ``dL/dgamma = dL/da * relu(z)``.
        """
        n_layers = len(self.weights)
        deltas = [None] * n_layers
        grad_scales = None if self.scales is None else [None] * (n_layers - 1)
        grad = grad_logits
        for i in reversed(range(n_layers)):
            deltas[i] = grad
            if i == 0:
                break
            grad_acts = grad @ self.input_weights(i)
            if self.scales is None:
                grad = grad_acts * (acts[i] > 0)
            else:
                grad_scales[i - 1] = (grad_acts * relus[i - 1]).sum(axis=0)
                grad = grad_acts * self.scales[i - 1] * (relus[i - 1] > 0)
        return deltas, grad_scales

    def predict(self, x):
        return np.argmax(self.forward(x)[0], axis=1)

    def accuracy(self, x, y):
        return float(np.mean(self.predict(x) == y))

    @property
    def density(self):
        """Fraction of nonzero weights over all layers (bias columns included)."""
        nnz = sum(int(np.count_nonzero(w)) for w in self.weights)
        return nnz / sum(w.size for w in self.weights)

    def fold_scales(self):
        """The same network without scale factors: each ``gamma`` moves into the next layer.

        ``W @ (gamma * r) == (W * gamma) @ r``: column ``j`` of layer
        ``i + 1``'s input weights is multiplied by ``scales[i][j]`` (the bias
        column is not), so the logits are the same up to rounding, and the
        network can be exported to an engine that has no scale factors. The
        masks are copied. Without scale factors, this is a copy.
        """
        weights = [np.array(w, dtype=np.float64) for w in self.weights]
        for i, gamma in enumerate(self.scales or ()):
            weights[i + 1][:, :gamma.size] *= gamma
        return Mlp(weights, [m.copy() for m in self.masks], self.bias)

    def remove_neurons(self, keep):
        """A smaller copy of this network without the hidden neurons ``keep`` marks ``False``.

        ``keep`` is as :func:`remove_neurons` takes it; the weights, the masks
        and the scale factors shrink together.
        """
        weights = remove_neurons(self.weights, keep, bias=self.bias)
        masks = remove_neurons(self.masks, keep, bias=self.bias)
        scales = None if self.scales is None else [
            gamma if k is None else gamma[np.asarray(k)]
            for gamma, k in zip(self.scales, keep, strict=True)]
        return Mlp(weights, masks, self.bias, scales)


def _check_scales(scales, weights):
    """One finite float vector per hidden layer, as long as the layer has outputs; copied."""
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__len__"):
        raise TypeError(f"scales must be a sequence of vectors or None, not {scales!r}")
    if len(scales) != len(weights) - 1:
        raise ValueError(f"scales must have one vector per hidden layer ({len(weights) - 1}), "
                         f"not {len(scales)}")
    out = []
    for i, gamma in enumerate(scales):
        arr = np.asarray(gamma)
        if not is_real_dtype(arr.dtype):
            raise TypeError(f"scales[{i}] must be a real-valued array, not an array of dtype "
                            f"{arr.dtype}")
        outputs = np.shape(weights[i])[0]
        if arr.shape != (outputs,):
            raise ValueError(f"scales[{i}] must have shape ({outputs},) (the outputs of layer "
                             f"{i}), not {arr.shape}")
        arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"scales[{i}] must hold only finite values")
        out.append(arr)
    return out


def _check_matrices(matrices):
    """A sequence of 2-D real (finite) or boolean arrays, as arrays."""
    if isinstance(matrices, (str, bytes)) or not hasattr(matrices, "__len__"):
        raise TypeError(f"weights must be a sequence of matrices, not {matrices!r}")
    out = []
    for i, m in enumerate(matrices):
        arr = np.asarray(m)
        if arr.dtype != np.bool_ and not is_real_dtype(arr.dtype):
            raise TypeError(f"weights[{i}] must be a real or boolean array, not an array of "
                            f"dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"weights[{i}] must be a 2-D matrix, not shape {arr.shape}")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValueError(f"weights[{i}] must hold only finite values")
        out.append(arr)
    return out


def remove_neurons(weights, keep, *, bias=None):
    """The network without some hidden neurons: a list of smaller matrices.

    ``weights``: one matrix per layer, ``(outputs, inputs)``, or anything
    shaped like them (e.g. boolean masks); ``bias``: which layers carry a bias
    as their last column (:func:`sw_model.eie_format.check_bias_flags`).
    ``keep``: one entry per *hidden* layer (``len(weights) - 1``), a boolean
    vector over that layer's outputs (``True`` = keep the neuron), or
    ``None`` to keep them all.

    Removing neuron ``j`` of hidden layer ``i`` removes row ``j`` of
    ``weights[i]`` (its input weights and its bias) and column ``j`` of
    ``weights[i + 1]`` (its outgoing weights; the bias column stays), so the
    shapes stay consistent. The network computes the same function exactly
    when every removed neuron outputs 0 for every input, e.g. a row pruned to
    all zeros (with its bias), or a neuron whose scale factor is 0. From a
    row mask of :func:`sw_model.prune.prune_by_score`,
    ``keep = mask.all(axis=1)``; from a vector of neuron scores,
    ``prune_by_score(scores, density, granularity="row")`` is ``keep`` itself.
    """
    matrices = _check_matrices(weights)
    n_layers = len(matrices)
    bias = check_bias_flags(bias, n_layers)
    for i in range(n_layers - 1):
        inputs = matrices[i + 1].shape[1] - bias[i + 1]
        if inputs != matrices[i].shape[0]:
            raise ValueError(f"weights[{i + 1}] has {inputs} inputs but weights[{i}] has "
                             f"{matrices[i].shape[0]} outputs")
    if isinstance(keep, (str, bytes)) or not hasattr(keep, "__len__"):
        raise TypeError(f"keep must be a sequence of boolean vectors (or None), not {keep!r}")
    if len(keep) != n_layers - 1:
        raise ValueError(f"keep must have one entry per hidden layer ({n_layers - 1}), "
                         f"not {len(keep)}")
    rows = []
    for i, k in enumerate(keep):
        if k is None:
            rows.append(np.ones(matrices[i].shape[0], dtype=bool))
            continue
        k = np.asarray(k)
        if k.dtype != np.bool_:
            raise TypeError(f"keep[{i}] must be a boolean vector or None, not an array of dtype "
                            f"{k.dtype}")
        if k.shape != (matrices[i].shape[0],):
            raise ValueError(f"keep[{i}] must have shape ({matrices[i].shape[0]},) (the outputs "
                             f"of layer {i}), not {k.shape}")
        if not k.any():
            raise ValueError(f"keep[{i}] removes every neuron of hidden layer {i}; at least one "
                             f"must stay")
        rows.append(k)
    out = []
    for i, m in enumerate(matrices):
        if i < n_layers - 1:
            m = m[rows[i]]
        if i > 0:
            m = m[:, np.concatenate((rows[i - 1], np.ones(int(bias[i]), dtype=bool)))]
        out.append(np.array(m))
    return out


def _check_rate(name, value):
    """Raise unless ``value`` is a learning rate: a finite real number above 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number above 0, not {value!r}")


def _check_strength(name, value):
    """A penalty's strength: a finite real number, 0 (off) or more; returned as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number at least 0, not {value!r}")
    return float(value)


def _check_penalties(mlp, l1, group_lasso, groups, scale_l1):
    """The regularisation of :func:`train`, checked: ``(l1, group_lasso, groups, scale_l1)``."""
    l1 = _check_strength("l1", l1)
    group_lasso = _check_strength("group_lasso", group_lasso)
    groups = as_groups(groups)
    scale_l1 = _check_strength("scale_l1", scale_l1)
    if scale_l1 and mlp.scales is None:
        raise ValueError("scale_l1 needs an Mlp with scale factors (Mlp.init(..., scales=True)), "
                         "but mlp.scales is None")
    return l1, group_lasso, groups, scale_l1


def _check_model(mlp, data):
    if not isinstance(mlp, Mlp):
        raise TypeError(f"mlp must be an Mlp, not {mlp!r:.80}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a Dataset, not {data!r:.80}")


def _check_progress(progress):
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, not {progress!r}")


_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


def _adam(param, grad, m, v, step, lr):
    """One Adam step on ``param`` in place; returns the new moments ``(m, v)``."""
    m = _BETA1 * m + (1 - _BETA1) * grad
    v = _BETA2 * v + (1 - _BETA2) * grad * grad
    m_hat = m / (1 - _BETA1 ** step)
    v_hat = v / (1 - _BETA2 ** step)
    param -= lr * m_hat / (np.sqrt(v_hat) + _EPS)
    return m, v


def _adam_steps(v, step, lr):
    """Adam's step size of every parameter, ``lr / (sqrt(v_hat) + eps)``: its metric."""
    return lr / (np.sqrt(v / (1 - _BETA2 ** step)) + _EPS)


def _group_steps(v, mask, step, lr, groups):
    """Adam's step size for every group: that of the mean ``v`` over its unpruned weights."""
    live = group_norms(mask.astype(np.float64), granularity=groups, norm=1)
    total = group_norms(v * mask, granularity=groups, norm=1)
    mean = np.divide(total, live, out=np.zeros_like(total), where=live > 0)
    return _adam_steps(mean, step, lr)


def train(mlp, data, *, epochs, lr=3e-3, batch=64, seed=0, progress=None, l1=0.0,
          group_lasso=0.0, groups="row", scale_l1=0.0):
    """Train ``mlp`` in place with Adam on softmax cross-entropy, optionally regularised.

    Pruned weights (``mlp.masks`` false) stay exactly zero: their gradients and
    Adam moments are masked. A bias is trained as the weight of an input that
    is always 1.0; scale factors, if ``mlp`` has them, are trained too.
    ``progress(epoch, loss)`` is called after each epoch when given, with the
    mean cross-entropy (without the penalties).

    Regularisation, off by default (strengths 0), adds to a batch's mean
    cross-entropy:

    * ``l1 * sum |w|`` over every layer's input weights (not the biases):
      single weights go to 0;
    * ``group_lasso * sum over groups g of ||w_g||_2`` (group lasso), the
      groups being ``groups`` of every layer's input weights: ``"row"`` (a
      neuron's inputs; not in the last layer, whose rows are the network's
      outputs), ``"column"`` (an input's fan-out) or a
      :class:`sw_model.prune.Block`. Whole groups go to 0, so the structure
      that a structured pruning will cut emerges during training;
    * ``scale_l1 * sum |gamma|`` over the scale factors (network slimming;
      ``mlp`` needs them).

    The penalties are applied by proximal steps, not subgradients: a
    subgradient step would leave the weights oscillating around 0, the
    proximal step puts them at exactly 0, where pruning loses nothing. Adam's
    step is a gradient step scaled per parameter by
    ``s_i = lr / (sqrt(v_hat_i) + eps)``; after it, each penalty's proximal
    operator is applied in the same metric:

    * L1: soft thresholding of weight ``i`` by ``l1 * s_i``
      (:func:`sw_model.prune.soft_threshold`), and of scale factor ``i`` by
      ``scale_l1 * s_i``;
    * group lasso, after the L1 step: group soft thresholding of group ``g``
      by ``group_lasso * s_g`` (:func:`sw_model.prune.group_soft_threshold`),
      where ``s_g`` is Adam's step size for the mean ``v_hat`` over the
      group's unpruned weights. One step size per group is an approximation:
      the exact proximal step of a group norm in a metric that differs
      within the group has no closed form.

    At a fixed point a weight stays at 0 exactly when its mean gradient is at
    most ``l1`` in magnitude (a group when its gradient's L2 norm is at most
    ``group_lasso``, if ``v_hat`` is even over the group): the optimality
    condition of the penalised loss, so the strengths are in units of the
    loss's gradient, as with plain proximal gradient descent (0.001 to 0.03
    for the digits MLP). A parameter that does not affect the loss
    (``v_hat = 0``, e.g. the weights of an input that is always 0) goes
    straight to 0.
    """
    _check_model(mlp, data)
    check_int("epochs", epochs, lo=0)
    _check_rate("lr", lr)
    check_int("batch", batch, lo=1)
    check_int("seed", seed, lo=0)
    _check_progress(progress)
    l1, group_lasso, groups, scale_l1 = _check_penalties(mlp, l1, group_lasso, groups, scale_l1)
    rng = np.random.default_rng(seed)
    n_layers = len(mlp.weights)
    m = [np.zeros_like(w) for w in mlp.weights]
    v = [np.zeros_like(w) for w in mlp.weights]
    m_s = [np.zeros_like(g) for g in mlp.scales or ()]
    v_s = [np.zeros_like(g) for g in mlp.scales or ()]
    step = 0
    n = len(data.y_train)
    for epoch in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            x, y = data.x_train[idx], data.y_train[idx]
            logits, acts, relus = mlp.forward_trace(x)
            logits = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            total += -np.log(p[np.arange(len(y)), y] + 1e-12).sum()
            grad = p
            grad[np.arange(len(y)), y] -= 1.0
            grad /= len(y)
            deltas, grad_scales = mlp.backward(acts, relus, grad)
            step += 1
            for i in reversed(range(n_layers)):
                g_w = deltas[i].T @ acts[i]
                if mlp.bias[i]:
                    g_w = np.concatenate((g_w, deltas[i].sum(axis=0)[:, None]), axis=1)
                g_w *= mlp.masks[i]
                m[i], v[i] = _adam(mlp.weights[i], g_w, m[i], v[i], step, lr)
                inputs = mlp.input_weights(i)
                cols = inputs.shape[1]      # the bias column, if any, is not penalised
                if l1:
                    steps = _adam_steps(v[i][:, :cols], step, lr)
                    inputs[...] = soft_threshold(inputs, l1 * steps)
                if group_lasso and not (isinstance(groups, Row) and i == n_layers - 1):
                    steps = _group_steps(v[i][:, :cols], mlp.masks[i][:, :cols], step, lr, groups)
                    inputs[...] = group_soft_threshold(inputs, group_lasso * steps, groups=groups)
                mlp.weights[i] *= mlp.masks[i]
            for i, g_s in enumerate(grad_scales or ()):
                m_s[i], v_s[i] = _adam(mlp.scales[i], g_s, m_s[i], v_s[i], step, lr)
                if scale_l1:
                    steps = _adam_steps(v_s[i], step, lr)
                    mlp.scales[i] = soft_threshold(mlp.scales[i], scale_l1 * steps)
        if progress is not None:
            progress(epoch, total / n)
    return mlp


def iterative_prune(mlp, data, *, schedule, prune, finetune_epochs, lr=1e-3, seed=0,
                    progress=None, l1=0.0, group_lasso=0.0, groups="row", scale_l1=0.0):
    """Iterative pruning with any criterion, with fine-tuning after every step.

    ``schedule`` is a sequence of decreasing target densities; ``prune(layer,
    w, density)`` returns the pruned copy of layer number ``layer``'s weights:
    by magnitude (e.g. :func:`sw_model.prune.prune_magnitude`), or by any
    criterion at any granularity (:func:`sw_model.prune.make_pruner` with a
    score of :mod:`sw_model.criteria`). Layers are pruned in order, so a
    criterion that reads the network scores layer ``i`` with layers ``0`` to
    ``i - 1`` already pruned at this step. A layer's bias column is part of
    ``w`` and pruned with it, as EIE stores it. After each step the zeros
    become the masks and the network is fine-tuned for ``finetune_epochs``
    with :func:`train`, with the regularisation given (``l1``,
    ``group_lasso``, ``groups``, ``scale_l1``, as :func:`train` takes them).
    Returns the history as a list of ``(density, test accuracy after
    fine-tuning)``, the curve a user reads to choose a density.
    """
    if isinstance(schedule, (str, bytes)) or not hasattr(schedule, "__iter__"):
        raise TypeError(f"schedule must be a sequence of densities, not {schedule!r}")
    schedule = list(schedule)
    previous = 1.0
    for step, density in enumerate(schedule):
        if isinstance(density, (bool, np.bool_)) or not isinstance(
                density, (int, float, np.integer, np.floating)):
            raise TypeError(f"schedule[{step}] must be a density (a number), not {density!r}")
        if not 0 < density <= previous:
            raise ValueError(
                f"schedule must hold decreasing densities in (0, 1], but step {step} is "
                f"{density!r} after {previous!r}")
        previous = density
    _check_model(mlp, data)
    if not callable(prune):
        raise TypeError(f"prune must be callable, not {prune!r}")
    check_int("finetune_epochs", finetune_epochs, lo=0)
    _check_rate("lr", lr)
    check_int("seed", seed, lo=0)
    _check_progress(progress)
    l1, group_lasso, groups, scale_l1 = _check_penalties(mlp, l1, group_lasso, groups, scale_l1)
    history = []
    for step, density in enumerate(schedule):
        for i, w in enumerate(mlp.weights):
            pruned = np.asarray(prune(i, w, density), dtype=np.float64)
            mlp.weights[i] = pruned
            mlp.masks[i] = pruned != 0
        train(mlp, data, epochs=finetune_epochs, lr=lr, seed=seed + step + 1, l1=l1,
              group_lasso=group_lasso, groups=groups, scale_l1=scale_l1)
        acc = mlp.accuracy(data.x_test, data.y_test)
        history.append((density, acc))
        if progress is not None:
            progress(step, density, acc)
    return history
