"""Training and pruning: the built-in MLP on the digits set, and the pruning schedule.

The built-in network is a ReLU MLP trained on scikit-learn's bundled 8x8
digits (no download), with a bias in every layer unless asked for none. A
network here is a tuple of float matrices and one flag per layer saying
whether its last column is a bias (:mod:`zeroskip.weights`); pruning treats a
bias column as a column, as EIE stores it. Pruning is by magnitude; with
fine-tuning it is
iterative (a geometric schedule of densities, a few epochs of training after
each step and a longer one at the end), without it one step. The classifier
layer is small and sensitive, so it keeps at least
:data:`CLASSIFIER_MIN_DENSITY` while the other layers go to the target.

Fine-tuning needs training data; the only data zeroskip has is the digits set,
so a user's network is fine-tuned only when asked (``--finetune``) and only if
it has the digits' 64 inputs and 10 outputs.
"""

import contextlib
from dataclasses import dataclass

import numpy as np

from sw_model.eie_format import check_bias_flags
from sw_model.prune import prune_magnitude
from sw_model.train import Mlp, iterative_prune, load_digits_dataset, train

from .errors import UserError
from .report import pct
from .weights import dims, layer_sizes

__all__ = [
    "HIDDEN", "CLASSIFIER_MIN_DENSITY", "EPOCHS", "FINETUNE_EPOCHS", "FINAL_EPOCHS",
    "PRUNE_STEPS", "PRUNE_START", "DIGITS_INPUTS", "DIGITS_CLASSES",
    "PrunedNetwork", "digits", "check_finetune", "train_builtin", "pruning_schedule",
    "layer_density", "prune_network", "accuracy", "one_blas_thread",
]

#: Hidden widths of the built-in MLP (64 pixels in, 10 classes out).
HIDDEN = (256, 128)
#: The classifier (last) layer keeps at least this density.
CLASSIFIER_MIN_DENSITY = 0.4
#: Epochs of training of the built-in MLP from scratch.
EPOCHS = 60
#: Epochs of fine-tuning after each pruning step.
FINETUNE_EPOCHS = 20
#: Epochs of gentler fine-tuning at the final density.
FINAL_EPOCHS = 40
#: Steps of the iterative pruning schedule and the density of its first step.
PRUNE_STEPS = 7
PRUNE_START = 0.6
#: Inputs and classes of the digits set.
DIGITS_INPUTS = 64
DIGITS_CLASSES = 10


@dataclass(frozen=True)
class PrunedNetwork:
    """A network after pruning.

    ``dense``: the weights before pruning; ``weights``: after; ``history``:
    ``[(density over all layers, digits test accuracy)]`` from the dense model
    to the final one when the network was fine-tuned, else ``None``;
    ``steps``: what was done to the network, one sentence each, for the report;
    ``bias``: one ``bool`` per layer, whether its last column is a bias
    (``None``, the default, means none; stored as a tuple).
    """

    dense: tuple
    weights: tuple
    history: list | None
    steps: tuple
    bias: tuple | None = None

    def __post_init__(self):
        object.__setattr__(self, "bias", check_bias_flags(self.bias, len(self.weights)))

    def mlp(self, weights):
        """``weights`` (``dense``, ``weights`` or a copy) as an ``Mlp`` with these biases."""
        return Mlp(list(weights), bias=self.bias)


def accuracy(predicted, labels):
    """Fraction of ``predicted`` equal to ``labels``; ``None`` without labels."""
    if labels is None:
        return None
    return float(np.mean(np.asarray(predicted) == np.asarray(labels)))


def one_blas_thread():
    """A context in which NumPy's BLAS uses one thread.

    The matrices here are small: several BLAS threads cost far more in
    synchronisation than they win (training is many times slower with two),
    and they would compete with the Verilator builds and the synthesis.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # it comes with scikit-learn, without which nothing is trained
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def digits(seed):
    """The digits set, split into training and test images with ``seed``."""
    return load_digits_dataset(seed=seed)


def check_finetune(weights, bias=None):
    """Raise :class:`UserError` unless ``weights`` can be fine-tuned on the digits set."""
    sizes = layer_sizes(weights, bias)
    if sizes[0] != DIGITS_INPUTS or sizes[-1] != DIGITS_CLASSES:
        raise UserError(f"--finetune trains on the digits set, which needs {DIGITS_INPUTS} "
                        f"inputs and {DIGITS_CLASSES} outputs; the network is {dims(sizes)}")


def train_builtin(data, *, hidden, seed, epochs=EPOCHS, bias=True):
    """The built-in MLP ``inputs -> hidden... -> classes``, trained on ``data``; an ``Mlp``.

    With ``bias`` (the default) every layer has a bias; ``bias=False`` trains
    the bias-free network of earlier versions.
    """
    mlp = Mlp.init((data.n_features, *hidden, data.n_classes), seed=seed, bias=bias)
    train(mlp, data, epochs=epochs, lr=3e-3, seed=seed)
    return mlp


def pruning_schedule(density, steps=PRUNE_STEPS, start=PRUNE_START):
    """Densities of iterative pruning: geometric from ``start`` down to ``density``."""
    if density >= start:
        return [density]
    ratio = (density / start) ** (1 / (steps - 1))
    return [start * ratio ** k for k in range(steps - 1)] + [density]


def layer_density(layer, n_layers, density):
    """Target density of layer number ``layer`` of ``n_layers`` for a network target."""
    if n_layers > 1 and layer == n_layers - 1:
        return max(density, CLASSIFIER_MIN_DENSITY)
    return density


def _overall_density(weights):
    return sum(int(np.count_nonzero(w)) for w in weights) / sum(w.size for w in weights)


def prune_network(weights, *, density, finetune_data, seed, progress,
                  finetune_epochs=FINETUNE_EPOCHS, final_epochs=FINAL_EPOCHS, bias=None):
    """Prune ``weights`` to ``density``; fine-tune on ``finetune_data`` if it is given.

    Returns a :class:`PrunedNetwork`. Weights already sparser than a layer's
    target keep all their nonzeros. ``bias`` (one ``bool`` per layer, ``None``
    for none) marks the matrices whose last column is a bias: it is ranked
    and pruned with the weights, and trained with them when fine-tuning.
    """
    dense = tuple(np.array(w, dtype=np.float64) for w in weights)
    n_layers = len(dense)
    bias = check_bias_flags(bias, n_layers)
    minimum = (f" (the classifier layer keeps at least {pct(CLASSIFIER_MIN_DENSITY, 0)})"
               if n_layers > 1 else "")
    if any(bias):
        minimum += "; biases ranked and pruned with the weights, as the last column"

    def prune(layer, w, target):
        return prune_magnitude(w, layer_density(layer, n_layers, target))

    if finetune_data is None:
        pruned = tuple(prune(i, w, density) for i, w in enumerate(dense))
        step = (f"pruned by magnitude in one step to {pct(density, 1)} target density{minimum}; "
                f"not fine-tuned")
        return PrunedNetwork(dense=dense, weights=pruned, history=None, steps=(step,),
                             bias=bias)

    data = finetune_data
    mlp = Mlp([w.copy() for w in dense], bias=bias)
    history = [(_overall_density(mlp.weights), mlp.accuracy(data.x_test, data.y_test))]

    def note(step, target, acc):
        history.append((_overall_density(mlp.weights), acc))
        progress.note(f"target density {pct(target, 1)}: {pct(history[-1][0], 1)} of all "
                      f"weights kept, digits test accuracy {pct(acc)}")

    schedule = pruning_schedule(density)
    iterative_prune(mlp, data, schedule=schedule, prune=prune, finetune_epochs=finetune_epochs,
                    lr=2e-3, seed=seed, progress=note)
    # A longer, gentler fine-tune at the final density recovers most of what
    # the last pruning steps cost.
    train(mlp, data, epochs=final_epochs, lr=1e-3, seed=seed + len(schedule) + 1)
    history.append((_overall_density(mlp.weights), mlp.accuracy(data.x_test, data.y_test)))
    progress.note(f"after {final_epochs} more epochs: digits test accuracy {pct(history[-1][1])}")
    steps = "one step" if len(schedule) == 1 else f"{len(schedule)} steps"
    step = (f"pruned by magnitude in {steps} to {pct(density, 1)} target density{minimum}, "
            f"fine-tuned on the digits training set for {finetune_epochs} epochs after each "
            f"step and {final_epochs} more at the end")
    return PrunedNetwork(dense=dense, weights=tuple(mlp.weights), history=history,
                         steps=(step,), bias=bias)
