"""``zeroskip bench pruning``: criteria, granularities, sensitivity and a cycle-driven search.

    zeroskip bench pruning --write
    zeroskip bench pruning --quick --datasets digits

Two data sets that ship inside scikit-learn (no download): the 8x8 digits
(64 inputs, 10 classes) and the Wisconsin breast-cancer set (30 features,
min-max scaled on the training split and zero-padded to 32 so that N:M groups
of 4 fit; 2 classes). Each is split with the seed into training and test
(:func:`load_dataset`, stratified, a quarter for test), and a fifth of the
training split is held out for validation (:func:`with_validation`): every
network trains on the rest, every decision (the best criterion, the
sensitivity, the search) is made on the validation set, and the test set
only reports.

For every ``--seeds`` value a dense ReLU MLP without biases (the N:M tile has
none, and N:M groups need whole groups of inputs) is trained, then, for every
criterion x granularity of ``--combos`` and every ``--densities`` value, a
copy is pruned in the steps of ``zeroskip compile --finetune``
(:func:`zeroskip.training.pruning_schedule`), fine-tuned after each step and
once more at the end (:func:`prune_and_finetune`), and measured: accuracy,
the bits the EIE array's memories hold and its cycles per inference from the
cycle model on the named array :data:`ARRAY` (latencies from
``EieArray(config=...).timing``), and, for N:M at 2:4, the cycles of the
demo's 2:4 tile (``NMTile.vector_cycles``, layer after layer).

On the first seed it also runs the per-layer sensitivity analysis
(:mod:`sw_model.sensitivity`), uniform magnitude pruning over
``--uniform-densities``, and the NetAdapt-style search
(:func:`sw_model.search.netadapt`) with the cycle model as its latency
oracle, and reports the two goals of the pruning work: (a) at ``--target``
density, the best criterion (by validation accuracy) against the dense
network on the test set; (b) at equal accuracy (within
:data:`EQUAL_POINTS` points), the cycles of the search's last network against
uniform magnitude pruning's.
"""

import gc
import time
import warnings
from dataclasses import dataclass

import numpy as np

from hw.eie.configs import config_for
from sw_model.criteria import CRITERIA, criterion_pruner, layer_scorer
from sw_model.eie_format import check_fits, encode
from sw_model.prune import NM, Balanced, Block, Column, Element, Row, make_pruner
from sw_model.search import (
    Proposal,
    clear_dead_neurons,
    eie_cost,
    eie_oracle,
    fewest_cycles_within,
    netadapt,
    pareto_front,
)
from sw_model.sensitivity import (
    allocate_densities,
    copy_mlp,
    layer_sensitivity,
    layerwise_pruner,
    tolerated_densities,
)
from sw_model.train import Dataset, Mlp, iterative_prune, load_digits_dataset, train

from ..errors import UserError
from ..nm_copy import NM_UNITS
from ..options import MAX_SEED, check_int_option, parse_widths
from ..report import pct
from ..training import HIDDEN, one_blas_thread, pruning_schedule
from . import doc_path

__all__ = ["TITLE", "HELP", "ARRAY", "DATASETS", "GRANULARITIES", "COMBOS", "EQUAL_POINTS",
           "load_dataset", "with_validation", "combo_pruner", "prune_and_finetune",
           "nm_tile_cycles", "add_arguments", "measure"]

TITLE = "Pruning: criteria, granularities, sensitivity and a cycle-model-driven search"

HELP = ("pruning criteria x granularities x densities, per-layer sensitivity and a NetAdapt "
        "search on the EIE cycle model (digits, breast cancer; about 10 minutes, --quick 2)")

#: The EIE array whose cycles and memories are reported (``hw.eie.configs``).
ARRAY = "eie-8pe"

#: Data sets, by option name: those that ship inside scikit-learn.
DATASETS = ("digits", "breast-cancer")

#: Inputs (after padding) and classes of every data set.
DATASET_SIZES = {"digits": (64, 10), "breast-cancer": (32, 2)}

#: Hidden widths by data set: the demo's for digits, a smaller MLP for breast cancer.
HIDDEN_WIDTHS = {"digits": HIDDEN, "breast-cancer": (64, 32)}

#: N:M group size of the N:M granularity (the tiles' ``m``).
NM_GROUP = 4

#: Granularity name -> (label for the tables, the granularity). ``balanced`` is
#: made for the array's PE count, so it is a function of it.
GRANULARITIES = {
    "element": ("element", lambda n_pe: Element()),
    "block4x1": ("4 x 1 blocks", lambda n_pe: Block(rows=4, cols=1)),
    "nm4": ("N:M, m = 4", lambda n_pe: NM(m=NM_GROUP)),
    "balanced": ("PE-balanced", lambda n_pe: Balanced(n_pe=n_pe)),
    "row": ("rows (hidden)", lambda n_pe: Row()),
    "column": ("columns", lambda n_pe: Column()),
}

#: ``criterion:granularity`` pairs of the comparison (``--combos``).
COMBOS = ("magnitude:element", "magnitude:block4x1", "magnitude:nm4", "magnitude:balanced",
          "magnitude:row", "magnitude:column", "obd:element", "obd:block4x1", "obd:nm4",
          "obd:row", "obd-fisher:element", "apoz:row", "regression:column")

#: Accuracy difference (percentage points) that counts as equal in goal (b).
EQUAL_POINTS = 0.5
#: Goal (a): the best criterion within this many points of the dense network.
GOAL_POINTS = 1.0
#: The Pareto plots show accuracies down to this many points below the dense network.
PLOT_POINTS = 10
#: Most steps of the search.
MAX_SEARCH_STEPS = 100
#: Validation share of the training split.
VALIDATION_FRACTION = 0.2
#: Training samples the criteria score with (OBD, APoZ, regression).
CRITERION_SAMPLES = 256
#: Weights kept above the target still counted as the target (round-half-up of small layers).
KEPT_SLACK = 5e-4

#: Option values of a full run and of ``--quick``; an option given on the command
#: line wins over both.
PRESETS = {
    "full": {"seeds": [0, 1, 2], "densities": [0.5, 0.25, 0.1], "combos": list(COMBOS),
             "epochs": 60, "finetune_epochs": 5, "final_epochs": 20,
             "sensitivity_densities": [0.5, 0.3, 0.2, 0.1, 0.05, 0.02],
             "uniform_densities": [0.5, 0.3, 0.2, 0.15, 0.12, 0.1, 0.09, 0.08, 0.07, 0.06,
                                   0.05, 0.04, 0.03],
             "calibration": 64, "cycle_vectors": 150, "search_iterations": 8},
    "quick": {"seeds": [0], "densities": [0.5, 0.1],
              "combos": ["magnitude:element", "magnitude:nm4", "magnitude:row", "obd:element"],
              "epochs": 30, "finetune_epochs": 3, "final_epochs": 10,
              "sensitivity_densities": [0.5, 0.2, 0.1, 0.05],
              "uniform_densities": [0.5, 0.2, 0.1, 0.07, 0.05, 0.03],
              "calibration": 32, "cycle_vectors": 50, "search_iterations": 5},
}


# --- data ----------------------------------------------------------------------------------


def _stratified_holdout(y, fraction, seed):
    """A boolean mask holding out ``round(fraction * n)`` samples of every class, seeded."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        where = rng.permutation(np.flatnonzero(y == label))
        held[where[: int(round(len(where) * fraction))]] = True
    return held


def load_dataset(name, seed):
    """The data set ``name`` of :data:`DATASETS`, split into training and test with ``seed``.

    Digits: :func:`sw_model.train.load_digits_dataset`. Breast cancer:
    scikit-learn's bundled copy, the same stratified split (a quarter for
    test), features min-max scaled with the training split's minimum and
    maximum and zero-padded from 30 to 32 (N:M groups of 4).
    """
    if name == "digits":
        return load_digits_dataset(seed=seed)
    if name != "breast-cancer":
        raise ValueError(f"name must be one of {', '.join(DATASETS)}, not {name!r}")
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    x = raw.data.astype(np.float64)
    y = raw.target.astype(np.int64)
    test = _stratified_holdout(y, 0.25, seed)
    lo, hi = x[~test].min(axis=0), x[~test].max(axis=0)
    x = (x - lo) / np.where(hi > lo, hi - lo, 1.0)
    width = -(-x.shape[1] // NM_GROUP) * NM_GROUP
    x = np.pad(x, ((0, 0), (0, width - x.shape[1])))
    return Dataset(x[~test], y[~test], x[test], y[test])


def with_validation(data, seed):
    """``(fit, test)``: both train on the training split less a validation fifth.

    ``fit``'s test part is the validation set (what decisions are made on),
    ``test``'s the real test set.
    """
    held = _stratified_holdout(data.y_train, VALIDATION_FRACTION, seed)
    x, y = data.x_train[~held], data.y_train[~held]
    return (Dataset(x, y, data.x_train[held], data.y_train[held]),
            Dataset(x, y, data.x_test, data.y_test))


# --- pruning -------------------------------------------------------------------------------


def _combo(text):
    criterion, _, granularity = text.partition(":")
    return criterion, granularity


def combo_pruner(combo, net, *, x, y, n_pe):
    """The ``prune(layer, w, density)`` of ``combo`` (``"criterion:granularity"``) for ``net``.

    Row pruning is of the hidden layers only (the output layer's rows are the
    classes); the regression criterion refits the kept weights by least
    squares. ``x`` and ``y``: the criteria's calibration batch.
    """
    criterion, name = _combo(combo)
    granularity = GRANULARITIES[name][1](n_pe)
    needs_x = criterion in ("obd", "obd-fisher", "apoz", "regression")
    xs = x if needs_x else None
    ys = y if criterion == "obd-fisher" else None
    if criterion == "regression":
        return criterion_pruner(criterion, net, granularity=granularity, x=x, refit=True)
    if isinstance(granularity, Row) and CRITERIA[criterion] == "weight":
        return make_pruner(layer_scorer(criterion, net, x=xs, y=ys), granularity=granularity,
                           layers=range(len(net.weights) - 1))
    return criterion_pruner(criterion, net, granularity=granularity, x=xs, y=ys)


def _nm_count(density):
    """Kept positions of a group of :data:`NM_GROUP` at ``density`` (the rule of ``NM``)."""
    return int(np.floor(density * NM_GROUP + 0.5))


def prune_and_finetune(mlp, data, pruner, density, *, finetune_epochs, final_epochs, seed):
    """A copy of ``mlp`` pruned to ``density`` with ``pruner(net)``, fine-tuned; the copy.

    The densities of :func:`zeroskip.training.pruning_schedule`, one
    :func:`sw_model.train.iterative_prune` step each (``finetune_epochs`` of
    fine-tuning after it), dead neurons cleared after every step
    (:func:`sw_model.search.clear_dead_neurons`), then ``final_epochs`` more
    at a lower rate, as ``zeroskip compile --finetune`` does.
    """
    net = copy_mlp(mlp)
    prune = pruner(net)
    for step, target in enumerate(pruning_schedule(density)):
        iterative_prune(net, data, schedule=[target], prune=prune,
                        finetune_epochs=finetune_epochs, lr=2e-3, seed=seed + step)
        clear_dead_neurons(net)
    train(net, data, epochs=final_epochs, lr=1e-3, seed=seed + 1000)
    return clear_dead_neurons(net)


def _finetuned(weights, data, *, epochs, seed):
    """An ``Mlp`` of ``weights`` (no biases) fine-tuned with its zeros held."""
    net = Mlp([np.array(w, dtype=np.float64) for w in weights],
              [np.asarray(w) != 0 for w in weights])
    train(net, data, epochs=epochs, lr=1e-3, seed=seed + 1000)
    return clear_dead_neurons(net)


def nm_tile_cycles(shapes, *, tile="nm_tile"):
    """Cycles of one inference on the demo's 2:4 tile (or its dense tile), layer after layer.

    Each layer ``(outputs, inputs)`` runs on the tile ``tile`` of
    :func:`zeroskip.nm_copy.tile_configs` sized for it (``"nm_tile"``: 2:4
    units; ``"dense_tile"``: 2:2 units with as many multipliers; inputs
    padded to a multiple of 4): ``NMTile.vector_cycles(beats, blocks) =
    blocks * beats + latency``, from the first activation beat accepted to
    the last result; the layers add up (no overlap between layers).
    """
    from amaranth.hdl import UnusedElaboratable

    from hw.sparse_nm import NMTile

    from ..nm_copy import padded_width, tile_configs

    total = 0
    with warnings.catch_warnings():
        # Tiles built only to read their latency, never elaborated.
        warnings.simplefilter("ignore", UnusedElaboratable)
        for i, (rows, k) in enumerate(shapes):
            config = tile_configs(rows, padded_width(k, NM_GROUP), i < len(shapes) - 1)[tile]
            beats = config.act_depth
            top = NMTile(config=config)
            total += top.vector_cycles(beats, config.weight_depth // beats)
            del top
        gc.collect()
    return total


def _array():
    """The :data:`ARRAY` configuration and its timing, read from the design (never elaborated)."""
    from amaranth.hdl import UnusedElaboratable

    from hw.eie.array import EieArray

    config = config_for(ARRAY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        array = EieArray(config=config)
        timing = array.timing
        del array
        gc.collect()
    return config, timing


# --- measurements --------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One network: weights kept (fraction), validation and test accuracy, EIE cost."""

    kept: float
    validation: float
    test: float
    cycles: float
    stored_bits: int


@dataclass
class Context:
    """What every measurement of one data set and seed needs."""

    fit: Dataset
    test: Dataset
    x_cycles: np.ndarray
    x_criteria: np.ndarray
    y_criteria: np.ndarray
    config: object
    timing: object
    args: object
    seed: int

    def measure(self, net):
        cost = eie_cost(net.weights, self.x_cycles, config=self.config, timing=self.timing)
        return Measured(kept=net.density, validation=net.accuracy(self.fit.x_test,
                                                                  self.fit.y_test),
                        test=net.accuracy(self.test.x_test, self.test.y_test),
                        cycles=cost.cycles, stored_bits=cost.stored_bits)

    def pruned(self, mlp, pruner, density):
        return prune_and_finetune(mlp, self.fit, pruner, density,
                                  finetune_epochs=self.args.finetune_epochs,
                                  final_epochs=self.args.final_epochs, seed=self.seed)

    def combo(self, text):
        return lambda net: combo_pruner(text, net, x=self.x_criteria, y=self.y_criteria,
                                        n_pe=self.config.n_pe)


def _context(name, seed, args, config, timing):
    fit, test = with_validation(load_dataset(name, seed), seed)
    return Context(fit=fit, test=test, x_cycles=test.x_test[:args.cycle_vectors],
                   x_criteria=fit.x_train[:CRITERION_SAMPLES],
                   y_criteria=fit.y_train[:CRITERION_SAMPLES], config=config, timing=timing,
                   args=args, seed=seed)


def _dense(ctx, hidden):
    """The dense MLP, trained; weights of inputs that are 0 in every training sample are 0.

    Such an input (a blank border pixel of the digits, the padding of breast
    cancer) gives its weights no gradient: they would keep their random
    initial values, cost memory and compete with the trained weights for the
    places pruning keeps. They start at 0 instead, masked.
    """
    mlp = Mlp.init((ctx.fit.n_features, *hidden, ctx.fit.n_classes), seed=ctx.seed)
    blank = ~np.any(ctx.fit.x_train != 0, axis=0)
    mlp.weights[0][:, blank] = 0.0
    mlp.masks[0][:, blank] = False
    train(mlp, ctx.fit, epochs=ctx.args.epochs, lr=3e-3, seed=ctx.seed)
    return mlp


def _sweep_runs(args):
    """``[(combo, density)]`` of the sweep; N:M only where it keeps at least 1 of 4."""
    runs = []
    for combo in args.combos:
        for density in args.densities:
            if _combo(combo)[1] == "nm4" and _nm_count(density) < 1:
                continue
            runs.append((combo, density))
    return runs


# --- tables --------------------------------------------------------------------------------


def _points(value):
    """A difference of accuracies in percentage points, with a sign."""
    return f"{round(value * 100, 9) + 0.0:+.2f}"


def _epochs(count):
    return f"{count} epoch{'' if count == 1 else 's'}"


def _points_text(points):
    """``1`` as ``"1 point"``, ``0.5`` as ``"0.5 points"``."""
    return f"{points:g} point{'' if points == 1 else 's'}"


def _spread(values):
    values = np.asarray(values, dtype=np.float64)
    if values.size == 1:
        return pct(values[0])
    return f"{pct(values.mean())} ({pct(values.min())} to {pct(values.max())})"


def _target_label(combo, density):
    if _combo(combo)[1] == "nm4":
        return f"{_nm_count(density)}:{NM_GROUP}"
    return pct(density, 0 if density * 100 == round(density * 100) else 1)


def _sweep_table(runs, results, dense, tile_cycles):
    """The criterion x granularity x density table, means over the seeds."""
    lines = ["| criterion | granularity | target | weights kept | validation accuracy "
             "| test accuracy | change from dense (points) | stored bits | EIE cycles / inference "
             "| 2:4 tile cycles |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    dense_test = np.mean([d.test for d in dense])
    lines.append(f"| dense | | 100 % | {pct(np.mean([d.kept for d in dense]), 1)} "
                 f"| {pct(np.mean([d.validation for d in dense]))} "
                 f"| {_spread([d.test for d in dense])} | | "
                 f"{np.mean([d.stored_bits for d in dense]):,.0f} "
                 f"| {np.mean([d.cycles for d in dense]):,.1f} | |")
    for combo, density in runs:
        per_seed = results[(combo, density)]
        criterion, name = _combo(combo)
        test = np.mean([m.test for m in per_seed])
        tile = tile_cycles.get((combo, density), "")
        lines.append(
            f"| {criterion} | {GRANULARITIES[name][0]} | {_target_label(combo, density)} "
            f"| {pct(np.mean([m.kept for m in per_seed]), 1)} "
            f"| {pct(np.mean([m.validation for m in per_seed]))} "
            f"| {_spread([m.test for m in per_seed])} | {_points(test - dense_test)} "
            f"| {np.mean([m.stored_bits for m in per_seed]):,.0f} "
            f"| {np.mean([m.cycles for m in per_seed]):,.1f} "
            f"| {tile if tile == '' else f'{tile:,}'} |")
    return lines


def _goal_a(name, runs, results, dense, target, seeds):
    """Goal (a): the best criterion at ``target`` (by validation) against the dense network."""
    eligible = [(combo, d) for combo, d in runs if d == target and np.mean(
        [m.kept for m in results[(combo, d)]]) <= target + KEPT_SLACK]
    over = "" if len(seeds) == 1 else f", means over seeds {', '.join(map(str, seeds))}"
    if not eligible:
        return {"met": None}, [f"No combination of the sweep keeps at most {pct(target, 0)} of "
                               f"the weights at target {pct(target, 0)}: goal (a) not measured.",
                               ""]
    best = max(eligible, key=lambda run: np.mean([m.validation for m in results[run]]))
    by_test = max(eligible, key=lambda run: np.mean([m.test for m in results[run]]))
    test = float(np.mean([m.test for m in results[best]]))
    dense_test = float(np.mean([d.test for d in dense]))
    gap = (dense_test - test) * 100
    met = gap <= GOAL_POINTS
    criterion, granularity = _combo(best[0])
    label = f"{criterion}, {GRANULARITIES[granularity][0]}"
    line = (f"**Goal (a), {name}, {pct(target, 0)} of the weights**: the best criterion by "
            f"validation accuracy among the {len(eligible)} combinations that keep at most "
            f"{pct(target, 0)} is {label}: test accuracy {pct(test)} against {pct(dense_test)} "
            f"dense{over}, {_gap_text(gap)} (goal: at most {GOAL_POINTS:g} point lower): "
            f"**{'met' if met else 'NOT met'}**.")
    if by_test != best:
        top = float(np.mean([m.test for m in results[by_test]]))
        criterion, granularity = _combo(by_test[0])
        line += (f" The highest test accuracy among them is {criterion}, "
                 f"{GRANULARITIES[granularity][0]}'s, {pct(top)} "
                 f"({_gap_text((dense_test - top) * 100)}); choosing by it would choose on "
                 f"the test set.")
    return {"met": met, "gap": gap, "best": label}, [line, ""]


def _gap_text(gap):
    """An accuracy gap below dense in points: ``"1.25 points lower"`` or ``"... higher"``."""
    return f"{abs(gap):.2f} points {'lower' if gap >= 0 else 'higher'}"


def _sensitivity_lines(name, sens, tolerated, allocated, sizes, shapes, compare, args, png):
    lines = [f"### Sensitivity, seed {args.seeds[0]}", "",
             f"Every layer pruned alone by magnitude (element granularity), one shot, no "
             f"fine-tuning, measured on the validation set; the drop is from "
             f"{pct(sens.baseline)}, in points:", "",
             "| layer | inputs -> outputs | weights | "
             + " | ".join(pct(d, 0 if d * 100 == round(d * 100) else 1) for d in sens.densities)
             + f" | tolerated (drop <= {_points_text(args.threshold)}) "
             f"| allocated for {pct(args.target, 0)} |",
             "|---:|---|---:|" + "---:|" * len(sens.densities) + "---:|---:|"]
    for i, layer in enumerate(sens.layers):
        rows, cols = shapes[layer]
        drops = " | ".join(_points(d) for d in sens.drop[i])
        lines.append(f"| {layer} | {cols} -> {rows} | {sizes[layer]:,} | {drops} "
                     f"| {pct(tolerated[i], 0)} | {pct(allocated[i], 1)} |")
    lines += ["", f"Rule: a layer's tolerated density is the smallest of the sweep whose drop "
              f"is at most {_points_text(args.threshold)} (100 % when none is); the densities "
              f"are then scaled by one common factor, capped at 100 %, so that the network "
              f"keeps exactly {pct(args.target, 0)} of its weights "
              f"(`sw_model.sensitivity.allocate_densities`). Both networks below are pruned "
              f"and fine-tuned the same way, by magnitude; the allocation is redone at every "
              f"step of the schedule (`layerwise_pruner`).", "",
              "| densities | weights kept | validation accuracy | test accuracy | stored bits "
              "| EIE cycles / inference |", "|---|---:|---:|---:|---:|---:|"]
    for label, m in compare:
        lines.append(f"| {label} | {pct(m.kept, 1)} | {pct(m.validation)} | {pct(m.test)} "
                     f"| {m.stored_bits:,} | {m.cycles:,.1f} |")
    lines.append("")
    if png is not None:
        lines += [f"![Sensitivity of every layer, {name}]({png.name})", ""]
    return lines


# --- the search ----------------------------------------------------------------------------


def _search(name, ctx, mlp, progress):
    """NetAdapt on the first seed; ``(points, finals, parameters)``."""
    args = ctx.args
    cost = eie_oracle(ctx.fit.x_train[:args.calibration], config=ctx.config, timing=ctx.timing)
    start = cost(mlp).cycles
    budget = args.budget * start
    floor = max(0.0, mlp.accuracy(ctx.fit.x_test, ctx.fit.y_test) - args.max_drop / 100)
    hidden = tuple(range(len(mlp.weights) - 1))
    proposals = (
        Proposal("magnitude, element", lambda net: criterion_pruner(
            "magnitude", net, granularity="element")),
        Proposal("magnitude, rows", lambda net: criterion_pruner(
            "magnitude", net, granularity="row"), granularity="row", layers=hidden))

    def note(point):
        what = ("start" if point.layer is None else
                f"step {point.step}: layer {point.layer}, {point.proposal}, density "
                f"{point.density:.3f}")
        progress.note(f"{name}: {what}: {point.cycles:,.1f} cycles, {pct(point.weight_density, 1)}"
                      f" kept, validation {pct(point.accuracy)}")

    points = netadapt(mlp, ctx.fit, proposals=proposals, cost=cost,
                      step_cycles=lambda cycles: args.search_step * cycles,
                      budget_cycles=budget, finetune_epochs=args.search_finetune, lr=1e-3,
                      seed=ctx.seed, iterations=args.search_iterations, min_accuracy=floor,
                      max_steps=MAX_SEARCH_STEPS, progress=note)
    finals = []
    with progress.bar(len(points), f"{name}: search networks fine-tuned") as bar:
        for point in points:
            finals.append(ctx.measure(_finetuned(point.weights, ctx.fit,
                                                 epochs=args.final_epochs, seed=ctx.seed)))
            bar.advance()
    return points, finals, {"start": start, "budget": budget, "floor": floor}


def _search_lines(name, points, finals, uniform, params, args, png):
    u_cycles = [m.cycles for _, m in uniform]
    u_acc = [m.test for _, m in uniform]
    front = set(pareto_front([m.cycles for m in finals], [m.test for m in finals]))
    lines = [
        f"### Cycle-model-driven search (NetAdapt), seed {args.seeds[0]}", "",
        f"Latency oracle: the cycle model on {ARRAY}, mean over the first {args.calibration} "
        f"training samples (calibration); the dense network takes {params['start']:,.1f} "
        f"cycles there, and the budget is {args.budget:g} of that, {params['budget']:,.1f}. "
        f"Every step must remove {args.search_step:g} of the current cycles; the proposals are "
        f"magnitude pruning of one layer's weights (element) or of one hidden layer's neurons "
        f"(rows), the layer's density found by {args.search_iterations} "
        f"halving{'' if args.search_iterations == 1 else 's'} of a "
        f"geometric binary search, each candidate fine-tuned for {_epochs(args.search_finetune)} "
        f"and judged on the validation set, where it must keep {pct(params['floor'])} (the "
        f"dense network's accuracy less {_points_text(args.max_drop)}). Every network below "
        f"was then fine-tuned for {_epochs(args.final_epochs)} (as the uniform ones are at the "
        f"end) and measured on the "
        f"test set: cycles over the first {args.cycle_vectors} test samples. *Layer density*: "
        f"the fraction of the layer's units (weights, or rows) the step kept. *Uniform, same "
        f"accuracy*: the uniform magnitude network with the fewest cycles whose test accuracy "
        f"is at most {EQUAL_POINTS:g} points lower (`fewest_cycles_within`).", "",
        "| step | pruned | layer density | weights kept | validation (search) | test accuracy "
        "| stored bits | EIE cycles / inference | Pareto | uniform, same accuracy: density, "
        "cycles | cycles / uniform's |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    ratios = []
    for point, m in zip(points, finals, strict=True):
        what = "start" if point.layer is None else f"layer {point.layer}, {point.proposal}"
        density = "" if point.density is None else f"{point.density:.3f}"
        match = fewest_cycles_within(u_cycles, u_acc, accuracy=m.test,
                                     tolerance=EQUAL_POINTS / 100)
        if match is None:
            same, ratio = "none", None
        else:
            d, um = uniform[match]
            same = f"{pct(d, 0 if d * 100 == round(d * 100) else 1)}, {um.cycles:,.1f}"
            ratio = m.cycles / um.cycles
        ratios.append((ratio, match))
        lines.append(f"| {point.step} | {what} | {density} | {pct(m.kept, 1)} "
                     f"| {pct(point.accuracy)} | {pct(m.test)} | {m.stored_bits:,} "
                     f"| {m.cycles:,.1f} | {'yes' if points.index(point) in front else ''} "
                     f"| {same} | {'' if ratio is None else f'{ratio:.2f}'} |")
    last = finals[-1]
    ratio, match = ratios[-1]
    if points[-1].cycles <= params["budget"]:
        stop = "it reached the budget"
    elif len(points) - 1 == MAX_SEARCH_STEPS:
        stop = f"it took the most steps it may, {MAX_SEARCH_STEPS}"
    else:
        stop = (f"no layer could remove {args.search_step:g} of the cycles any more with a "
                f"validation accuracy of {pct(params['floor'])} or more (the budget is "
                f"{params['budget']:,.1f})")
    lines += ["", f"The search took {len(points) - 1} step{'' if len(points) == 2 else 's'} "
              f"and stopped because {stop}.", ""]
    if match is None:
        lines += [f"**Goal (b), {name}**: no uniform network is within {EQUAL_POINTS:g} points "
                  f"of the search's last network ({pct(last.test)}): not measured.", ""]
        result = {"met": None}
    else:
        d, um = uniform[match]
        met = ratio < 1
        lines += [
            f"**Goal (b), {name}**: the search's last network (step {points[-1].step}) reaches "
            f"{pct(last.test)} test accuracy in {last.cycles:,.1f} cycles per inference; "
            f"uniform magnitude pruning needs {um.cycles:,.1f} cycles (density "
            f"{pct(d, 0 if d * 100 == round(d * 100) else 1)}, {pct(um.test)}) to be as accurate "
            f"within {EQUAL_POINTS:g} points: ratio **{ratio:.2f}** (goal: below 1): "
            f"**{'met' if met else 'NOT met'}**.", ""]
        result = {"met": met, "ratio": ratio, "cycles": last.cycles, "uniform": um.cycles}
    lines += ["Uniform magnitude pruning, every layer to the same density, pruned and "
              "fine-tuned as the sweep:", "",
              "| density | weights kept | validation accuracy | test accuracy | stored bits "
              "| EIE cycles / inference |", "|---:|---:|---:|---:|---:|---:|"]
    for d, m in uniform:
        lines.append(f"| {pct(d, 0 if d * 100 == round(d * 100) else 1)} | {pct(m.kept, 1)} "
                     f"| {pct(m.validation)} | {pct(m.test)} | {m.stored_bits:,} "
                     f"| {m.cycles:,.1f} |")
    lines.append("")
    if png is not None:
        lines += [f"![Accuracy against cycles and stored bits, {name}]({png.name})", ""]
    return result, lines


# --- the benchmark -------------------------------------------------------------------------


def add_arguments(parser):
    """The options of ``zeroskip bench pruning``."""
    full = PRESETS["full"]
    parser.add_argument("--quick", action="store_true",
                        help="smaller defaults for every option not given (one seed, four "
                             "combinations, two densities, fewer epochs): a few minutes")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS),
                        metavar="NAME", help=f"data sets, of {', '.join(DATASETS)} "
                                             f"(default: both)")
    parser.add_argument("--seeds", type=int, nargs="+", metavar="S",
                        help="seeds of the splits and of training, one network each; the "
                             "first also runs the sensitivity, uniform and search parts "
                             f"(default: {' '.join(map(str, full['seeds']))})")
    parser.add_argument("--combos", nargs="+", metavar="CRITERION:GRANULARITY",
                        help=f"criterion x granularity pairs, granularities "
                             f"{', '.join(GRANULARITIES)} (default: all {len(COMBOS)})")
    parser.add_argument("--densities", type=float, nargs="+", metavar="D",
                        help="target densities of the sweep (default: "
                             f"{' '.join(map(str, full['densities']))})")
    parser.add_argument("--target", type=float, default=0.1, metavar="D",
                        help="density of goal (a) and of the sensitivity allocation, one of "
                             "--densities (default %(default)s)")
    for dataset in DATASETS:
        parser.add_argument(f"--hidden-{dataset}", metavar="W,W,...",
                            default=",".join(map(str, HIDDEN_WIDTHS[dataset])),
                            help=f"hidden widths of the {dataset} MLP (default %(default)s)")
    for option, key, what in (("--epochs", "epochs", "training the dense networks"),
                              ("--finetune-epochs", "finetune_epochs",
                               "fine-tuning after each pruning step"),
                              ("--final-epochs", "final_epochs",
                               "fine-tuning at the end (search networks too)")):
        parser.add_argument(option, type=int, metavar="N",
                            help=f"epochs of {what} (default {full[key]})")
    parser.add_argument("--sensitivity-densities", type=float, nargs="+", metavar="D",
                        help="densities of the sensitivity sweep (default: "
                             f"{' '.join(map(str, full['sensitivity_densities']))})")
    parser.add_argument("--threshold", type=float, default=1.0, metavar="POINTS",
                        help="accuracy drop a layer may have at its tolerated density, in "
                             "points (default %(default)s)")
    parser.add_argument("--uniform-densities", type=float, nargs="+", metavar="D",
                        help="densities of the uniform magnitude curve (default: "
                             f"{' '.join(map(str, full['uniform_densities']))})")
    parser.add_argument("--calibration", type=int, metavar="N",
                        help=f"training samples the search's cycles are measured on "
                             f"(default {full['calibration']})")
    parser.add_argument("--cycle-vectors", type=int, metavar="N",
                        help=f"test samples the reported cycles are measured on "
                             f"(default {full['cycle_vectors']})")
    parser.add_argument("--budget", type=float, default=0.1, metavar="F",
                        help="the search's budget, a fraction of the dense network's cycles "
                             "(default %(default)s)")
    parser.add_argument("--search-step", type=float, default=0.2, metavar="F",
                        help="fraction of the current cycles every search step removes "
                             "(default %(default)s)")
    parser.add_argument("--max-drop", type=float, default=2.0, metavar="POINTS",
                        help="validation accuracy the search may lose from the dense network's, "
                             "in points; a step that would lose more is not taken "
                             "(default %(default)s)")
    parser.add_argument("--search-finetune", type=int, default=2, metavar="N",
                        help="epochs of fine-tuning of every search candidate "
                             "(default %(default)s)")
    parser.add_argument("--search-iterations", type=int, metavar="N",
                        help=f"halvings of the search's binary search "
                             f"(default {full['search_iterations']})")


def _fill_presets(args):
    preset = PRESETS["quick" if args.quick else "full"]
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, list(value) if isinstance(value, list) else value)


def _check_fraction(option, value, *, upper=1.0):
    if not (isinstance(value, float) and 0 < value <= upper):
        raise UserError(f"{option} must be in (0, {upper:g}], not {value!r}")


def _check_list(option, values, check):
    for value in values:
        check(option, value)
    if len(set(values)) != len(values):
        raise UserError(f"{option} must not repeat a value, not "
                        f"{' '.join(map(str, values))}")


def _check(args):
    """Check every option before any work; the hidden widths by data set."""
    _fill_presets(args)
    _check_list("--seeds", args.seeds, lambda o, v: check_int_option(o, v, 0, MAX_SEED))
    _check_list("--densities", args.densities, _check_fraction)
    _check_list("--sensitivity-densities", args.sensitivity_densities, _check_fraction)
    _check_list("--uniform-densities", args.uniform_densities, _check_fraction)
    _check_fraction("--target", args.target)
    if args.target not in args.densities:
        raise UserError(f"--target must be one of --densities "
                        f"({' '.join(map(str, args.densities))}), not {args.target!r}")
    for combo in args.combos:
        criterion, granularity = _combo(combo)
        if criterion not in CRITERIA or granularity not in GRANULARITIES:
            raise UserError(f"--combos: {combo!r} is not CRITERION:GRANULARITY with a criterion "
                            f"of {', '.join(c for c in CRITERIA if c != 'slimming')} and a "
                            f"granularity of {', '.join(GRANULARITIES)}")
        if criterion == "slimming":
            raise UserError("--combos: slimming needs a network trained with scale factors, "
                            "which this benchmark does not train")
        kind = CRITERIA[criterion]
        if (kind == "neuron" and granularity != "row") or (kind == "column"
                                                          and granularity != "column"):
            wanted = "row" if kind == "neuron" else "column"
            raise UserError(f"--combos: criterion {criterion!r} scores whole {wanted}s, so its "
                            f"granularity must be {wanted}, not {granularity!r}")
    _check_list("--combos", args.combos, lambda o, v: None)
    for option, value in (("--epochs", args.epochs), ("--final-epochs", args.final_epochs),
                          ("--finetune-epochs", args.finetune_epochs),
                          ("--search-finetune", args.search_finetune)):
        check_int_option(option, value, 0 if option != "--epochs" else 1, 1000)
    check_int_option("--calibration", args.calibration, 1, 10000)
    check_int_option("--cycle-vectors", args.cycle_vectors, 1, 10000)
    check_int_option("--search-iterations", args.search_iterations, 1, 30)
    for option, value in (("--threshold", args.threshold), ("--max-drop", args.max_drop)):
        if not (isinstance(value, float) and 0 <= value <= 100):
            raise UserError(f"{option} must be in [0, 100] points, not {value!r}")
    _check_fraction("--budget", args.budget)
    if args.budget >= 1:
        raise UserError(f"--budget must be below 1 (a fraction of the dense cycles), not "
                        f"{args.budget!r}")
    _check_fraction("--search-step", args.search_step)
    if args.search_step >= 1:
        raise UserError(f"--search-step must be below 1, not {args.search_step!r}")
    widths = {dataset: parse_widths(f"--hidden-{dataset}", getattr(
        args, f"hidden_{dataset.replace('-', '_')}")) for dataset in args.datasets}
    config = config_for(ARRAY)
    for dataset, hidden in widths.items():
        _check_fits(dataset, hidden, config)
    return widths


def _check_fits(dataset, hidden, config):
    """Raise :class:`UserError` unless the dense MLP of ``dataset`` fits the array's memories.

    A dense network is the largest it will be; only which weights are nonzero
    matters to the memories, so all-ones matrices of its shapes stand for it.
    """
    inputs, classes = DATASET_SIZES[dataset]
    sizes = (inputs, *hidden, classes)
    codebook = np.zeros(16, dtype=np.int64)
    codebook[1] = 1
    layers = [encode(np.ones((n_out, n_in), dtype=np.int64), codebook, config=config)
              for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    try:
        check_fits(layers, config)
    except ValueError as exc:
        raise UserError(f"--hidden-{dataset} {','.join(map(str, hidden))}: the network does "
                        f"not fit the {ARRAY} array: {exc}") from None


def _png(args, name, kind):
    """Where a plot goes with ``--write`` (beside the document), else ``None``."""
    if not args.write:
        return None
    return doc_path("pruning").with_name(f"bench_pruning_{name.replace('-', '_')}_{kind}.png")


def _dataset(name, hidden, args, config, timing, progress):
    """Every part for one data set; ``(lines, goals)``."""
    from ..plots import plot_pareto, plot_sensitivity

    runs = _sweep_runs(args)
    results = {run: [] for run in runs}
    dense, contexts, bases = [], [], []
    with progress.step(f"{name}: dense networks and the sweep, {len(args.seeds)} seed(s), "
                       f"{len(runs)} pruned networks each"):
        with progress.bar(len(args.seeds) * (1 + len(runs)), f"{name}: networks") as bar:
            for seed in args.seeds:
                ctx = _context(name, seed, args, config, timing)
                mlp = _dense(ctx, hidden)
                dense.append(ctx.measure(mlp))
                contexts.append(ctx)
                bases.append(mlp)
                bar.advance()
                for combo, density in runs:
                    net = ctx.pruned(mlp, ctx.combo(combo), density)
                    results[(combo, density)].append(ctx.measure(net))
                    bar.advance()
    shapes = [w.shape for w in bases[0].weights]
    tile_cycles = {(combo, d): nm_tile_cycles(shapes) for combo, d in runs
                   if _combo(combo)[1] == "nm4" and _nm_count(d) == 2}
    ctx, mlp = contexts[0], bases[0]
    sizes = [w.size for w in mlp.weights]
    fit = ctx.fit
    sizes_text = " -> ".join(map(str, (fit.n_features, *hidden, fit.n_classes)))
    lines = [f"## {name}", "",
             f"MLP {sizes_text} (ReLU, no biases), trained for {_epochs(args.epochs)} per seed "
             f"(the weights of inputs that are 0 in every training sample stay 0); "
             f"{len(fit.y_train)} training, {len(fit.y_test)} validation and "
             f"{len(ctx.test.y_test)} test samples. Pruned networks: "
             f"{len(pruning_schedule(args.target))} steps of {_epochs(args.finetune_epochs)}, "
             f"densities geometric from 60 % to the target (one step for a target of 60 % or "
             f"more), then {args.final_epochs} more.", ""]
    lines += ["### Criterion x granularity x density", ""]
    if len(args.seeds) > 1:
        lines += [f"Accuracies are means over seeds {', '.join(map(str, args.seeds))} (test: "
                  f"mean, min to max); so are weights kept, bits and cycles.", ""]
    lines += _sweep_table(runs, results, dense, tile_cycles)
    dense_tile = nm_tile_cycles(shapes, tile="dense_tile") if tile_cycles else None
    lines += ["", f"EIE cycles: mean over the first {args.cycle_vectors} test samples on "
              f"{ARRAY} ({config.n_pe} PEs, queue depth {config.queue_depth}). Stored bits: "
              f"entries in whole memory words, column pointers and codebooks, as "
              f"`zeroskip compile` reports them. 2:4 tile cycles: the demo's 2:4 tile "
              f"(`zeroskip.nm_copy.tile_configs`, {NM_UNITS} units) sized for each layer, "
              f"`vector_cycles` summed over the layers"
              + ("" if dense_tile is None else
                 f"; the dense network on the dense tile with as many multipliers takes "
                 f"{dense_tile:,}") + ". N:M pruning keeps "
              "floor(4 d + 0.5) of every 4 weights, so it has no point below 12.5 %.", ""]
    goal_a, goal_lines = _goal_a(name, runs, results, dense, args.target, args.seeds)
    lines += goal_lines

    with progress.step(f"{name}: sensitivity of {len(mlp.weights)} layers, seed "
                       f"{args.seeds[0]}"):
        magnitude = ctx.combo("magnitude:element")
        sens = layer_sensitivity(mlp, fit, prune=magnitude,
                                 densities=args.sensitivity_densities)
        tolerated = tolerated_densities(sens, threshold=args.threshold / 100)
        allocated = allocate_densities(tolerated, sizes, target=args.target)
        uniform_net = ctx.pruned(mlp, magnitude, args.target)
        guided = ctx.pruned(mlp, lambda net: layerwise_pruner(magnitude(net), tolerated, sizes),
                            args.target)
        compare = [(f"uniform, {pct(args.target, 0)} every layer", ctx.measure(uniform_net)),
                   ("from the sensitivity", ctx.measure(guided))]
    png = _png(args, name, "sensitivity")
    if png is not None:
        plot_sensitivity(png, sens.drop, densities=sens.densities,
                         labels=[f"layer {i}: {s[1]} -> {s[0]}" for i, s in enumerate(shapes)],
                         threshold=args.threshold / 100,
                         title=f"Sensitivity, {name}: one layer pruned by magnitude")
    lines += _sensitivity_lines(name, sens, tolerated, allocated, sizes, shapes, compare, args,
                                png)

    with progress.step(f"{name}: uniform magnitude pruning at {len(args.uniform_densities)} "
                       f"densities"):
        uniform = [(1.0, dense[0])]
        with progress.bar(len(args.uniform_densities), f"{name}: uniform networks") as bar:
            for d in sorted(args.uniform_densities, reverse=True):
                uniform.append((d, ctx.measure(ctx.pruned(mlp, magnitude, d))))
                bar.advance()
    with progress.step(f"{name}: NetAdapt search on the cycle model"):
        points, finals, params = _search(name, ctx, mlp, progress)
    png = _png(args, name, "pareto")
    if png is not None:
        first = [results[run][0] for run in runs]
        plot_pareto(png, [
            ("criterion x granularity sweep", [m.cycles for m in first],
             [m.stored_bits for m in first], [m.test for m in first], "."),
            ("uniform magnitude", [m.cycles for _, m in uniform],
             [m.stored_bits for _, m in uniform], [m.test for _, m in uniform], "s-"),
            ("NetAdapt search (cycle model)", [m.cycles for m in finals],
             [m.stored_bits for m in finals], [m.test for m in finals], "o-")],
            title=f"{name}, seed {args.seeds[0]}: test accuracy against cost on {ARRAY}",
            bottom=np.floor(dense[0].test * 100 - PLOT_POINTS) / 100)
    goal_b, search_lines = _search_lines(name, points, finals, uniform, params, args, png)
    lines += search_lines
    return lines, {"a": goal_a, "b": goal_b}


def measure(args, progress):
    """Run every part for every data set; the Markdown body."""
    widths = _check(args)
    started = time.perf_counter()
    config, timing = _array()
    lines = [
        f"Every network is a float ReLU MLP trained and pruned in NumPy "
        f"(`sw_model.train`, `sw_model.prune`, `sw_model.criteria`); its cost is that of "
        f"the EIE array {ARRAY} ({config.n_pe} PEs, queue depth {config.queue_depth}, "
        f"latencies from `EieArray(config=...).timing`): each layer shared through a 16-entry "
        f"codebook, encoded for the array, and run through the cycle model "
        f"(`sw_model.search.eie_cost`), which the RTL matches cycle for cycle. Validation "
        f"accuracy decides, test accuracy reports. Seeds: {', '.join(map(str, args.seeds))} "
        f"(split, initial weights, batches).", ""]
    goals = {}
    with one_blas_thread():
        for name in args.datasets:
            body, goals[name] = _dataset(name, widths[name], args, config, timing, progress)
            lines += body
    lines += ["## Goals", ""]
    for name, goal in goals.items():
        a, b = goal["a"], goal["b"]
        text_a = "not measured" if a["met"] is None else (
            f"{a['best']} {_gap_text(a['gap'])} than dense: "
            f"{'met' if a['met'] else 'NOT met'}")
        text_b = "not measured" if b["met"] is None else (
            f"{b['cycles']:,.1f} against {b['uniform']:,.1f} cycles, ratio {b['ratio']:.2f}: "
            f"{'met' if b['met'] else 'NOT met'}")
        lines.append(f"- {name}: (a) {text_a}; (b) {text_b}.")
    lines += ["", f"Run time: {time.perf_counter() - started:.0f} s."]
    return "\n".join(lines)
