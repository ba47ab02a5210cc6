"""Pruning criteria on hand-computed cases, and every criterion through iterative_prune."""

import copy
import math

import numpy as np
import pytest

from sw_model.criteria import (
    criterion_pruner,
    hessian_diagonal,
    layer_scorer,
    refit_least_squares,
    score_apoz,
    score_magnitude,
    score_obd,
    score_regression,
    score_slimming,
)
from sw_model.prune import NM, Balanced, Block, prune_by_score
from sw_model.train import Mlp, iterative_prune, load_digits_dataset, train

T, F = True, False
E = math.e


def test_magnitude():
    assert score_magnitude([[-3.0, 0.5], [0.0, 2.0]]).tolist() == [[3.0, 0.5], [0.0, 2.0]]
    with pytest.raises(ValueError, match=r"^w must hold only finite values$"):
        score_magnitude([[np.nan]])


# --- Optimal Brain Damage -------------------------------------------------------------------

# One linear layer, 2 classes, 2 samples. Logits: x1 = [1, 2] gives [0.5 + 0.5, 1 - 1] =
# [1, 0]; x2 = [2, 0] gives [1, 2]. Softmax: p(x1) = [e, 1] / (1 + e),
# p(x2) = [1, e] / (1 + e).
OBD_W = np.array([[0.5, 0.25], [1.0, -0.5]])
OBD_X = np.array([[1.0, 2.0], [2.0, 0.0]])
OBD_Y = np.array([0, 1])


def test_obd_gauss_newton_by_hand():
    # A logit's Hessian diagonal is p_k (1 - p_k) = p0 p1 = e / (1 + e)^2 =: q for both
    # samples, and d z_k / d w_kj = x_j, so h_kj = mean over samples of x_j^2 q:
    # column 0: (1 + 4) / 2 q, column 1: (4 + 0) / 2 q.
    q = E / (1 + E) ** 2
    h = np.array([[2.5 * q, 2.0 * q], [2.5 * q, 2.0 * q]])
    mlp = Mlp([OBD_W.copy()])
    assert hessian_diagonal(mlp, OBD_X)[0] == pytest.approx(h, rel=1e-12)
    assert score_obd(mlp, OBD_X)[0] == pytest.approx(0.5 * h * OBD_W ** 2, rel=1e-12)


def test_obd_empirical_fisher_by_hand():
    # Per-sample logit gradient p - onehot(y): x1 (label 0): [-1, 1] / (1 + e); x2 (label 1):
    # [1, -1] / (1 + e). Squared, every entry is r = 1 / (1 + e)^2, times x_j^2.
    r = 1 / (1 + E) ** 2
    h = np.array([[2.5 * r, 2.0 * r], [2.5 * r, 2.0 * r]])
    mlp = Mlp([OBD_W.copy()])
    assert hessian_diagonal(mlp, OBD_X, OBD_Y, hessian="fisher")[0] == pytest.approx(h, rel=1e-12)
    assert score_obd(mlp, OBD_X, OBD_Y, hessian="fisher")[0] == pytest.approx(
        0.5 * h * OBD_W ** 2, rel=1e-12)


def _longhand_logits(w0, gamma, w1, x):
    """The network of the finite-difference test, written out: bias columns last."""
    hidden = np.maximum(x @ w0[:, :-1].T + w0[:, -1], 0.0) * gamma
    return hidden @ w1[:, :-1].T + w1[:, -1]


def test_obd_hessians_match_finite_differences():
    """Both Hessian diagonals against a longhand definition with numerical derivatives.

    A 3-4-3 network with biases and scale factors; every weight is perturbed by +-1e-6
    and the derivatives of the logits (for Gauss-Newton, J^T (diag p - p p^T) J) or of the
    per-sample losses (for the empirical Fisher, mean of their squares) are taken by
    central differences.
    """
    rng = np.random.default_rng(7)
    w0, w1 = rng.normal(size=(4, 4)), rng.normal(size=(3, 5))
    gamma = np.array([1.5, -0.5, 2.0, 0.75])
    x, y = rng.normal(size=(6, 3)), np.array([0, 1, 2, 2, 1, 0])
    pre = x @ w0[:, :-1].T + w0[:, -1]
    assert np.abs(pre).min() > 1e-3        # no sample sits on a ReLU's kink
    mlp = Mlp([w0.copy(), w1.copy()], bias=True, scales=[gamma])

    def losses(z):
        z = z - z.max(axis=1, keepdims=True)
        return -(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1)))

    z = _longhand_logits(w0, gamma, w1, x)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    step = 1e-6
    fisher = [np.zeros_like(w0), np.zeros_like(w1)]
    gauss_newton = [np.zeros_like(w0), np.zeros_like(w1)]
    for layer, w in enumerate((w0, w1)):
        for idx in np.ndindex(w.shape):
            plus, minus = [w0.copy(), w1.copy()], [w0.copy(), w1.copy()]
            plus[layer][idx] += step
            minus[layer][idx] -= step
            z_plus = _longhand_logits(plus[0], gamma, plus[1], x)
            z_minus = _longhand_logits(minus[0], gamma, minus[1], x)
            jac = (z_plus - z_minus) / (2 * step)                         # (samples, classes)
            grad = (losses(z_plus) - losses(z_minus)) / (2 * step)        # (samples,)
            fisher[layer][idx] = np.mean(grad ** 2)
            gauss_newton[layer][idx] = np.mean([
                j @ (np.diag(pn) - np.outer(pn, pn)) @ j for j, pn in zip(jac, p, strict=True)])
    for got, want in zip(hessian_diagonal(mlp, x, y, hessian="fisher"), fisher, strict=True):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-9)
    for got, want in zip(hessian_diagonal(mlp, x), gauss_newton, strict=True):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-9)


# --- APoZ and slimming ----------------------------------------------------------------------


def test_apoz_by_hand():
    w0 = np.array([[1.0, -1.0], [0.0, 1.0], [-1.0, -1.0]])
    w1 = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    w2 = np.ones((2, 2))
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    # Layer 0: neuron 0 = relu(x0 - x1) = [1, 0, 0, 1]: 2 zeros of 4, APoZ 0.5;
    # neuron 1 = relu(x1) = [0, 1, 1, 1]: APoZ 0.25; neuron 2 = relu(-x0 - x1) = 0: APoZ 1.
    # Layer 1: neuron 0 = relu(neuron 0) = [1, 0, 0, 1]: APoZ 0.5; neuron 1 = relu(-it) = 0.
    scores = score_apoz(Mlp([w0, w1, w2]), x)
    assert [s.tolist() for s in scores] == [[0.5, 0.75, 0.0], [0.5, 0.0]]
    # A zero scale factor silences neuron 1 of layer 0: APoZ 1.
    scaled = Mlp([w0, w1, w2], scales=[np.array([1.0, 0.0, 2.0]), np.ones(2)])
    assert score_apoz(scaled, x)[0].tolist() == [0.5, 0.0, 0.0]
    # Keep floor(2/3 * 3 + 0.5) = 2 neurons of layer 0: 0.75 and 0.5.
    assert prune_by_score(scores[0], 2 / 3, granularity="row").tolist() == [T, T, F]


def test_slimming_by_hand():
    mlp = Mlp([np.ones((3, 2)), np.ones((2, 3))], scales=[np.array([-0.5, 0.2, 0.0])])
    scores = score_slimming(mlp)
    assert [s.tolist() for s in scores] == [[0.5, 0.2, 0.0]]
    assert prune_by_score(scores[0], 2 / 3, granularity="row").tolist() == [T, T, F]
    with pytest.raises(ValueError, match=r"^score_slimming needs an Mlp with scale factors"):
        score_slimming(Mlp([np.ones((3, 2)), np.ones((2, 3))]))


# --- regression -----------------------------------------------------------------------------


def test_regression_picks_the_column_that_explains_most():
    x = np.array([[1.0, 1.0], [1.0, 0.0]])
    w = np.array([[1.0, 1.0]])
    # Outputs Y = [2, 1]. Alone, column 0 ([1, 1]) leaves |Y|^2 - (x0.Y)^2 / |x0|^2 = 5 - 9/2
    # = 0.5; column 1 ([1, 0]) leaves 5 - 4 = 1. Column 0 first: scores 2 and 1.
    assert score_regression(w, x).tolist() == [2.0, 1.0]
    # Refit of column 0 alone: a = (x0.Y) / |x0|^2 = 3 / 2.
    assert refit_least_squares(w, x, mask=np.array([[T, F]])) == pytest.approx(
        np.array([[1.5, 0.0]]), rel=1e-12)


def test_regression_weighs_the_inputs_not_only_the_weights():
    # Orthogonal inputs: column j alone explains |x_j|^2 |w_:j|^2: 1 * 2, 4 * 1, 1 * 9.
    x = np.diag([1.0, 2.0, 1.0])
    w = np.array([[1.0, 1.0, 3.0], [1.0, 0.0, 0.0]])
    assert score_regression(w, x).tolist() == [1.0, 2.0, 3.0]
    # By magnitude (column L1 norms 2, 1, 3), column 0 would rank above column 1.
    assert prune_by_score(np.abs(w), 2 / 3, granularity="column")[0].tolist() == [T, F, T]
    assert prune_by_score(score_regression(w, x), 2 / 3, granularity="column").tolist() == [
        F, T, T]


def test_regression_puts_dependent_columns_last():
    # x2 = x0 + x1 and w = [1, 1, 1]: Y = x0 + x1 + x2 = [2, 2, 0]. Gains: x0: 4, x1: 4,
    # x2: 16 / 2 = 8, so x2 first; it explains Y entirely, leaving gains of 0 (x0 next, the
    # lower index of a tie) and then x1, which is x2 - x0: nothing new.
    x = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    w = np.array([[1.0, 1.0, 1.0]])
    assert score_regression(w, x).tolist() == [2.0, 1.0, 3.0]
    # Keeping x2 alone and refitting reproduces Y exactly: 2 * x2.
    assert refit_least_squares(w, x, mask=np.array([[F, F, T]])) == pytest.approx(
        np.array([[0.0, 0.0, 2.0]]), abs=1e-12)


def test_regression_and_refit_with_a_bias():
    x = np.array([[0.0], [1.0], [2.0]])
    w = np.array([[2.0, 1.0]])                    # y = 2 x + 1: Y = [1, 3, 5]
    # Column x: (0 + 3 + 10)^2 / 5 = 33.8; the bias's constant 1: 9^2 / 3 = 27.
    assert score_regression(w, x, bias=True).tolist() == [2.0, 1.0]
    # x alone: a = 13 / 5; the bias alone: the mean of Y, 3.
    assert refit_least_squares(w, x, mask=np.array([[T, F]]), bias=True) == pytest.approx(
        np.array([[2.6, 0.0]]), rel=1e-12)
    assert refit_least_squares(w, x, mask=np.array([[F, T]]), bias=True) == pytest.approx(
        np.array([[0.0, 3.0]]), rel=1e-12)


def test_refit_rows_with_different_masks():
    x = np.array([[1.0, 1.0], [1.0, 0.0]])
    w = np.array([[1.0, 1.0], [2.0, -1.0], [3.0, 3.0]])
    # Row 0 as above; row 1 keeps both columns of an invertible x: unchanged; row 2 keeps
    # nothing. The third row, like the first, keeps column 0 when it keeps one.
    mask = np.array([[T, F], [T, T], [F, F]])
    assert refit_least_squares(w, x, mask=mask) == pytest.approx(
        np.array([[1.5, 0.0], [2.0, -1.0], [0.0, 0.0]]), rel=1e-12)


# --- errors ---------------------------------------------------------------------------------


def _net():
    return Mlp([np.ones((3, 2)), np.ones((2, 3))])


X2 = np.ones((4, 2))


@pytest.mark.parametrize("call, exc, message", [
    (lambda: hessian_diagonal(_net(), X2, hessian="newton"), ValueError,
     "hessian must be 'gauss-newton' or 'fisher', not 'newton'"),
    (lambda: hessian_diagonal(_net(), X2, hessian="fisher"), ValueError,
     "hessian='fisher' needs the labels y of the calibration inputs"),
    (lambda: hessian_diagonal(_net(), X2, [0, 1, 0, 1]), ValueError,
     "hessian='gauss-newton' takes no labels (it weighs every class by the model's "
     "probability); pass y=None"),
    (lambda: hessian_diagonal(_net(), X2, [0, 1, 0, 2], hessian="fisher"), ValueError,
     "y must hold class labels in [0, 1], but holds 2"),
    (lambda: hessian_diagonal(_net(), X2, [0, 1], hessian="fisher"), ValueError,
     "y must have shape (4,) (one label per sample of x), not (2,)"),
    (lambda: hessian_diagonal(_net(), X2, [0.0, 1, 0, 1], hessian="fisher"), TypeError,
     "y must be an integer array of class labels, not an array of dtype float64"),
    (lambda: score_obd(_net(), np.ones((4, 3))), ValueError,
     "x must have shape (samples, 2) with at least one sample, not (4, 3)"),
    (lambda: score_apoz(_net(), np.full((4, 2), np.inf)), ValueError,
     "x must hold only finite values"),
    (lambda: score_apoz(_net(), X2 * 1j), TypeError,
     "x must be a real-valued array, not an array of dtype complex128"),
    (lambda: score_apoz(None, X2), TypeError, "mlp must be an Mlp, not None"),
    (lambda: score_regression(np.ones((2, 3)), X2, bias=1), TypeError,
     "bias must be a bool, not 1"),
    (lambda: score_regression(np.ones((2, 3)), X2), ValueError,
     "x must have shape (samples, 3) with at least one sample, not (4, 2)"),
    (lambda: refit_least_squares(np.ones((2, 2)), X2, mask=np.ones((2, 2))), TypeError,
     "mask must be a boolean array, not an array of dtype float64"),
    (lambda: refit_least_squares(np.ones((2, 2)), X2, mask=np.ones((2, 3), dtype=bool)),
     ValueError, "mask must have the shape of w (2, 2), not (2, 3)"),
    (lambda: layer_scorer("taylor", _net()), ValueError,
     "criterion must be one of 'magnitude', 'obd', 'obd-fisher', 'apoz', 'slimming', "
     "'regression', not 'taylor'"),
    (lambda: layer_scorer("apoz", _net()), ValueError, "criterion 'apoz' needs x"),
    (lambda: layer_scorer("obd-fisher", _net(), x=X2), ValueError,
     "criterion 'obd-fisher' needs y"),
    (lambda: layer_scorer("magnitude", _net(), x=X2), ValueError,
     "criterion 'magnitude' does not use x; pass x=None"),
    (lambda: layer_scorer("obd", _net(), x=X2, y=[0, 0, 0, 0]), ValueError,
     "criterion 'obd' does not use y; pass y=None"),
    (lambda: layer_scorer("apoz", _net(), x=X2)(1, np.ones((2, 3))), ValueError,
     "criterion 'apoz' scores hidden neurons; layer 1 is the output layer"),
    (lambda: layer_scorer("apoz", _net(), x=X2)(2, np.ones((2, 3))), ValueError,
     "layer must be in the range [0, 1], not 2"),
    (lambda: layer_scorer("obd", _net(), x=X2)(0, np.zeros((3, 2))), ValueError,
     "w is not mlp.weights[0]: criterion 'obd' scores the network it was built on"),
    (lambda: criterion_pruner("apoz", _net(), granularity="element", x=X2), ValueError,
     "criterion 'apoz' scores whole rows, so granularity must be Row, not "
     "Element(scope='global')"),
    (lambda: criterion_pruner("regression", _net(), granularity="row", x=X2), ValueError,
     "criterion 'regression' scores whole columns, so granularity must be Column, not Row()"),
    (lambda: criterion_pruner("magnitude", _net(), granularity="row", refit=True), ValueError,
     "refit needs x, a calibration batch of the network's inputs"),
    (lambda: criterion_pruner("magnitude", _net(), granularity="row", refit="yes"), TypeError,
     "refit must be a bool, not 'yes'"),
])
def test_errors(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message


# --- every criterion through iterative_prune -------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    """A 64-24-10 MLP with scale factors, trained on the digits with a little slimming."""
    data = load_digits_dataset(seed=0)
    mlp = Mlp.init((64, 24, 10), seed=0, scales=True)
    train(mlp, data, epochs=8, seed=0, scale_l1=1e-3)
    return data, mlp


def _tiles_kept(w, rows, cols):
    """How many ``rows x cols`` tiles of ``w`` hold a nonzero."""
    r, c = w.shape
    return int(np.abs(w).reshape(r // rows, rows, c // cols, cols).sum(axis=(1, 3)).astype(
        bool).sum())


def _kept(density, size):
    return math.floor(density * size + 0.5)


@pytest.mark.parametrize("criterion, granularity, refit, check", [
    # Element: floor(0.25 * size + 0.5) weights per layer.
    ("magnitude", "element", False,
     lambda w, last: np.count_nonzero(w) == _kept(0.25, w.size)),
    # 2x2 blocks: (24/2)(64/2) = 384 and (10/2)(24/2) = 60 tiles.
    ("obd", Block(rows=2, cols=2), False,
     lambda w, last: _tiles_kept(w, 2, 2) == _kept(0.25, w.size // 4)),
    # 1:4 (0.25 of m=4): one weight in every group of 4.
    ("obd-fisher", NM(m=4), False,
     lambda w, last: (np.count_nonzero(w.reshape(w.shape[0], -1, 4), axis=2) == 1).all()),
    # Hidden neurons: floor(0.25 * 24 + 0.5) = 6 rows left; the output layer untouched.
    ("apoz", "row", False,
     lambda w, last: last or np.count_nonzero(w.any(axis=1)) == 6),
    ("slimming", "row", False,
     lambda w, last: last or np.count_nonzero(w.any(axis=1)) == 6),
    # Inputs: 16 of 64 and 6 of 24 columns, refitted.
    ("regression", "column", True,
     lambda w, last: np.count_nonzero(w.any(axis=0)) == _kept(0.25, w.shape[1])),
    # Balanced over 4 PEs: every PE the same count, from ceil(rows / 4) local rows.
    ("magnitude", Balanced(n_pe=4), False,
     lambda w, last: {np.count_nonzero(w[pe::4]) for pe in range(4)} == {
         _kept(0.25, -(-w.shape[0] // 4) * w.shape[1])}),
])
def test_every_criterion_plugs_into_iterative_prune(trained, criterion, granularity, refit,
                                                    check):
    data, dense = trained
    mlp = copy.deepcopy(dense)
    x = data.x_train[:256] if criterion in ("obd", "obd-fisher", "apoz", "regression") else None
    y = data.y_train[:256] if criterion == "obd-fisher" else None
    prune = criterion_pruner(criterion, mlp, granularity=granularity, x=x, y=y, refit=refit)
    history = iterative_prune(mlp, data, schedule=[0.5, 0.25], prune=prune, finetune_epochs=3,
                              lr=3e-3, seed=1)
    assert [d for d, _ in history] == [0.5, 0.25]
    for i, w in enumerate(mlp.weights):
        assert check(w, i == len(mlp.weights) - 1), f"layer {i}"
        assert not w[~mlp.masks[i]].any()
    # Far above chance (0.1), though a quarter of the network is left.
    assert history[-1][1] > 0.6
