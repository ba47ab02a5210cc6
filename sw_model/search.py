"""NetAdapt-style pruning search with the exact EIE cycle model as its latency oracle.

NetAdapt (Yang et al., ECCV 2018) simplifies a network step by step under a
latency budget, measuring latency rather than counting weights: every step
must remove a given latency, each layer proposes the pruning that removes it,
each proposal is fine-tuned briefly and measured, and the most accurate one
is kept. Here the latency is the EIE array's *cycles per inference*, from
zeroskip's cycle model (:mod:`sw_model.eie_cycles`), which the RTL matches
cycle for cycle; it depends on which weights are nonzero in every PE's slice
(load balance) and on which activations are zero (the array broadcasts only
nonzero ones), so it is not a function of the weight count alone.

:func:`eie_cost` is the oracle: a network as the array runs it (weights
shared through a 16-entry codebook per layer, encoded for the configuration,
activations in fixed point), its mean cycles per inference over calibration
inputs and the bits its memories hold. :func:`netadapt` is the search;
:func:`pareto_front` and :func:`fewest_cycles_within` read its results.

One step of :func:`netadapt`, from a network at ``C`` cycles:

1. the target is ``C - step_cycles``;
2. for every proposal (a criterion at a granularity) and every layer it may
   prune, a binary search on that layer's density finds the largest density
   whose network meets the target (the layer pruned alone, from the current
   network; the search halves the density interval geometrically, and its
   lower end always meets the target, so the result meets it even where the
   cycles are not monotonic in the density);
3. every such candidate is fine-tuned for ``finetune_epochs`` with its mask
   held, then its accuracy on the held-out set and its cost are measured;
   one less accurate than ``min_accuracy``, if given, is dropped;
4. the most accurate candidate becomes the network (ties: fewer cycles, then
   the lower layer, then the earlier proposal).

It stops when the cycles reach the budget, when no layer can remove
``step_cycles`` any more (at ``min_accuracy`` or better), or after
``max_steps`` steps. Fine-tuning changes which activations are zero, so a
candidate's cycles are measured again after it, and the next step starts
from that count.

Pruned neurons are removed from the computation as the array would see them:
a hidden neuron whose row is all zero outputs 0, and one whose column in the
next layer is all zero is not used, so :func:`clear_dead_neurons` zeroes both
(the function is unchanged; the array stores and broadcasts nothing for it).
"""

from dataclasses import dataclass

import numpy as np

from .codebook import share_weights
from .config import EieConfig, EieTiming
from .eie_cycles import chain_cycles
from .eie_format import check_bias_flags, check_fits, encode
from .fixed import check_batch, check_int, to_fixed
from .prune import as_granularity, check_weights, group_norms
from .sensitivity import copy_mlp
from .train import Dataset, Mlp, train

__all__ = ["EieCost", "eie_cost", "eie_oracle", "clear_dead_neurons", "Proposal", "SearchPoint",
           "netadapt", "pareto_front", "fewest_cycles_within"]


@dataclass(frozen=True)
class EieCost:
    """What a network costs on an EIE array.

    ``cycles``: the mean cycles per inference over the calibration inputs,
    from the cycle model; ``stored_bits``: the bits the array's memories hold
    for it, over all layers and PEs: the sparse-matrix entries in whole memory
    words, the column pointers (``ptr_bits`` of the configuration each) and
    the codebooks, as :meth:`sw_model.eie_format.EieLayer.summary` counts
    them (``memory_bits``) and ``zeroskip compile`` reports them.
    """

    cycles: float
    stored_bits: int


def _check_config(config, timing):
    if not isinstance(config, EieConfig):
        raise TypeError(f"config must be an EieConfig, not {config!r}")
    if not isinstance(timing, EieTiming):
        raise TypeError(f"timing must be an EieTiming (from EieArray(config=...).timing or the "
                        f"design's side-car), not {timing!r}")


def _check_weight_list(weights):
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__") or not weights:
        raise TypeError(f"weights must be a non-empty sequence of weight matrices, not "
                        f"{weights!r:.80}")
    out = []
    for i, w in enumerate(weights):
        try:
            out.append(check_weights(w))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"weights[{i}]: {exc}") from None
    return out


def eie_cost(weights, x, *, config, timing, bias=None):
    """The :class:`EieCost` of float ``weights`` on the array ``config``, over inputs ``x``.

    ``weights``: one matrix per layer, ``(outputs, inputs)``, a bias as the
    last column where ``bias`` says (as :class:`sw_model.train.Mlp` holds
    them; fold scale factors in first, :meth:`~sw_model.train.Mlp.fold_scales`);
    ReLU after every layer but the last. ``x``: float calibration inputs,
    ``(samples, inputs)``. ``timing``: the array's latencies,
    ``EieArray(config=config).timing``.

    Every layer is shared through its own codebook in ``config``'s weight
    format (:func:`sw_model.codebook.share_weights`) and encoded for
    ``config`` (:func:`sw_model.eie_format.encode`); the layers must fit its
    memories (:func:`sw_model.eie_format.check_fits` raises otherwise). The
    inputs are quantized to ``config``'s activation format and every vector
    runs through :func:`sw_model.eie_cycles.chain_cycles`: the cycles are
    exactly the RTL's, for this configuration and these inputs.
    """
    _check_config(config, timing)
    weights = _check_weight_list(weights)
    bias = check_bias_flags(bias, len(weights))
    x = check_batch("x", x, weights[0].shape[1] - bias[0])
    layers = []
    for i, (w, has_bias) in enumerate(zip(weights, bias, strict=True)):
        indices, codebook, _ = share_weights(w, w_frac_bits=config.w_frac_bits)
        layers.append((encode(indices, codebook, config=config, bias=has_bias),
                       i < len(weights) - 1))
    check_fits(layers, config)
    acts = to_fixed(x, config.act_frac_bits)
    cycles = [chain_cycles(layers, a, config=config, timing=timing)[0].cycles for a in acts]
    bits = sum(layer.summary(ptr_bits=config.ptr_bits)["memory_bits"] for layer, _ in layers)
    return EieCost(cycles=float(np.mean(cycles)), stored_bits=int(bits))


def eie_oracle(x, *, config, timing):
    """The latency oracle of :func:`netadapt`: ``cost(mlp)``, the :func:`eie_cost` of ``mlp``.

    The network's scale factors, if any, are folded into the next layers
    first (what the array would run).
    """
    _check_config(config, timing)
    x = np.array(x)

    def cost(mlp):
        if not isinstance(mlp, Mlp):
            raise TypeError(f"mlp must be an Mlp, not {mlp!r:.80}")
        return eie_cost(mlp.fold_scales().weights, x, config=config, timing=timing,
                        bias=mlp.bias)

    return cost


def clear_dead_neurons(mlp):
    """Zero every hidden neuron that cannot change the outputs, in both layers; in place.

    Hidden neuron ``j`` of layer ``i`` is a row of layer ``i`` (its inputs,
    and its bias if the layer has one) and a column of layer ``i + 1`` (its
    outgoing weights). If either is all zero, or its scale factor is 0, the
    neuron adds nothing to the next layer: its row and its column are both
    zeroed, with their masks, and the function is unchanged. The array then
    stores nothing for the neuron and, since its output is 0, broadcasts
    nothing for it either. Clearing a neuron can leave another with nothing
    (a row with no inputs, a column nobody feeds), so this repeats until
    nothing changes. Returns ``mlp``.
    """
    if not isinstance(mlp, Mlp):
        raise TypeError(f"mlp must be an Mlp, not {mlp!r:.80}")
    changed = True
    while changed:
        changed = False
        for i in range(len(mlp.weights) - 1):
            row_alive = np.any(mlp.weights[i] != 0, axis=1)
            n_out = row_alive.size
            column_alive = np.any(mlp.weights[i + 1][:, :n_out] != 0, axis=0)
            alive = row_alive & column_alive
            if mlp.scales is not None:
                alive &= mlp.scales[i] != 0
            dead = np.flatnonzero(~alive & (row_alive | column_alive))
            if dead.size:
                mlp.weights[i][dead] = 0.0
                mlp.masks[i][dead] = False
                mlp.weights[i + 1][:, dead] = 0.0
                mlp.masks[i + 1][:, dead] = False
                changed = True
    return mlp


@dataclass(frozen=True)
class Proposal:
    """One way the search may prune a layer: a criterion at a granularity.

    ``name``: for the results; ``pruner(mlp)``: returns the
    ``prune(layer, w, density)`` callable for the network ``mlp`` (e.g.
    ``lambda net: criterion_pruner("magnitude", net, granularity="row")``),
    whose ``density`` is a fraction of the units of ``granularity``;
    ``granularity``: the units it prunes (the search starts its binary search
    at the fraction of units still alive); ``layers``: the layer numbers it
    may prune (``None``: every layer).
    """

    name: str
    pruner: object
    granularity: object = "element"
    layers: tuple | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string, not {self.name!r}")
        if not callable(self.pruner):
            raise TypeError(f"pruner must be callable, not {self.pruner!r}")
        object.__setattr__(self, "granularity", as_granularity(self.granularity))
        if self.layers is not None:
            if isinstance(self.layers, (str, bytes)) or not hasattr(self.layers, "__iter__"):
                raise TypeError(f"layers must be a sequence of layer numbers or None, not "
                                f"{self.layers!r}")
            object.__setattr__(self, "layers", tuple(
                check_int(f"layers[{i}]", layer, lo=0) for i, layer in enumerate(self.layers)))


@dataclass(frozen=True)
class SearchPoint:
    """One network of the search: the start (step 0) or the one a step kept.

    ``layer``, ``proposal`` and ``density``: what the step pruned (the layer,
    the proposal's name, the density the binary search found); ``None`` for
    the start. ``cycles`` and ``stored_bits``: the oracle's cost after
    fine-tuning; ``accuracy``: on the held-out set after fine-tuning;
    ``weights``: the network's weight matrices (read-only copies).
    """

    step: int
    layer: int | None
    proposal: str | None
    density: float | None
    cycles: float
    stored_bits: int
    accuracy: float
    weights: tuple

    @property
    def weight_density(self):
        """Fraction of nonzero weights over all layers (bias columns included)."""
        return (sum(int(np.count_nonzero(w)) for w in self.weights)
                / sum(w.size for w in self.weights))


def _check_cost(value, where):
    if not (hasattr(value, "cycles") and hasattr(value, "stored_bits")):
        raise TypeError(f"cost(mlp) must return an EieCost (cycles, stored_bits), not "
                        f"{value!r} ({where})")
    cycles = value.cycles
    if not (isinstance(cycles, (int, float, np.integer, np.floating)) and np.isfinite(cycles)):
        raise ValueError(f"cost(mlp) returned cycles {cycles!r} ({where}); they must be finite")
    return value


def _point(step, layer, name, density, mlp, cost, accuracy):
    weights = []
    for w in mlp.weights:
        w = np.array(w, dtype=np.float64)
        w.setflags(write=False)
        weights.append(w)
    return SearchPoint(step=step, layer=layer, proposal=name, density=density,
                       cycles=float(cost.cycles), stored_bits=int(cost.stored_bits),
                       accuracy=float(accuracy), weights=tuple(weights))


def _alive_fraction(w, granularity):
    """Fraction of ``granularity``'s units of ``w`` that hold a nonzero weight."""
    alive = group_norms((w != 0).astype(np.float64), granularity=granularity, norm=1) > 0
    return float(np.mean(alive))


def _check_positive(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number above 0, not {value!r}")
    return float(value)


def _check_budget(value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"budget_cycles must be a number, not {value!r}")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"budget_cycles must be a finite number at least 0, not {value!r}")
    return float(value)


def _step(step_cycles, cycles):
    """The cycles a step must remove from a network at ``cycles``."""
    if not callable(step_cycles):
        return float(step_cycles)
    value = step_cycles(cycles)
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)) or not (np.isfinite(value)
                                                                   and value > 0):
        raise ValueError(f"step_cycles({cycles!r}) must return a finite number above 0, not "
                         f"{value!r}")
    return float(value)


def netadapt(mlp, data, *, proposals, cost, step_cycles, budget_cycles, finetune_epochs=2,
             lr=1e-3, seed=0, iterations=8, min_density=0.01, min_accuracy=None,
             max_steps=100, progress=None):
    """Prune ``mlp`` step by step, ``step_cycles`` cycles per step, down to ``budget_cycles``.

    ``step_cycles``: the cycles per inference every step must remove, a
    number, or a callable ``step_cycles(cycles)`` of the current network's
    cycles (a schedule: NetAdapt shrinks its steps as the network shrinks).
    ``proposals``: the :class:`Proposal` objects a step tries on every layer
    they may prune; ``cost(mlp)``: the latency oracle, returning an
    :class:`EieCost` (:func:`eie_oracle` for the EIE cycle model); ``data``:
    fine-tuning on ``data.x_train``, accuracy on ``data.x_test``, which
    should be a held-out validation set (the search's decisions are made on
    it). ``iterations``: halvings of the binary search on a layer's density,
    between ``min_density`` and the fraction of the layer's units still
    alive (a candidate is skipped when even ``min_density`` misses the
    target). ``min_accuracy``: ``None``, or an accuracy below which a
    candidate is not kept (after its fine-tuning), so that the search stops
    rather than trade all accuracy for cycles. The step algorithm is in the
    module's docstring.

    ``mlp`` is not changed. Returns the list of :class:`SearchPoint`: the
    start (cleared of dead neurons, :func:`clear_dead_neurons`, not
    fine-tuned), then the network kept at every step. ``progress(point)``
    is called with every point when given.
    """
    if not isinstance(mlp, Mlp):
        raise TypeError(f"mlp must be an Mlp, not {mlp!r:.80}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a Dataset, not {data!r:.80}")
    if isinstance(proposals, (str, bytes)) or not hasattr(proposals, "__iter__"):
        raise TypeError(f"proposals must be a sequence of Proposal, not {proposals!r}")
    proposals = tuple(proposals)
    if not proposals:
        raise ValueError("proposals must hold at least one Proposal")
    for i, proposal in enumerate(proposals):
        if not isinstance(proposal, Proposal):
            raise TypeError(f"proposals[{i}] must be a Proposal, not {proposal!r:.80}")
    if len({p.name for p in proposals}) != len(proposals):
        raise ValueError(f"proposals must have distinct names, not "
                         f"{[p.name for p in proposals]!r}")
    n_layers = len(mlp.weights)
    for proposal in proposals:
        for layer in proposal.layers or ():
            if layer >= n_layers:
                raise ValueError(f"proposal {proposal.name!r} prunes layer {layer}, but the "
                                 f"network has {n_layers} layers")
    if not callable(cost):
        raise TypeError(f"cost must be callable, not {cost!r}")
    if not callable(step_cycles):
        _check_positive("step_cycles", step_cycles)
    budget_cycles = _check_budget(budget_cycles)
    check_int("finetune_epochs", finetune_epochs, lo=0)
    _check_positive("lr", lr)
    check_int("seed", seed, lo=0)
    iterations = check_int("iterations", iterations, lo=1)
    min_density = _check_positive("min_density", min_density)
    if min_density > 1:
        raise ValueError(f"min_density must be at most 1, not {min_density!r}")
    if min_accuracy is not None:
        if isinstance(min_accuracy, (bool, np.bool_)) or not isinstance(
                min_accuracy, (int, float, np.integer, np.floating)):
            raise TypeError(f"min_accuracy must be a number or None, not {min_accuracy!r}")
        if not 0 <= min_accuracy <= 1:        # NaN fails too
            raise ValueError(f"min_accuracy must be in the range [0, 1], not {min_accuracy!r}")
    max_steps = check_int("max_steps", max_steps, lo=0)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, not {progress!r}")

    net = clear_dead_neurons(copy_mlp(mlp))
    current = _check_cost(cost(net), "the starting network")
    points = [_point(0, None, None, None, net, current, net.accuracy(data.x_test, data.y_test))]
    if progress is not None:
        progress(points[-1])

    def pruned(layer, proposal, density):
        candidate = copy_mlp(net)
        w = np.asarray(proposal.pruner(candidate)(layer, candidate.weights[layer], density),
                       dtype=np.float64)
        candidate.weights[layer] = w
        candidate.masks[layer] = candidate.masks[layer] & (w != 0)
        return clear_dead_neurons(candidate)

    for step in range(1, max_steps + 1):
        if current.cycles <= budget_cycles:
            break
        target = current.cycles - _step(step_cycles, current.cycles)
        best = None
        for order, proposal in enumerate(proposals):
            layers = proposal.layers if proposal.layers is not None else range(n_layers)
            for layer in layers:
                hi = _alive_fraction(net.weights[layer], proposal.granularity)
                if hi == 0:
                    continue        # nothing left to prune in this layer
                lo = min(min_density, hi)
                candidate = pruned(layer, proposal, lo)
                if _check_cost(cost(candidate), f"layer {layer}").cycles > target:
                    continue        # even the sparsest allowed version misses the target
                for _ in range(iterations):
                    mid = float(np.sqrt(lo * hi))
                    trial = pruned(layer, proposal, mid)
                    if _check_cost(cost(trial), f"layer {layer}").cycles <= target:
                        lo, candidate = mid, trial
                    else:
                        hi = mid
                train(candidate, data, epochs=finetune_epochs, lr=lr, seed=seed + step)
                measured = _check_cost(cost(candidate), f"layer {layer}")
                accuracy = candidate.accuracy(data.x_test, data.y_test)
                if min_accuracy is not None and accuracy < min_accuracy:
                    continue
                key = (-accuracy, measured.cycles, layer, order)
                if best is None or key < best[0]:
                    best = (key, layer, proposal.name, lo, candidate, measured, accuracy)
        if best is None:
            break
        _, layer, name, density, net, current, accuracy = best
        points.append(_point(step, layer, name, density, net, current, accuracy))
        if progress is not None:
            progress(points[-1])
    return points


def _check_pairs(name, values):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of numbers, not {values!r}")
    arr = np.asarray(list(values))
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise TypeError(f"{name} must be a sequence of numbers, not {values!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold only finite values")
    return arr.astype(np.float64)


def pareto_front(costs, accuracies):
    """Indices of the points no other point beats: fewer or equal cost and higher or equal accuracy.

    A point is dominated when another has a cost at most its cost and an
    accuracy at least its accuracy, one of them strictly. Of identical
    points, the first is kept. Returns the indices of the others in order of
    increasing cost.
    """
    costs = _check_pairs("costs", costs)
    accuracies = _check_pairs("accuracies", accuracies)
    if costs.shape != accuracies.shape:
        raise ValueError(f"costs and accuracies must have the same length, not {costs.size} "
                         f"and {accuracies.size}")
    # By increasing cost, the more accurate first; a point is on the front
    # when it is more accurate than every point before it.
    order = sorted(range(costs.size), key=lambda i: (costs[i], -accuracies[i], i))
    front, best = [], -np.inf
    for i in order:
        if accuracies[i] > best:
            front.append(i)
            best = accuracies[i]
    return front


def _check_finite(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return float(value)


def fewest_cycles_within(cycles, accuracies, *, accuracy, tolerance):
    """Index of the point with the fewest cycles among those at least ``accuracy - tolerance``.

    ``cycles`` and ``accuracies`` describe a set of networks (e.g. uniform
    pruning at several densities); ``accuracy`` is the accuracy to match and
    ``tolerance`` how much less counts as equal (0.005: half a percentage
    point). Ties go to the more accurate point, then the lower index.
    Returns ``None`` when no point is accurate enough.
    """
    cycles = _check_pairs("cycles", cycles)
    accuracies = _check_pairs("accuracies", accuracies)
    if cycles.shape != accuracies.shape:
        raise ValueError(f"cycles and accuracies must have the same length, not {cycles.size} "
                         f"and {accuracies.size}")
    accuracy = _check_finite("accuracy", accuracy)
    tolerance = _check_finite("tolerance", tolerance)
    if tolerance < 0:
        raise ValueError(f"tolerance must be at least 0, not {tolerance!r}")
    eligible = [i for i in range(cycles.size) if accuracies[i] >= accuracy - tolerance]
    if not eligible:
        return None
    return min(eligible, key=lambda i: (cycles[i], -accuracies[i], i))
