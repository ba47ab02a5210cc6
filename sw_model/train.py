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

Floats are used here on purpose: training is upstream of quantization. The
bit-exact path starts at :func:`sw_model.fixed.to_fixed`.
"""

from dataclasses import dataclass, field

import numpy as np

from .eie_format import check_bias_flags
from .fixed import check_int

__all__ = ["Dataset", "load_digits_dataset", "Mlp", "train", "iterative_prune"]


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
    stored as a tuple. The default has no biases.
    """

    weights: list
    masks: list = field(default=None)
    bias: bool | tuple = False

    def __post_init__(self):
        self.bias = check_bias_flags(self.bias, len(self.weights))
        for i, (w, flag) in enumerate(zip(self.weights, self.bias, strict=True)):
            if flag and np.shape(w)[1] < 2:
                raise ValueError(f"weights[{i}] has a bias, so it needs at least 2 columns "
                                 f"(the inputs and the bias column), not shape {np.shape(w)}")
        if self.masks is None:
            self.masks = [np.ones_like(w, dtype=bool) for w in self.weights]

    @classmethod
    def init(cls, sizes, *, seed=0, bias=False):
        """He-initialised weights for layer sizes ``(inputs, hidden..., outputs)``.

        With ``bias``, every layer gets a bias column, initialised to 0; the
        other weights are the same as without.
        """
        if len(sizes) < 2:
            raise ValueError(f"sizes must name at least inputs and outputs, not {sizes!r}")
        for i, size in enumerate(sizes):
            check_int(f"sizes[{i}]", size, lo=1)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be a bool, not {bias!r}")
        rng = np.random.default_rng(seed)
        weights = [rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
        if bias:
            weights = [np.concatenate((w, np.zeros((w.shape[0], 1))), axis=1) for w in weights]
        return cls(weights, bias=bool(bias))

    def input_weights(self, i):
        """Layer ``i``'s weights that multiply its inputs (without the bias column)."""
        return self.weights[i][:, :-1] if self.bias[i] else self.weights[i]

    def forward(self, x):
        """Logits for a batch ``x`` of shape ``(batch, inputs)``, and the activations.

        The activations are every layer's input (``x`` first) and the logits,
        without the bias column's constant.
        """
        acts = [x]
        h = x
        for i, w in enumerate(self.weights):
            h = h @ self.input_weights(i).T
            if self.bias[i]:
                h = h + w[:, -1]
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
            acts.append(h)
        return h, acts

    def predict(self, x):
        return np.argmax(self.forward(x)[0], axis=1)

    def accuracy(self, x, y):
        return float(np.mean(self.predict(x) == y))

    @property
    def density(self):
        """Fraction of nonzero weights over all layers (bias columns included)."""
        nnz = sum(int(np.count_nonzero(w)) for w in self.weights)
        return nnz / sum(w.size for w in self.weights)


def _check_rate(name, value):
    """Raise unless ``value`` is a learning rate: a finite real number above 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number above 0, not {value!r}")


def _check_model(mlp, data):
    if not isinstance(mlp, Mlp):
        raise TypeError(f"mlp must be an Mlp, not {mlp!r:.80}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a Dataset, not {data!r:.80}")


def _check_progress(progress):
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, not {progress!r}")


def train(mlp, data, *, epochs, lr=3e-3, batch=64, seed=0, progress=None):
    """Train ``mlp`` in place with Adam on softmax cross-entropy.

    Pruned weights (``mlp.masks`` false) stay exactly zero: their gradients and
    Adam moments are masked. A bias is trained as the weight of an input that
    is always 1.0. ``progress(epoch, loss)`` is called after each epoch when
    given.
    """
    _check_model(mlp, data)
    check_int("epochs", epochs, lo=0)
    _check_rate("lr", lr)
    check_int("batch", batch, lo=1)
    check_int("seed", seed, lo=0)
    _check_progress(progress)
    rng = np.random.default_rng(seed)
    m = [np.zeros_like(w) for w in mlp.weights]
    v = [np.zeros_like(w) for w in mlp.weights]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    step = 0
    n = len(data.y_train)
    for epoch in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            x, y = data.x_train[idx], data.y_train[idx]
            logits, acts = mlp.forward(x)
            logits = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            total += -np.log(p[np.arange(len(y)), y] + 1e-12).sum()
            grad = p
            grad[np.arange(len(y)), y] -= 1.0
            grad /= len(y)
            step += 1
            for i in reversed(range(len(mlp.weights))):
                g_w = grad.T @ acts[i]
                if mlp.bias[i]:
                    g_w = np.concatenate((g_w, grad.sum(axis=0)[:, None]), axis=1)
                if i > 0:
                    grad = (grad @ mlp.input_weights(i)) * (acts[i] > 0)
                g_w *= mlp.masks[i]
                m[i] = beta1 * m[i] + (1 - beta1) * g_w
                v[i] = beta2 * v[i] + (1 - beta2) * g_w * g_w
                m_hat = m[i] / (1 - beta1 ** step)
                v_hat = v[i] / (1 - beta2 ** step)
                mlp.weights[i] -= lr * m_hat / (np.sqrt(v_hat) + eps)
                mlp.weights[i] *= mlp.masks[i]
        if progress is not None:
            progress(epoch, total / n)
    return mlp


def iterative_prune(mlp, data, *, schedule, prune, finetune_epochs, lr=1e-3, seed=0,
                    progress=None):
    """Iterative magnitude pruning with fine-tuning after every step.

    ``schedule`` is a sequence of decreasing target densities; ``prune(layer,
    w, density)`` returns the pruned copy of layer number ``layer``'s weights
    (e.g. by :func:`sw_model.prune.prune_magnitude`); a layer's bias column is
    part of ``w`` and pruned with it, as EIE stores it. Returns the history as a list of
    ``(density, test accuracy after fine-tuning)``, the curve a user reads to
    choose a density.
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
    history = []
    for step, density in enumerate(schedule):
        for i, w in enumerate(mlp.weights):
            pruned = np.asarray(prune(i, w, density), dtype=np.float64)
            mlp.weights[i] = pruned
            mlp.masks[i] = pruned != 0
        train(mlp, data, epochs=finetune_epochs, lr=lr, seed=seed + step + 1)
        acc = mlp.accuracy(data.x_test, data.y_test)
        history.append((density, acc))
        if progress is not None:
            progress(step, density, acc)
    return history
