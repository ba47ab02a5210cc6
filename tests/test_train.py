"""The float MLP trainer the demo starts from: its checks and its pruning loop."""

import re

import numpy as np
import pytest

from sw_model.train import Mlp, iterative_prune, load_digits_dataset, train


def test_dataset_split_is_seeded_and_stratified():
    a, b = load_digits_dataset(seed=3), load_digits_dataset(seed=3)
    assert np.array_equal(a.y_test, b.y_test)
    assert a.n_features == 64 and a.n_classes == 10
    assert len(a.y_train) + len(a.y_test) == 1797
    assert set(np.unique(a.y_test)) == set(range(10))
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0


def test_training_learns_and_masks_stay_zero():
    data = load_digits_dataset(seed=0)
    mlp = Mlp.init((64, 32, 10), seed=0)
    mlp.weights[0][:, :8] = 0.0
    mlp.masks[0][:, :8] = False
    train(mlp, data, epochs=10)
    assert mlp.accuracy(data.x_test, data.y_test) > 0.9
    assert not mlp.weights[0][:, :8].any()


def test_iterative_prune_reaches_density():
    data = load_digits_dataset(seed=0)
    mlp = Mlp.init((64, 32, 10), seed=0)
    train(mlp, data, epochs=5)

    def prune(layer, w, density):
        keep = np.abs(w) >= np.quantile(np.abs(w), 1 - density)
        return np.where(keep, w, 0.0)

    history = iterative_prune(mlp, data, schedule=[0.5, 0.25], prune=prune, finetune_epochs=2)
    assert [d for d, _ in history] == [0.5, 0.25]
    assert mlp.density == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("call, message", [
    (lambda: load_digits_dataset(test_fraction=1.0), "test_fraction must be in (0, 1), not 1.0"),
    (lambda: Mlp.init((64,)), "sizes must name at least inputs and outputs, not (64,)"),
    (lambda: Mlp.init((64, 0)), "sizes[1] must be at least 1, not 0"),
    (lambda: iterative_prune(Mlp.init((4, 2)), None, schedule=[0.5, 0.6],
                             prune=None, finetune_epochs=0),
     "schedule must hold decreasing densities in (0, 1], but step 1 is 0.6 after 0.5"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
