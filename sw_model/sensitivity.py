"""Per-layer sensitivity to pruning, and non-uniform per-layer densities from it.

Layers do not tolerate pruning equally: a small classifier layer loses
accuracy long before a wide hidden layer does (Han et al., "Learning both
weights and connections", 2015, Fig. 6). The sensitivity analysis measures
this directly: every layer is pruned *alone*, over a sweep of densities, with
any criterion and granularity (a ``prune(layer, w, density)`` callable, as
:func:`sw_model.prune.make_pruner` and :func:`sw_model.criteria.criterion_pruner`
make them), and the accuracy is measured on a held-out set.

From the drops, one rule gives per-layer densities for a global target:

1. **tolerated density** (:func:`tolerated_densities`): for every layer, the
   smallest density of the sweep whose accuracy drop is at most
   ``threshold``, i.e. the largest pruning ratio the layer stands alone; 1.0
   when no density of the sweep is tolerated;
2. **scaled to the target** (:func:`allocate_densities`): every layer's
   density is its tolerated density times one common factor ``s``, capped at
   1, with ``s`` chosen so that the kept weights are exactly ``target`` of
   all weights: ``sum_i min(1, s * b_i) * n_i = target * sum_i n_i``
   (``b_i`` the tolerated density and ``n_i`` the size of layer ``i``). The
   ratios between the layers' densities stay those the sweep found, except
   for layers capped at 1.

:func:`layerwise_pruner` applies the rule at every step of
:func:`sw_model.train.iterative_prune`: a schedule of global densities
becomes, at each step, the per-layer densities allocated for that step's
global density. ``docs/pruning.md`` is the guide.
"""

import math
from dataclasses import dataclass

import numpy as np

from .fixed import check_int
from .train import Dataset, Mlp, train

__all__ = ["Sensitivity", "copy_mlp", "layer_sensitivity", "tolerated_densities",
           "allocate_densities", "layerwise_pruner"]


def _is_real(value):
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def _check_fraction(name, value, *, zero=False):
    """A real number in ``(0, 1]`` (``[0, 1]`` with ``zero``); returned as a float."""
    if not _is_real(value):
        raise TypeError(f"{name} must be a number, not {value!r}")
    low_ok = value >= 0 if zero else value > 0
    if not (low_ok and value <= 1):       # NaN fails both
        interval = "[0, 1]" if zero else "(0, 1]"
        raise ValueError(f"{name} must be in the range {interval}, not {value!r}")
    return float(value)


def _check_sequence(name, values):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence, not {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    return values


def _check_densities(name, values):
    """A non-empty sequence of distinct densities in ``(0, 1]``, as a tuple."""
    values = tuple(_check_fraction(f"{name}[{i}]", v)
                   for i, v in enumerate(_check_sequence(name, values)))
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat a density, not {values!r}")
    return values


def copy_mlp(mlp):
    """A deep copy of ``mlp``: weights, masks and scale factors, so pruning it leaves ``mlp``."""
    if not isinstance(mlp, Mlp):
        raise TypeError(f"mlp must be an Mlp, not {mlp!r:.80}")
    scales = None if mlp.scales is None else [g.copy() for g in mlp.scales]
    return Mlp([np.array(w, dtype=np.float64) for w in mlp.weights],
               [np.array(m, dtype=bool) for m in mlp.masks], mlp.bias, scales)


@dataclass(frozen=True)
class Sensitivity:
    """Accuracy of a network with one layer pruned, for every layer and density.

    ``layers``: the layer numbers pruned (one at a time); ``densities``: the
    sweep, in the order given; ``baseline``: the accuracy of the network
    before pruning; ``accuracy[i, j]``: with layer ``layers[i]`` alone pruned
    to ``densities[j]``.
    """

    layers: tuple
    densities: tuple
    baseline: float
    accuracy: np.ndarray

    @property
    def drop(self):
        """``baseline - accuracy``: the accuracy each pruning costs (positive = worse)."""
        return self.baseline - self.accuracy


def layer_sensitivity(mlp, data, *, prune, densities, layers=None, finetune_epochs=0,
                      lr=1e-3, seed=0, progress=None):
    """Prune every layer of ``mlp`` alone at every density; a :class:`Sensitivity`.

    ``prune`` makes the pruning callable for a network: ``prune(net)`` returns
    ``prune_layer(layer, w, density)`` for that network (e.g.
    ``lambda net: criterion_pruner("obd", net, granularity=..., x=x)``, or
    ``lambda net: make_pruner(...)``), because criteria that read the network
    must read the copy being pruned. For every layer of ``layers`` (default:
    all) and every density, a fresh copy of ``mlp`` has that layer pruned,
    is fine-tuned for ``finetune_epochs`` (0, the default, is one-shot
    pruning: the usual sensitivity analysis) on ``data.x_train`` with the
    mask held, and is measured on ``data.x_test``, which should be a held-out
    validation set, not the final test set: the densities chosen from it are
    a decision. ``mlp`` is not changed. ``progress(layer, density,
    accuracy)`` is called after every measurement when given.
    """
    if not isinstance(mlp, Mlp):
        raise TypeError(f"mlp must be an Mlp, not {mlp!r:.80}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a Dataset, not {data!r:.80}")
    if not callable(prune):
        raise TypeError(f"prune must be callable, not {prune!r}")
    densities = _check_densities("densities", densities)
    n_layers = len(mlp.weights)
    if layers is None:
        layers = tuple(range(n_layers))
    else:
        layers = tuple(check_int(f"layers[{i}]", layer, lo=0, hi=n_layers - 1)
                       for i, layer in enumerate(_check_sequence("layers", layers)))
        if len(set(layers)) != len(layers):
            raise ValueError(f"layers must not repeat a layer, not {layers!r}")
    check_int("finetune_epochs", finetune_epochs, lo=0)
    check_int("seed", seed, lo=0)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, not {progress!r}")
    baseline = mlp.accuracy(data.x_test, data.y_test)
    accuracy = np.zeros((len(layers), len(densities)))
    for i, layer in enumerate(layers):
        for j, density in enumerate(densities):
            net = copy_mlp(mlp)
            pruned = np.asarray(prune(net)(layer, net.weights[layer], density),
                                dtype=np.float64)
            net.weights[layer] = pruned
            net.masks[layer] = net.masks[layer] & (pruned != 0)
            if finetune_epochs:
                train(net, data, epochs=finetune_epochs, lr=lr, seed=seed)
            accuracy[i, j] = net.accuracy(data.x_test, data.y_test)
            if progress is not None:
                progress(layer, density, accuracy[i, j])
    accuracy.setflags(write=False)
    return Sensitivity(layers=layers, densities=densities, baseline=baseline,
                       accuracy=accuracy)


def tolerated_densities(sensitivity, *, threshold):
    """Every layer's smallest density of the sweep whose accuracy drop is at most ``threshold``.

    ``threshold`` is an accuracy fraction in ``[0, 1]`` (0.01 is one
    percentage point). A layer none of whose densities is tolerated gets 1.0
    (it is not pruned). Returns a tuple, one density per
    ``sensitivity.layers``. The drop of each density is taken on its own: a
    density is tolerated even if a larger one of the sweep was not (the
    measurements are noisy, and the rule does not smooth them).
    """
    if not isinstance(sensitivity, Sensitivity):
        raise TypeError(f"sensitivity must be a Sensitivity, not {sensitivity!r:.80}")
    threshold = _check_fraction("threshold", threshold, zero=True)
    densities = np.asarray(sensitivity.densities)
    out = []
    for drops in sensitivity.drop:
        tolerated = densities[drops <= threshold]
        out.append(float(tolerated.min()) if tolerated.size else 1.0)
    return tuple(out)


def allocate_densities(base, sizes, *, target):
    """Per-layer densities ``min(1, s * base[i])`` that keep ``target`` of all the weights.

    ``base``: one density in ``(0, 1]`` per layer (e.g. from
    :func:`tolerated_densities`): their ratios are kept; ``sizes``: the
    weights of every layer (positive integers); ``target``: the global
    density in ``(0, 1]``. The common factor ``s`` solves
    ``sum_i min(1, s * base[i]) * sizes[i] = target * sum(sizes)`` exactly:
    the left side grows with ``s`` piecewise linearly, a layer leaving the
    sum's linear part when it reaches 1, so the layers are capped in order of
    decreasing ``base`` until the rest can carry what is left. Returns a
    tuple of floats.
    """
    base = [_check_fraction(f"base[{i}]", b) for i, b in enumerate(_check_sequence("base", base))]
    sizes = [check_int(f"sizes[{i}]", n, lo=1) for i, n in enumerate(_check_sequence("sizes",
                                                                                      sizes))]
    if len(sizes) != len(base):
        raise ValueError(f"sizes must have one entry per layer of base ({len(base)}), not "
                         f"{len(sizes)}")
    target = _check_fraction("target", target)
    wanted = target * sum(sizes)
    order = sorted(range(len(base)), key=lambda i: -base[i])
    scale = math.inf      # every layer capped: only for target 1, up to rounding
    for capped in range(len(order)):
        # The first ``capped`` layers of ``order`` at 1, the others scaled.
        fixed = sum(sizes[i] for i in order[:capped])
        slope = sum(base[i] * sizes[i] for i in order[capped:])
        candidate = (wanted - fixed) / slope
        # No uncapped layer above 1 at this scale: the solution (the capped
        # layers have bases at least that of the first uncapped one).
        if candidate * base[order[capped]] <= 1:
            scale = candidate
            break
    return tuple(min(1.0, scale * b) for b in base)


def layerwise_pruner(prune, base, sizes):
    """``prune`` with per-layer densities: the ``prune`` of :func:`sw_model.train.iterative_prune`.

    ``prune(layer, w, density)`` prunes one layer (any criterion and
    granularity); the result takes a *global* density ``g``, as the schedule
    of :func:`sw_model.train.iterative_prune` gives it, and prunes layer
    ``i`` to ``allocate_densities(base, sizes, target=g)[i]``. With equal
    ``base`` values it is uniform pruning; with :func:`tolerated_densities`
    it is the sensitivity rule of this module.
    """
    if not callable(prune):
        raise TypeError(f"prune must be callable, not {prune!r}")
    allocate_densities(base, sizes, target=1.0)     # checks base and sizes now
    base, sizes = tuple(base), tuple(sizes)

    def layerwise(layer, w, density):
        layer = check_int("layer", layer, lo=0, hi=len(base) - 1)
        return prune(layer, w, allocate_densities(base, sizes, target=density)[layer])

    return layerwise
