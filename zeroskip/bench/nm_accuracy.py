"""``zeroskip bench nm-accuracy``: accuracy of per-row against vector-wise N:M on the digits MLP.

    zeroskip bench nm-accuracy --write
    zeroskip bench nm-accuracy --seeds 0 --hidden 64 --epochs 10 --finetune-epochs 5

For every ``--seeds`` value the benchmark trains the network ``zeroskip demo``
trains (:func:`zeroskip.training.train_builtin` on :func:`zeroskip.training.digits`
split with that seed, a bias in every layer), then makes the copies the
demo's N:M step makes (:mod:`zeroskip.nm_copy`): the biases left out (the N:M
tile has none), every layer pruned along its inputs by magnitude
(:func:`zeroskip.nm_copy.nm_prune`, per row or vector-wise in blocks of
``block_rows`` rows, :func:`sw_model.prune.prune_nm`), and each copy
fine-tuned with its mask held (:func:`zeroskip.nm_copy.nm_finetune`). Every
network is measured in float on the digits test set of its seed. The copy
without biases and without pruning, fine-tuned the same way, is the baseline
the pruned copies are compared with.
"""

from dataclasses import dataclass

import numpy as np

from sw_model.train import Mlp

from ..errors import UserError
from ..nm_copy import NM_UNITS, nm_finetune, nm_prune
from ..options import MAX_SEED, check_int_option, parse_widths
from ..report import pct
from ..training import (
    DIGITS_CLASSES,
    DIGITS_INPUTS,
    EPOCHS,
    FINETUNE_EPOCHS,
    HIDDEN,
    digits,
    one_blas_thread,
    train_builtin,
)

__all__ = ["TITLE", "HELP", "PATTERNS", "MAX_EPOCHS", "Accuracy", "nm_network",
           "seed_accuracies", "table", "add_arguments", "measure"]

TITLE = "Accuracy of per-row against vector-wise N:M pruning (digits MLP)"

HELP = "digits MLP accuracy, N:M per row against vector-wise, pruned and fine-tuned (a minute)"

#: ``(n, m, block_rows)`` of the pruned copies; ``block_rows`` 1 is per-row N:M,
#: 4 the row block of tiles with 4 units, 8 that of the demo's tiles.
PATTERNS = ((2, 4, 1), (2, 4, 4), (2, 4, 8), (1, 4, 1), (1, 4, 4), (4, 8, 1), (4, 8, 4))

#: Largest ``--epochs`` and ``--finetune-epochs``.
MAX_EPOCHS = 1000


@dataclass(frozen=True)
class Accuracy:
    """One network of one seed.

    ``network``: what it is (``"dense"``, ``"dense, biases left out"`` or
    ``"n:m"``); ``block_rows``: rows sharing their kept positions (``None``
    when not pruned); ``kept``: fraction of its weights that pruning kept
    (biases included where it has them); ``accuracy``: test accuracy as trained
    or pruned; ``finetuned``: after fine-tuning with the mask held (``None``:
    not fine-tuned).
    """

    network: str
    block_rows: int | None
    kept: float
    accuracy: float
    finetuned: float | None


def nm_network(weights, n, m, block_rows):
    """Every layer of ``weights`` (no biases) pruned to ``n:m`` in blocks of ``block_rows`` rows."""
    return [nm_prune(w, n, m, block_rows=block_rows) for w in weights]


def seed_accuracies(seed, *, hidden=HIDDEN, epochs=EPOCHS, finetune_epochs=FINETUNE_EPOCHS,
                    patterns=PATTERNS):
    """The networks of one seed, an :class:`Accuracy` each: dense, no biases, then ``patterns``."""
    data = digits(seed)
    mlp = train_builtin(data, hidden=hidden, seed=seed, epochs=epochs)
    results = [Accuracy("dense", None, mlp.density, mlp.accuracy(data.x_test, data.y_test),
                        None)]

    def measured(network, block_rows, weights):
        copy = Mlp(list(weights))
        tuned = Mlp(nm_finetune(weights, data, seed=seed, epochs=finetune_epochs))
        return Accuracy(network, block_rows, copy.density, copy.accuracy(data.x_test, data.y_test),
                        tuned.accuracy(data.x_test, data.y_test))

    weights = [mlp.input_weights(i) for i in range(len(mlp.weights))]
    results.append(measured("dense, biases left out", None, weights))
    for n, m, block_rows in patterns:
        results.append(measured(f"{n}:{m}", block_rows, nm_network(weights, n, m, block_rows)))
    return results


def _spread(values):
    """``mean (min to max)`` of accuracies, or the one value."""
    values = np.asarray(values)
    if len(values) == 1:
        return pct(values[0])
    return f"{pct(values.mean())} ({pct(values.min())} to {pct(values.max())})"


def _points(values):
    """Mean of accuracy differences, in percentage points with a sign."""
    # Rounded first, so that a difference of 0 up to float error reads +0.00, not -0.00.
    return f"{round(float(np.mean(values)) * 100, 9) + 0.0:+.2f}"


def table(per_seed):
    """The Markdown table of ``per_seed`` (one :func:`seed_accuracies` list per seed).

    A vector-wise row's change is the mean over the seeds of its difference
    from the per-row row of the same pattern and seed, which must come before it.
    """
    lines = ["| Network | Rows sharing positions | Weights kept | Accuracy | "
             "Accuracy after fine-tuning | Change from per row, before / after fine-tuning "
             "(points) |",
             "|---|---:|---:|---:|---:|---:|"]
    per_row = {}
    for rows in zip(*per_seed, strict=True):
        first = rows[0]
        before = [r.accuracy for r in rows]
        after = [r.finetuned for r in rows]
        if first.block_rows == 1:
            per_row[first.network] = (before, after)
        sharing = {None: "", 1: "1 (per row)"}.get(first.block_rows, str(first.block_rows))
        change = ""
        if first.block_rows not in (None, 1) and first.network in per_row:
            base_before, base_after = per_row[first.network]
            change = (f"{_points(np.subtract(before, base_before))} / "
                      f"{_points(np.subtract(after, base_after))}")
        lines.append(f"| {first.network} | {sharing} | {pct(first.kept, 1)} | {_spread(before)} "
                     f"| {'' if None in after else _spread(after)} | {change} |")
    return lines


def add_arguments(parser):
    """The options of ``zeroskip bench nm-accuracy``."""
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)), metavar="S",
                        help="seeds of the digits split and of training, one network each "
                             "(default: 0 to 9)")
    parser.add_argument("--hidden", default=",".join(map(str, HIDDEN)), metavar="W,W,...",
                        help="hidden layer widths (default %(default)s, the demo's)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, metavar="N",
                        help="epochs of training the dense network (default %(default)s, the "
                             "demo's)")
    parser.add_argument("--finetune-epochs", type=int, default=FINETUNE_EPOCHS, metavar="N",
                        help="epochs of fine-tuning each copy (default %(default)s, the demo's "
                             "N:M copy's)")


def _check(args):
    """Check the options before any work; the hidden widths."""
    for seed in args.seeds:
        check_int_option("--seeds", seed, 0, MAX_SEED)
    if len(set(args.seeds)) != len(args.seeds):
        raise UserError(f"--seeds must not repeat a seed, not {' '.join(map(str, args.seeds))}")
    check_int_option("--epochs", args.epochs, 1, MAX_EPOCHS)
    check_int_option("--finetune-epochs", args.finetune_epochs, 1, MAX_EPOCHS)
    return parse_widths("--hidden", args.hidden)


def measure(args, progress):
    """Train, prune and fine-tune for every seed; the Markdown body."""
    hidden = _check(args)
    per_seed = []
    with one_blas_thread(), progress.bar(len(args.seeds), "seeds") as bar:
        for seed in args.seeds:
            per_seed.append(seed_accuracies(seed, hidden=hidden, epochs=args.epochs,
                                            finetune_epochs=args.finetune_epochs))
            bar.advance()
    sizes = " -> ".join(map(str, (DIGITS_INPUTS, *hidden, DIGITS_CLASSES)))
    spread = ", mean (min to max) over the seeds" if len(args.seeds) > 1 else ""
    lines = [
        f"The digits MLP of `zeroskip demo` ({sizes}, ReLU, a bias in every layer), trained "
        f"for {args.epochs} epochs once per seed ({', '.join(map(str, args.seeds))}); the seed "
        f"sets the digits split ({len(digits(args.seeds[0]).y_test)} test images), the initial "
        f"weights and the batches. The N:M copies are made as the demo's: biases left out (the "
        f"N:M tile has none), every layer pruned along its inputs by magnitude "
        f"(`sw_model.prune.prune_nm`; with more than one row sharing positions, vector-wise: "
        f"the rows of a block keep the positions with the largest sum of magnitudes over the "
        f"block), then fine-tuned for {args.finetune_epochs} epochs with the mask held.", "",
        f"Accuracy is the float network's on its seed's test set{spread}: as trained (dense) "
        f"or as pruned, and after fine-tuning with the mask held. The change from per row is "
        f"the mean over the seeds of the difference from the per-row copy of the same pattern "
        f"and seed. Weights kept counts every weight of the network (biases included where it "
        f"has them).", ""]
    lines += table(per_seed)
    lines += ["",
              f"The dense copy without biases is fine-tuned for as many epochs as the pruned "
              f"copies: it, not the dense network, is their reference. A tile with shared "
              f"indices (`SparseTileConfig(shared_indices=True)`) uses row blocks of its `units` "
              f"rows: 4 in the tiles of `hw/sparse_nm/configs.py` (`nm-tile-2of4-shared`), "
              f"{NM_UNITS} in the demo's.", ""]
    return "\n".join(lines)
