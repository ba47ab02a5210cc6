"""Per-layer sensitivity and the densities derived from it, on cases worked out by hand."""

import math

import numpy as np
import pytest

from sw_model.prune import make_pruner
from sw_model.sensitivity import (
    Sensitivity,
    allocate_densities,
    copy_mlp,
    layer_sensitivity,
    layerwise_pruner,
    tolerated_densities,
)
from sw_model.train import Dataset, Mlp, train


def _magnitude(net):
    return make_pruner(lambda layer, w: np.abs(w))


def _toy():
    """2 inputs -> 2 hidden -> 2 classes; the two test images are classified right.

    Image [1, 0]: hidden [3, 0.2], logits [3, 0.2], class 0. Image [0, 1]:
    hidden [0.1, 2], logits [0.1, 2], class 1.
    """
    mlp = Mlp([np.array([[3.0, 0.1], [0.2, 2.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])])
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 1])
    return mlp, Dataset(x, y, x, y)


def test_layer_sensitivity_by_hand():
    """Each layer alone at 50 % and 25 %, by magnitude.

    Layer 0 at 50 % keeps 3 and 2: both images still right. At 25 % it keeps
    only 3: image 2's hidden layer is [0, 0], a tie that argmax gives to
    class 0: wrong. Layer 1 at 50 % keeps its two ones: unchanged. At 25 % it
    keeps one of them, the first in row-major order (ties to the lower
    index): logits [3, 0] and [0.1, 0], image 2 wrong.
    """
    mlp, data = _toy()
    before = [w.copy() for w in mlp.weights]
    seen = []
    sens = layer_sensitivity(mlp, data, prune=_magnitude, densities=[0.5, 0.25],
                             progress=lambda *args: seen.append(args))
    assert sens.layers == (0, 1) and sens.densities == (0.5, 0.25)
    assert sens.baseline == 1.0
    assert sens.accuracy.tolist() == [[1.0, 0.5], [1.0, 0.5]]
    assert sens.drop.tolist() == [[0.0, 0.5], [0.0, 0.5]]
    assert seen == [(0, 0.5, 1.0), (0, 0.25, 0.5), (1, 0.5, 1.0), (1, 0.25, 0.5)]
    # The network measured is a copy: mlp itself is not pruned.
    assert all(np.array_equal(a, b) for a, b in zip(mlp.weights, before, strict=True))
    assert all(m.all() for m in mlp.masks)


def test_layer_sensitivity_fine_tunes_with_the_mask_held():
    """With fine-tuning: the same as pruning a copy by hand and training it with its mask."""
    mlp, data = _toy()
    sens = layer_sensitivity(mlp, data, prune=_magnitude, densities=[0.25], layers=[1],
                             finetune_epochs=3, lr=0.05, seed=4)
    by_hand = Mlp([w.copy() for w in mlp.weights])
    by_hand.weights[1] = np.array([[1.0, 0.0], [0.0, 0.0]])
    by_hand.masks[1] = np.array([[True, False], [False, False]])
    train(by_hand, data, epochs=3, lr=0.05, seed=4)
    assert by_hand.weights[1][1].tolist() == [0.0, 0.0]
    assert sens.layers == (1,)
    assert sens.accuracy.tolist() == [[by_hand.accuracy(data.x_test, data.y_test)]]


def _sensitivity():
    """Drops that are exact binary fractions: layer 0 (0, 1/8, 1/4), layer 1 (1/4, 0, 1/2)."""
    return Sensitivity(layers=(0, 1, 2), densities=(0.5, 0.2, 0.1), baseline=0.75,
                       accuracy=np.array([[0.75, 0.625, 0.5], [0.5, 0.75, 0.25],
                                          [0.25, 0.25, 0.25]]))


def test_tolerated_densities_by_hand():
    sens = _sensitivity()
    # At 1/8: layer 0 stands 0.5 and 0.2; layer 1 only 0.2 (0.5 is not, the rule
    # takes every density on its own); layer 2 nothing: not pruned.
    assert tolerated_densities(sens, threshold=0.125) == (0.2, 0.2, 1.0)
    assert tolerated_densities(sens, threshold=0.0) == (0.5, 0.2, 1.0)
    assert tolerated_densities(sens, threshold=0.5) == (0.1, 0.1, 0.1)


@pytest.mark.parametrize("base, sizes, target, expected", [
    # s * (0.2 * 100 + 0.6 * 50) = 30 kept: s = 0.6.
    ((0.2, 0.6), (100, 50), 0.2, (0.12, 0.36)),
    # s = 2 puts layer 1 exactly at 1: 20 + 100 = 120 kept.
    ((0.1, 0.5), (100, 100), 0.6, (0.2, 1.0)),
    # Layer 1 capped at 100 kept; the other 60 from layer 0: s * 0.1 * 100 = 60.
    ((0.1, 0.5), (100, 100), 0.8, (0.6, 1.0)),
    ((0.1, 0.5), (100, 100), 1.0, (1.0, 1.0)),
    ((1.0, 1.0, 1.0), (10, 20, 30), 0.3, (0.3, 0.3, 0.3)),
    # 21 to keep: 0.9 capped (10), 11 = s * (6 + 3) leaves 0.6 * 11 / 9 < 1.
    ((0.9, 0.6, 0.3), (10, 10, 10), 0.7, (1.0, 0.6 * 11 / 9, 0.3 * 11 / 9)),
    # 27 to keep: 0.9 capped, then 17 = 9 s puts 0.6 above 1, capped too; 7 = 3 s.
    ((0.9, 0.6, 0.3), (10, 10, 10), 0.9, (1.0, 1.0, 0.7)),
])
def test_allocate_densities_by_hand(base, sizes, target, expected):
    result = allocate_densities(base, sizes, target=target)
    assert result == pytest.approx(expected, rel=1e-12)
    assert sum(d * n for d, n in zip(result, sizes, strict=True)) == pytest.approx(
        target * sum(sizes), rel=1e-12)


def test_layerwise_pruner_passes_the_allocated_density():
    """Base (0.5, 1.0), sizes (4, 4): global 0.75 -> (0.5, 1.0); global 0.375 -> (0.25, 0.5)."""
    calls = []

    def prune(layer, w, density):
        calls.append((layer, density))
        return w

    layerwise = layerwise_pruner(prune, (0.5, 1.0), (4, 4))
    w = np.ones((2, 2))
    for global_density in (0.75, 0.375):
        for layer in (0, 1):
            assert layerwise(layer, w, global_density) is w
    assert calls == [(0, 0.5), (1, 1.0), (0, 0.25), (1, 0.5)]
    with pytest.raises(ValueError, match=r"^layer must be in the range \[0, 1\], not 2$"):
        layerwise(2, w, 0.5)


def test_copy_mlp_is_independent():
    mlp = Mlp.init((3, 4, 2), seed=1, bias=True, scales=True)
    copy = copy_mlp(mlp)
    copy.weights[0][0, 0] = 99.0
    copy.masks[1][0, 0] = False
    copy.scales[0][0] = 0.0
    assert mlp.weights[0][0, 0] != 99.0 and mlp.masks[1][0, 0] and mlp.scales[0][0] == 1.0
    assert copy.bias == mlp.bias


@pytest.mark.parametrize("call, error, message", [
    (lambda: allocate_densities((0.5, 0.0), (1, 1), target=0.5), ValueError,
     "base[1] must be in the range (0, 1], not 0.0"),
    (lambda: allocate_densities((0.5,), (1, 1), target=0.5), ValueError,
     "sizes must have one entry per layer of base (1), not 2"),
    (lambda: allocate_densities((0.5,), (0,), target=0.5), ValueError,
     "sizes[0] must be at least 1, not 0"),
    (lambda: allocate_densities((0.5,), (4,), target=math.nan), ValueError,
     "target must be in the range (0, 1], not nan"),
    (lambda: allocate_densities((0.5,), (4,), target=True), TypeError,
     "target must be a number, not True"),
    (lambda: allocate_densities((), (), target=0.5), ValueError, "base must not be empty"),
    (lambda: allocate_densities("ab", (4,), target=0.5), TypeError,
     "base must be a sequence, not 'ab'"),
    (lambda: tolerated_densities(_sensitivity(), threshold=-0.1), ValueError,
     "threshold must be in the range [0, 1], not -0.1"),
    (lambda: tolerated_densities("s", threshold=0.1), TypeError,
     "sensitivity must be a Sensitivity, not 's'"),
    (lambda: layer_sensitivity(_toy()[0], _toy()[1], prune=_magnitude, densities=[0.5, 0.5]),
     ValueError, "densities must not repeat a density, not (0.5, 0.5)"),
    (lambda: layer_sensitivity(_toy()[0], _toy()[1], prune=_magnitude, densities=[1.5]),
     ValueError, "densities[0] must be in the range (0, 1], not 1.5"),
    (lambda: layer_sensitivity(_toy()[0], _toy()[1], prune=_magnitude, densities=[0.5],
                               layers=[2]),
     ValueError, "layers[0] must be in the range [0, 1], not 2"),
    (lambda: layer_sensitivity(_toy()[0], "data", prune=_magnitude, densities=[0.5]),
     TypeError, "data must be a Dataset, not 'data'"),
    (lambda: layer_sensitivity(_toy()[0], _toy()[1], prune=None, densities=[0.5]), TypeError,
     "prune must be callable, not None"),
    (lambda: layerwise_pruner(lambda *a: None, (0.5, 2.0), (1, 1)), ValueError,
     "base[1] must be in the range (0, 1], not 2.0"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message
