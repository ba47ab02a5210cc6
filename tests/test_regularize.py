"""Regularisation towards structure: proximal operators, their use in train(), scale factors.

Most cases are worked out by hand in the comments. Where train() takes a step, the
expected values follow the documented rule: after each Adam step, soft thresholding by
the strength times Adam's step size ``lr / (sqrt(v_hat) + eps)``, eps = 1e-8.
"""

import math

import numpy as np
import pytest

from sw_model.criteria import score_slimming
from sw_model.prune import NM, Block, group_soft_threshold, prune_by_score, soft_threshold
from sw_model.train import Dataset, Mlp, iterative_prune, load_digits_dataset, train

T, F = True, False
E = math.e
EPS = 1e-8


# --- the proximal operators -------------------------------------------------------------------


def test_soft_threshold():
    x = np.array([3.0, -0.5, 0.2, -2.0])
    assert soft_threshold(x, 1.0).tolist() == [2.0, 0.0, 0.0, -1.0]
    # One threshold per value: 3 - 0.5, |-0.5| <= 1, 0.2 - 0, |-2| <= 3.
    assert soft_threshold(x, np.array([0.5, 1.0, 0.0, 3.0])).tolist() == [2.5, 0.0, 0.2, 0.0]


def test_group_soft_threshold_rows_columns_blocks():
    w = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    # Row norms 5, 0.5, 0: row 0 scaled by 1 - 1/5, row 1 (norm <= 1) to 0, row 2 stays 0.
    assert group_soft_threshold(w, 1.0, groups="row") == pytest.approx(
        np.array([[2.4, 3.2], [0.0, 0.0], [0.0, 0.0]]), rel=1e-12)
    # One threshold per row: row 1 loses 0.1 of its norm 0.5: scaled by 0.8.
    assert group_soft_threshold(w, np.array([[1.0], [0.1], [0.0]]), groups="row") == \
        pytest.approx(np.array([[2.4, 3.2], [0.24, 0.32], [0.0, 0.0]]), rel=1e-12)
    c = np.array([[3.0, 1.0], [4.0, 0.0]])
    # Column norms 5 and 1: column 0 scaled by 0.8, column 1 to 0.
    assert group_soft_threshold(c, 1.0, groups="column") == pytest.approx(
        np.array([[2.4, 0.0], [3.2, 0.0]]), rel=1e-12)
    b = np.array([[3.0, 0.0, 1.0, 1.0], [0.0, 4.0, 1.0, 1.0]])
    # 2x2 blocks, norms 5 and 2: scaled by 1 - 1/5 and 1 - 1/2.
    assert group_soft_threshold(b, 1.0, groups=Block(rows=2, cols=2)) == pytest.approx(
        np.array([[2.4, 0.0, 0.5, 0.5], [0.0, 3.2, 0.5, 0.5]]), rel=1e-12)


# --- the penalties in train(): gradients of 0 -------------------------------------------------

# All inputs 0 and no biases: every gradient is 0, Adam's v_hat stays 0 and its update is 0,
# so only the proximal steps move the weights, each by the strength times lr / eps. With
# lr = 0.1 that is 1e7 times the strength. 8 samples in batches of 4: 2 steps an epoch.
ZEROS = Dataset(np.zeros((8, 2)), np.array([0, 1] * 4), np.zeros((2, 2)), np.array([0, 1]))


def _train_zero(mlp, **penalty):
    return train(mlp, ZEROS, epochs=1, lr=0.1, batch=4, **penalty)


def test_l1_shrinks_by_its_threshold_every_step():
    mlp = _train_zero(Mlp([np.array([[0.3, -0.08], [-1.0, 0.05]])]), l1=5e-9)
    # 2 steps of 5e-9 * 1e7 = 0.05: every weight 0.1 closer to 0, or 0.
    assert mlp.weights[0] == pytest.approx(np.array([[0.2, 0.0], [-0.9, 0.0]]), abs=1e-12)
    assert mlp.weights[0][0, 1] == 0.0 and mlp.weights[0][1, 1] == 0.0


def test_group_lasso_rows_skip_the_output_layer():
    w1 = np.array([[1.0, 0.0], [0.0, 1.0]])
    mlp = _train_zero(Mlp([np.array([[3.0, 4.0], [0.03, 0.04]]), w1.copy()]),
                      group_lasso=2.5e-9, groups="row")
    # 2 steps of 0.025: row norms 5 -> 4.95 (scaled by 0.99) and 0.05 -> 0.025 -> 0.
    assert mlp.weights[0] == pytest.approx(np.array([[2.97, 3.96], [0.0, 0.0]]), rel=1e-9)
    assert not mlp.weights[0][1].any()
    # The output layer's rows are the network's outputs: not penalised.
    assert mlp.weights[1].tolist() == w1.tolist()


def test_group_lasso_columns():
    mlp = _train_zero(Mlp([np.array([[3.0, 4.0], [0.03, 0.04]]), np.eye(2)]),
                      group_lasso=2.5e-9, groups="column")
    # Every column loses 0.05 of its norm: scaled by 1 - 0.05 / norm.
    n0, n1 = math.hypot(3.0, 0.03), math.hypot(4.0, 0.04)
    assert mlp.weights[0] == pytest.approx(np.array([
        [3.0 * (1 - 0.05 / n0), 4.0 * (1 - 0.05 / n1)],
        [0.03 * (1 - 0.05 / n0), 0.04 * (1 - 0.05 / n1)]]), rel=1e-9)
    # Layer 1's columns (norm 1) are penalised too: 0.95.
    assert mlp.weights[1] == pytest.approx(0.95 * np.eye(2), rel=1e-9)


def test_group_lasso_blocks_leave_the_bias_alone():
    data = Dataset(np.zeros((8, 4)), np.array([0, 1] * 4), np.zeros((2, 4)), np.array([0, 1]))
    w = np.array([[3.0, 0.0, 1.0, 1.0, 0.5],
                  [0.0, 4.0, 1.0, 1.0, -0.5]])      # the bias column last
    mlp = Mlp([w.copy()], bias=True)
    # The biases do get a gradient (the softmax of the biases against the labels), so the
    # bias column moves by Adam; the input weights' gradients are 0.
    train(mlp, data, epochs=1, lr=0.1, batch=4, group_lasso=5e-8, groups=Block(rows=2, cols=2))
    # 2 steps of 0.5: block norms 5 -> 4 (scaled by 0.8) and 2 -> 1 (scaled by 0.5).
    assert mlp.weights[0][:, :4] == pytest.approx(np.array([
        [2.4, 0.0, 0.5, 0.5], [0.0, 3.2, 0.5, 0.5]]), rel=1e-9)
    # The bias moved by Adam only (less than 2 steps of lr), not by the penalty's 1.0.
    assert np.abs(mlp.weights[0][:, 4] - w[:, 4]).max() <= 0.2 + 1e-12


def test_scale_l1_shrinks_the_scale_factors():
    mlp = Mlp([np.ones((2, 2)), np.ones((2, 2))], scales=[np.array([0.3, -0.08])])
    _train_zero(mlp, scale_l1=5e-9)
    assert mlp.scales[0] == pytest.approx(np.array([0.2, 0.0]), abs=1e-12)
    assert mlp.scales[0][1] == 0.0


# --- the penalties in train(): one real step, written out -------------------------------------

# One linear layer, one sample x = [1, 2] with label 0, logits W x = [1, 0]. The logit
# gradient is p - e0 = [-1, 1] / (1 + e), so the weight gradient is g_kj = +-x_j / (1 + e).
# After one Adam step m_hat = g and v_hat = g^2: w1 = w - lr g / (|g| + eps).
STEP_W = np.array([[1.0, 0.0], [0.5, -0.25]])
STEP_X = np.array([[1.0, 2.0]])
STEP_DATA = Dataset(STEP_X, np.array([0]), STEP_X, np.array([1]))


def _one_step(**penalty):
    mlp = Mlp([STEP_W.copy()])
    train(mlp, STEP_DATA, epochs=1, lr=0.1, batch=1, **penalty)
    return mlp.weights[0]


def _adam_first_step():
    p1 = 1 / (1 + E)
    g = np.array([[-p1 * 1.0, -p1 * 2.0], [p1 * 1.0, p1 * 2.0]])
    return STEP_W - 0.1 * g / (np.abs(g) + EPS), np.abs(g)


def test_l1_step_in_adams_metric():
    w1, abs_g = _adam_first_step()
    threshold = 1.0 * 0.1 / (abs_g + EPS)                # l1 * lr / (sqrt(v_hat) + eps)
    want = np.sign(w1) * np.maximum(np.abs(w1) - threshold, 0.0)
    got = _one_step(l1=1.0)
    assert got == pytest.approx(want, rel=1e-6)
    # w[0, 1] = 0 + 0.1 after Adam is below its threshold 0.1 (1 + e) / 2 = 0.186: exactly 0.
    assert got[0, 1] == 0.0 and got[0, 0] != 0.0


def test_group_lasso_step_in_adams_metric():
    w1, abs_g = _adam_first_step()
    # A column's step size uses the mean v_hat over the column: (x_j / (1 + e))^2.
    step = 0.1 / (abs_g[0] + EPS)
    factor = np.maximum(0.0, 1 - 0.5 * step / np.linalg.norm(w1, axis=0))
    assert _one_step(group_lasso=0.5, groups="column") == pytest.approx(w1 * factor, rel=1e-6)


# --- structure emerges on the digits --------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_digits_dataset(seed=0)


def test_group_lasso_zeroes_whole_neurons(digits):
    plain = Mlp.init((64, 16, 10), seed=0)
    train(plain, digits, epochs=10)
    assert plain.input_weights(0).any(axis=1).all()          # no dead row without it
    mlp = Mlp.init((64, 16, 10), seed=0)
    mlp.masks[0][:, 0] = False                               # a pruned input stays pruned
    mlp.weights[0][:, 0] = 0.0
    train(mlp, digits, epochs=10, group_lasso=0.03, groups="row")
    alive = mlp.weights[0].any(axis=1)
    assert 2 <= np.count_nonzero(~alive) <= 8
    assert not mlp.weights[0][:, 0].any()
    assert mlp.accuracy(digits.x_test, digits.y_test) > 0.85
    # Those neurons output 0: removing them changes nothing.
    small = mlp.remove_neurons([alive])
    x = digits.x_test[:50]
    assert np.allclose(small.forward(x)[0], mlp.forward(x)[0], rtol=1e-12, atol=1e-12)


def test_slimming_zeroes_scale_factors(digits):
    mlp = Mlp.init((64, 16, 10), seed=0, scales=True)
    train(mlp, digits, epochs=10, scale_l1=0.03, l1=1e-4)
    gamma = mlp.scales[0]
    dead = gamma == 0
    assert 3 <= np.count_nonzero(dead) <= 10
    assert mlp.accuracy(digits.x_test, digits.y_test) > 0.85
    # Slimming keeps the neurons with a nonzero factor.
    keep = prune_by_score(score_slimming(mlp)[0], np.count_nonzero(~dead) / dead.size,
                          granularity="row")
    assert np.array_equal(keep, ~dead)
    x = digits.x_test[:50]
    small = mlp.remove_neurons([keep])
    assert np.allclose(small.forward(x)[0], mlp.forward(x)[0], rtol=1e-12, atol=1e-12)
    # Folding the factors into the next layer keeps the function and drops them.
    folded = small.fold_scales()
    assert folded.scales is None
    assert np.allclose(folded.forward(x)[0], mlp.forward(x)[0], rtol=1e-12, atol=1e-12)


def test_iterative_prune_fine_tunes_with_the_penalty(digits):
    mlp = Mlp.init((64, 16, 10), seed=0, scales=True)
    train(mlp, digits, epochs=3)
    assert (mlp.scales[0] != 0).all()
    iterative_prune(mlp, digits, schedule=[0.5], prune=lambda layer, w, density: w,
                    finetune_epochs=10, lr=3e-3, scale_l1=0.1)
    assert (mlp.scales[0] == 0).any()


# --- scale factors in the network ---------------------------------------------------------


def test_scale_factors_by_hand():
    # x = 1: hidden relu([1, 2]) = [1, 2], scaled by [3, 0.5] to [3, 1], summed: 4.
    mlp = Mlp([np.array([[1.0], [2.0]]), np.array([[1.0, 1.0]])], scales=[[3.0, 0.5]])
    assert mlp.forward(np.array([[1.0]]))[0].tolist() == [[4.0]]
    folded = mlp.fold_scales()
    assert folded.weights[1].tolist() == [[3.0, 0.5]]
    assert folded.forward(np.array([[1.0]]))[0].tolist() == [[4.0]]
    assert mlp.weights[1].tolist() == [[1.0, 1.0]]            # the original is unchanged


def test_scale_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    w0, w1 = rng.normal(size=(4, 3)), rng.normal(size=(3, 4))
    gamma = np.array([1.5, -0.5, 2.0, 0.75])
    x, y = rng.normal(size=(5, 3)), np.array([0, 1, 2, 1, 0])
    assert np.abs(x @ w0.T).min() > 1e-3                      # away from the ReLU's kink

    def total_loss(g):
        z = (np.maximum(x @ w0.T, 0.0) * g) @ w1.T
        z = z - z.max(axis=1, keepdims=True)
        return -(z[np.arange(5), y] - np.log(np.exp(z).sum(axis=1))).sum()

    mlp = Mlp([w0, w1], scales=[gamma])
    logits, acts, relus = mlp.forward_trace(x)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(5), y] -= 1.0
    _, grad_scales = mlp.backward(acts, relus, p)
    step = 1e-6
    numeric = [(total_loss(gamma + step * e) - total_loss(gamma - step * e)) / (2 * step)
               for e in np.eye(4)]
    assert grad_scales[0] == pytest.approx(numeric, rel=1e-6)


# --- errors ---------------------------------------------------------------------------------


def _prune_all(layer, w, density):
    return np.zeros_like(w)


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"l1": -1}, ValueError, "l1 must be a finite number at least 0, not -1"),
    ({"l1": float("nan")}, ValueError, "l1 must be a finite number at least 0, not nan"),
    ({"l1": "0.1"}, TypeError, "l1 must be a number, not '0.1'"),
    ({"group_lasso": float("inf")}, ValueError,
     "group_lasso must be a finite number at least 0, not inf"),
    ({"group_lasso": True}, TypeError, "group_lasso must be a number, not True"),
    ({"groups": "element"}, ValueError,
     "groups must be 'row', 'column' or a Block, not 'element'"),
    ({"scale_l1": 1j}, TypeError, "scale_l1 must be a number, not 1j"),
    ({"scale_l1": 0.1}, ValueError,
     "scale_l1 needs an Mlp with scale factors (Mlp.init(..., scales=True)), but mlp.scales "
     "is None"),
])
def test_penalties_are_checked_before_anything_changes(digits, kwargs, exc, message):
    for run in (lambda mlp: train(mlp, digits, epochs=1, **kwargs),
                lambda mlp: iterative_prune(mlp, digits, schedule=[0.5], finetune_epochs=1,
                                            prune=_prune_all, **kwargs)):
        mlp = Mlp.init((64, 10), seed=0)
        before = [w.copy() for w in mlp.weights]
        with pytest.raises(exc) as info:
            run(mlp)
        assert str(info.value) == message
        assert all(np.array_equal(a, b) for a, b in zip(before, mlp.weights, strict=True))


@pytest.mark.parametrize("call, exc, message", [
    (lambda: soft_threshold(np.ones(2), -1.0), ValueError,
     "threshold must be a finite number at least 0, not -1.0"),
    (lambda: soft_threshold(np.ones(2), float("nan")), ValueError,
     "threshold must be a finite number at least 0, not nan"),
    (lambda: soft_threshold(np.ones(2), np.ones(3)), ValueError,
     "threshold must be a number or an array of shape (2,) (one per value), not shape (3,)"),
    (lambda: soft_threshold(np.ones(2), np.array([1.0, -2.0])), ValueError,
     "threshold must hold finite values at least 0, but holds -2.0"),
    (lambda: soft_threshold(np.ones(2) * 1j, 1.0), TypeError,
     "x must be a real-valued array, not an array of dtype complex128"),
    (lambda: group_soft_threshold(np.ones((2, 2)), np.ones((2, 2)), groups="row"), ValueError,
     "threshold must be a number or an array of shape (2, 1) (one per group), not shape (2, 2)"),
    (lambda: group_soft_threshold(np.ones((2, 2)), 1.0, groups=None), TypeError,
     "groups must be 'row', 'column' or a Block, not None"),
    (lambda: group_soft_threshold(np.ones((2, 2)), 1.0, groups=NM(m=2)), ValueError,
     "groups must be 'row', 'column' or a Block, not NM(m=2, block_rows=1)"),
    (lambda: Mlp([np.ones((3, 2)), np.ones((2, 3))], scales=[np.ones(3), np.ones(2)]),
     ValueError, "scales must have one vector per hidden layer (1), not 2"),
    (lambda: Mlp([np.ones((3, 2)), np.ones((2, 3))], scales=[np.ones(2)]), ValueError,
     "scales[0] must have shape (3,) (the outputs of layer 0), not (2,)"),
    (lambda: Mlp([np.ones((3, 2)), np.ones((2, 3))], scales=[np.full(3, np.nan)]), ValueError,
     "scales[0] must hold only finite values"),
    (lambda: Mlp([np.ones((3, 2)), np.ones((2, 3))], scales=[np.ones(3, dtype=bool)]),
     TypeError, "scales[0] must be a real-valued array, not an array of dtype bool"),
    (lambda: Mlp([np.ones((3, 2)), np.ones((2, 3))], scales=2.0), TypeError,
     "scales must be a sequence of vectors or None, not 2.0"),
    (lambda: Mlp.init((2, 3, 2), scales=1), TypeError, "scales must be a bool, not 1"),
])
def test_errors(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message
