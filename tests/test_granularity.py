"""Granularities of prune_by_score, group norms, make_pruner and neuron removal, on hand-made cases.

Every expected mask or matrix below is worked out by hand in the comments.
"""

import math

import numpy as np
import pytest

from sw_model.prune import (
    NM,
    Balanced,
    Block,
    Column,
    Element,
    Row,
    group_norms,
    make_pruner,
    prune_by_score,
)
from sw_model.train import Mlp, remove_neurons

T, F = True, False


# --- element ------------------------------------------------------------------------------


def test_element_global_and_per_row():
    s = np.array([[0.1, 0.9, 0.5],
                  [0.7, 0.2, 0.6]])
    # 0.5 of 6: floor(3 + 0.5) = 3 kept, the three largest 0.9, 0.7, 0.6.
    assert prune_by_score(s, 0.5).tolist() == [[F, T, F], [T, F, T]]
    assert prune_by_score(s, 0.5, granularity="element").tolist() == [[F, T, F], [T, F, T]]
    # Per row: floor(0.34 * 3 + 0.5) = 1 kept in every row, its largest.
    assert prune_by_score(s, 0.34, granularity=Element(scope="row")).tolist() == [
        [F, T, F], [T, F, F]]


def test_element_ties_go_to_the_lower_index():
    assert prune_by_score(np.ones((1, 4)), 0.5).tolist() == [[T, T, F, F]]


# --- rows and columns, by L1, L2, L3 and max norms --------------------------------------------

# Row A: ten ones. Row B: 4.5, 4.5 and zeros. Row C: 6 and zeros.
ROWS = np.array([[1.0] * 10,
                 [4.5, 4.5] + [0.0] * 8,
                 [6.0] + [0.0] * 9])
ROW_NORMS = {
    1: [10.0, 9.0, 6.0],
    2: [math.sqrt(10), math.sqrt(2 * 4.5 ** 2), 6.0],                  # 3.16, 6.36, 6
    3: [10 ** (1 / 3), (2 * 4.5 ** 3) ** (1 / 3), 6.0],                # 2.15, 5.67, 6
    math.inf: [1.0, 4.5, 6.0],
}
# The one row kept (density 1/3: floor(1 + 0.5) = 1) is a different one for each norm.
ROW_WINNER = {1: 0, 2: 1, 3: 2, math.inf: 2}


@pytest.mark.parametrize("norm", [1, 2, 3, math.inf])
def test_row_norms(norm):
    assert group_norms(ROWS, granularity="row", norm=norm)[:, 0] == pytest.approx(
        ROW_NORMS[norm], rel=1e-12)
    want = np.zeros((3, 10), dtype=bool)
    want[ROW_WINNER[norm]] = True
    assert np.array_equal(prune_by_score(ROWS, 1 / 3, granularity="row", norm=norm), want)
    assert np.array_equal(prune_by_score(ROWS, 1 / 3, granularity=Row(), norm=norm), want)


@pytest.mark.parametrize("norm", [1, 2, 3, math.inf])
def test_column_norms(norm):
    cols = ROWS.T
    assert group_norms(cols, granularity="column", norm=norm)[0] == pytest.approx(
        ROW_NORMS[norm], rel=1e-12)
    want = np.zeros((10, 3), dtype=bool)
    want[:, ROW_WINNER[norm]] = True
    assert np.array_equal(prune_by_score(cols, 1 / 3, granularity=Column(), norm=norm), want)


def test_rows_two_of_three_by_l1():
    # floor(2/3 * 3 + 0.5) = 2: L1 norms 10, 9, 6 keep A and B.
    assert prune_by_score(ROWS, 2 / 3, granularity="row")[:, 0].tolist() == [T, T, F]


def test_vectors_of_scores_are_rows_or_columns():
    s = np.array([0.2, 0.9, 0.5])
    # floor(2/3 * 3 + 0.5) = 2 of 3: 0.9 and 0.5.
    assert prune_by_score(s, 2 / 3, granularity="row").tolist() == [F, T, T]
    assert prune_by_score(s, 2 / 3, granularity="column").tolist() == [F, T, T]


# --- blocks ---------------------------------------------------------------------------------


def test_k_by_1_vectors_by_l1_and_l2():
    s = np.array([[1.0, 0.0],
                  [2.0, 5.0],
                  [3.0, 1.0],
                  [0.0, 1.0]])
    # Vertical pairs: L1 (1+2, 0+5 / 3+0, 1+1) = [[3, 5], [3, 2]]; keep 2 of 4: 5 and the
    # first 3 (ties to the lower index, row-major): the top two pairs.
    assert group_norms(s, granularity=Block(rows=2, cols=1), norm=1).tolist() == [[3, 5], [3, 2]]
    assert prune_by_score(s, 0.5, granularity=Block(rows=2, cols=1)).tolist() == [
        [T, T], [T, T], [F, F], [F, F]]
    # L2: [[sqrt 5, 5], [3, sqrt 2]]: keep 5 and 3, the top right and bottom left pairs.
    assert group_norms(s, granularity=Block(rows=2, cols=1), norm=2) == pytest.approx(
        np.array([[math.sqrt(5), 5.0], [3.0, math.sqrt(2)]]), rel=1e-12)
    assert prune_by_score(s, 0.5, granularity=Block(rows=2, cols=1), norm=2).tolist() == [
        [F, T], [F, T], [T, F], [T, F]]


def test_k_by_k_blocks_with_partial_edges():
    s = np.array([[1.0, 1.0, 9.0],
                  [1.0, 1.0, 0.0],
                  [2.0, 2.5, 1.0]])
    # 2x2 tiles from the top left: [[1, 1], [1, 1]] = 4, [[9], [0]] = 9, [[2, 2.5]] = 4.5,
    # [[1]] = 1 (edge tiles hold what is left).
    assert group_norms(s, granularity=Block(rows=2, cols=2), norm=1).tolist() == [
        [4.0, 9.0], [4.5, 1.0]]
    # Keep 2 of 4 tiles: 9 and 4.5.
    assert prune_by_score(s, 0.5, granularity=Block(rows=2, cols=2)).tolist() == [
        [F, F, T], [F, F, T], [T, T, F]]
    # By the largest value: 1, 9, 2.5, 1: keep 9 and 2.5, the same tiles.
    assert group_norms(s, granularity=Block(rows=2, cols=2), norm=math.inf).tolist() == [
        [1.0, 9.0], [2.5, 1.0]]


# --- N:M --------------------------------------------------------------------------------------


def test_nm_per_row_and_vector_wise():
    s = np.array([[4.0, 0.0, 2.0, 0.0],
                  [0.0, 3.0, 2.0, 0.0]])
    # Per row, density 0.5 of m=4: n = floor(2 + 0.5) = 2 largest of each row.
    assert prune_by_score(s, 0.5, granularity=NM(m=4)).tolist() == [
        [T, F, T, F], [F, T, T, F]]
    # Vector-wise over both rows, L1: positions score 4, 3, 4, 0: keep 0 and 2.
    assert prune_by_score(s, 0.5, granularity=NM(m=4, block_rows=2)).tolist() == [
        [T, F, T, F], [T, F, T, F]]
    # L2: 4, 3, sqrt(8) = 2.83, 0: keep 0 and 1.
    assert prune_by_score(s, 0.5, granularity=NM(m=4, block_rows=2), norm=2).tolist() == [
        [T, T, F, F], [T, T, F, F]]
    # Density 0.125: n = floor(0.5 + 0.5) = 1.
    assert prune_by_score(s, 0.125, granularity=NM(m=4)).tolist() == [
        [T, F, F, F], [F, T, F, F]]


# --- PE-balanced ------------------------------------------------------------------------------

# PE 0 owns rows 0 and 2, PE 1 rows 1 and 3.
BALANCED = np.array([[1.0, 9.0],
                     [5.0, 6.0],
                     [3.0, 8.0],
                     [7.0, 2.0]])


def test_balanced_per_pe():
    # floor(0.5 * 2 * 2 + 0.5) = 2 per PE: PE 0 keeps 9 and 8, PE 1 keeps 7 and 6.
    assert prune_by_score(BALANCED, 0.5, granularity=Balanced(n_pe=2)).tolist() == [
        [F, T], [F, T], [F, T], [T, F]]
    # Unbalanced element pruning keeps 9, 8, 7, 6 too, but 0.25 (2 weights) shows the
    # difference: globally 9 and 8, both in PE 0; balanced, 9 in PE 0 and 7 in PE 1.
    assert prune_by_score(BALANCED, 0.25).tolist() == [[F, T], [F, F], [F, T], [F, F]]
    assert prune_by_score(BALANCED, 0.25, granularity=Balanced(n_pe=2)).tolist() == [
        [F, T], [F, F], [F, F], [T, F]]


def test_balanced_per_pe_and_column():
    # floor(0.5 * 2 + 0.5) = 1 per PE and column. PE 0: column 0 {1, 3} keeps 3 (row 2),
    # column 1 {9, 8} keeps 9 (row 0); PE 1: column 0 {5, 7} keeps 7, column 1 {6, 2} keeps 6.
    assert prune_by_score(BALANCED, 0.5, granularity=Balanced(n_pe=2, mode="column")).tolist() \
        == [[F, T], [F, T], [T, F], [T, F]]


# --- already pruned units --------------------------------------------------------------------


def test_dead_units_rank_below_live_ones_at_equal_scores():
    zero = np.zeros((1, 4))
    # Without alive, ties go to the lower index: positions 0 and 1.
    assert prune_by_score(zero, 0.5).tolist() == [[T, T, F, F]]
    # Positions 0 and 2 are already pruned: the live 1 and 3 are kept.
    alive = np.array([[F, T, F, T]])
    assert prune_by_score(zero, 0.5, alive=alive).tolist() == [[F, T, F, T]]
    # In a 1:4 group, the one live weight (position 2) wins a tie of zeros.
    assert prune_by_score(zero, 0.25, granularity=NM(m=4),
                          alive=np.array([[F, F, T, F]])).tolist() == [[F, F, T, F]]
    # A block is alive if any of its weights is: tiles 0 and 1 of [0 0 | 0 1] -> tile 1.
    assert prune_by_score(zero, 0.5, granularity=Block(rows=1, cols=2),
                          alive=np.array([[F, F, F, T]])).tolist() == [[F, F, T, T]]
    # A higher score does not save a dead unit: row 0 scores 9 but is dead.
    assert prune_by_score(np.array([9.0, 1.0, 2.0]), 1 / 3, granularity="row",
                          alive=np.array([F, T, T])).tolist() == [F, F, T]


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("call, exc, message", [
    (lambda: prune_by_score(np.ones((2, 2)), 0.0), ValueError,
     "density must be in the range (0, 1], not 0.0"),
    (lambda: prune_by_score(np.ones((2, 2)), float("nan")), ValueError,
     "density must be in the range (0, 1], not nan"),
    (lambda: prune_by_score(np.ones((2, 2)), True), TypeError,
     "density must be a number, not True"),
    (lambda: prune_by_score(np.ones((2, 2)), 0.5, norm=0.5), ValueError,
     "norm must be at least 1 (p of an Lp norm, inf for the maximum), not 0.5"),
    (lambda: prune_by_score(np.ones((2, 2)), 0.5, norm=float("nan")), ValueError,
     "norm must be at least 1 (p of an Lp norm, inf for the maximum), not nan"),
    (lambda: prune_by_score(np.ones((2, 2)), 0.5, norm="2"), TypeError,
     "norm must be a number, not '2'"),
    (lambda: prune_by_score(-np.ones((2, 2)), 0.5), ValueError,
     "scores must be at least 0 (higher means more important), but holds -1.0"),
    (lambda: prune_by_score(np.array([[1.0, np.nan]]), 0.5), ValueError,
     "scores must hold only finite values, but holds nan"),
    (lambda: prune_by_score(np.array([[1.0, np.inf]]), 0.5), ValueError,
     "scores must hold only finite values, but holds inf"),
    (lambda: prune_by_score(np.ones((2, 2)) * 1j, 0.5), TypeError,
     "scores must be a real-valued array, not an array of dtype complex128"),
    (lambda: prune_by_score(np.ones((2, 2, 2)), 0.5), ValueError,
     "scores must be a vector (one score per row or column) or a 2-D matrix, not shape "
     "(2, 2, 2)"),
    (lambda: prune_by_score(np.ones(4), 0.5), ValueError,
     "A vector of scores holds one score per row or per column, so granularity must be Row or "
     "Column, not Element(scope='global')"),
    (lambda: prune_by_score(np.ones((2, 2)), 0.5, granularity="block"), TypeError,
     "granularity must be 'element', 'row', 'column' or a Granularity (Element, Row, Column, "
     "Block, NM, Balanced), not 'block'"),
    (lambda: Element(scope="column"), ValueError, "scope must be 'global' or 'row', not 'column'"),
    (lambda: Block(rows=0, cols=2), ValueError, "rows must be at least 1, not 0"),
    (lambda: Block(rows=2, cols=1.5), TypeError, "cols must be an integer, not 1.5"),
    (lambda: NM(m=3), ValueError, "m must be a power of two, not 3"),
    (lambda: NM(m=4, block_rows=0), ValueError, "block_rows must be at least 1, not 0"),
    (lambda: prune_by_score(np.ones((2, 6)), 0.5, granularity=NM(m=4)), ValueError,
     "The number of columns (6) must be a multiple of m (4)"),
    (lambda: prune_by_score(np.ones((2, 4)), 0.1, granularity=NM(m=4)), ValueError,
     "density must be at least 0.125 for N:M with m=4 (n = floor(density * m + 0.5) must be at "
     "least 1), not 0.1"),
    (lambda: Balanced(n_pe=0), ValueError, "n_pe must be at least 1, not 0"),
    (lambda: Balanced(n_pe=2, mode="row"), ValueError, "mode must be 'pe' or 'column', not 'row'"),
    (lambda: prune_by_score(np.ones((2, 2)), 0.5, alive=np.ones((2, 2))), TypeError,
     "alive must be a boolean array or None, not an array of dtype float64"),
    (lambda: prune_by_score(np.ones((2, 2)), 0.5, alive=np.ones(2, dtype=bool)), ValueError,
     "alive must have the shape of scores (2, 2), not (2,)"),
    (lambda: group_norms(np.ones((2, 2)), granularity="row", norm=0), ValueError,
     "norm must be at least 1 (p of an Lp norm, inf for the maximum), not 0"),
])
def test_errors(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message


# --- make_pruner --------------------------------------------------------------------------


def test_make_pruner_prunes_by_its_score_and_granularity():
    w = np.array([[1.0, -2.0],
                  [3.0, 0.5],
                  [-0.5, 0.5]])
    prune = make_pruner(lambda layer, w: np.abs(w), granularity="row")
    # Row L1 norms 3, 3.5, 1: keep floor(2/3 * 3 + 0.5) = 2 rows, 1 and 0.
    assert prune(0, w, 2 / 3).tolist() == [[1.0, -2.0], [3.0, 0.5], [0.0, 0.0]]
    assert w[2].tolist() == [-0.5, 0.5]         # the input is not modified


def test_make_pruner_ranks_dead_units_last():
    w = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    # Row 0 is already pruned: its high score is ignored, so rows 1 and 2 are kept.
    prune = make_pruner(lambda layer, w: np.array([9.0, 1.0, 2.0]), granularity="row")
    assert prune(0, w, 2 / 3).tolist() == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    # With 1 kept: row 2 (score 2), not the dead row 0.
    assert prune(0, w, 1 / 3).tolist() == [[0.0, 0.0], [0.0, 0.0], [2.0, 2.0]]
    # The same for single weights: the zero at [0, 1] scores 0 whatever score says.
    w = np.array([[1.0, 0.0]])
    prune = make_pruner(lambda layer, w: np.array([[1.0, 5.0]]))
    assert prune(0, w, 0.5).tolist() == [[1.0, 0.0]]
    # A 1:4 group whose scores are all 0 (an unused input, a dead neuron) keeps its live
    # weight, not the lower-index one pruned at an earlier step.
    w = np.array([[0.0, 3.0, 0.0, 0.0]])
    prune = make_pruner(lambda layer, w: np.zeros((1, 4)), granularity=NM(m=4))
    assert prune(0, w, 0.25).tolist() == [[0.0, 3.0, 0.0, 0.0]]


def test_make_pruner_layers_and_refit():
    w = np.array([[4.0, 1.0], [2.0, 3.0]])
    prune = make_pruner(lambda layer, w: np.abs(w), layers=[1],
                        refit=lambda layer, w, mask: w * 10.0)
    assert prune(0, w, 0.5).tolist() == w.tolist()               # not in layers
    # Layer 1: keep 4 and 3, then the refit's values at the kept places only.
    assert prune(1, w, 0.5).tolist() == [[40.0, 0.0], [0.0, 30.0]]


@pytest.mark.parametrize("call, exc, message", [
    (lambda: make_pruner(None), TypeError, "score must be callable, not None"),
    (lambda: make_pruner(np.abs, refit=1), TypeError, "refit must be callable or None, not 1"),
    (lambda: make_pruner(np.abs, layers=1), TypeError,
     "layers must be a sequence of layer numbers or None, not 1"),
    (lambda: make_pruner(np.abs, layers=[0, -1]), ValueError,
     "layers[1] must be at least 0, not -1"),
    (lambda: make_pruner(lambda layer, w: np.ones(3), granularity="row")(0, np.ones((2, 2)), 0.5),
     ValueError, "score(0, w) returned 3 scores for 2 rows"),
    (lambda: make_pruner(lambda layer, w: np.ones(3), granularity="column")(
        1, np.ones((2, 2)), 0.5), ValueError, "score(1, w) returned 3 scores for 2 columns"),
    (lambda: make_pruner(lambda layer, w: np.ones((2, 3)))(0, np.ones((2, 2)), 0.5), ValueError,
     "score(0, w) returned scores of shape (2, 3) for weights of shape (2, 2)"),
    (lambda: make_pruner(lambda layer, w: np.ones(2), granularity=Block(rows=2, cols=2))(
        0, np.ones((2, 2)), 0.5), ValueError,
     "A vector of scores holds one score per row or per column, so granularity must be Row or "
     "Column, not Block(rows=2, cols=2)"),
    (lambda: make_pruner(lambda layer, w: -w)(0, np.ones((2, 2)), 0.5), ValueError,
     "scores must be at least 0 (higher means more important), but holds -1.0"),
])
def test_make_pruner_errors(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message


# --- removing neurons ---------------------------------------------------------------------


def test_remove_neurons_shrinks_both_layers():
    w0 = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])          # 3 hidden neurons, 2 inputs
    w1 = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])        # 2 outputs
    small = remove_neurons([w0, w1], [np.array([T, F, T])])
    # Neuron 1 goes: row 1 of w0 and column 1 of w1.
    assert [m.tolist() for m in small] == [[[1.0, 2.0], [5.0, 6.0]],
                                           [[10.0, 30.0], [40.0, 60.0]]]
    # None keeps a layer whole.
    assert [m.tolist() for m in remove_neurons([w0, w1], [None])] == [w0.tolist(), w1.tolist()]


def test_remove_neurons_keeps_the_bias_columns():
    w0 = np.array([[1.0, 2.0, 0.1], [3.0, 4.0, 0.2], [5.0, 6.0, 0.3]])        # bias last
    w1 = np.array([[10.0, 20.0, 30.0, 0.7], [40.0, 50.0, 60.0, 0.8]])
    small = remove_neurons([w0, w1], [np.array([F, T, T])], bias=True)
    # Row 0 of w0 (with its bias 0.1) and column 0 of w1; w1's bias column stays.
    assert [m.tolist() for m in small] == [[[3.0, 4.0, 0.2], [5.0, 6.0, 0.3]],
                                           [[20.0, 30.0, 0.7], [50.0, 60.0, 0.8]]]


def test_removing_a_dead_neuron_keeps_the_function():
    # Neuron 1 has zero inputs and bias: it outputs relu(0) = 0 for every input.
    mlp = Mlp([np.array([[1.0, -1.0, 0.5], [0.0, 0.0, 0.0], [2.0, 1.0, -0.5]]),
               np.array([[1.0, 7.0, -1.0, 0.25], [0.5, -3.0, 2.0, 0.0]])],
              bias=True, scales=[np.array([2.0, 3.0, 0.5])])
    mlp.masks[1][0, 0] = False
    small = mlp.remove_neurons([np.array([T, F, T])])
    x = np.array([[1.0, 2.0], [-1.0, 0.5], [3.0, -2.0]])
    assert np.allclose(small.forward(x)[0], mlp.forward(x)[0], rtol=1e-14, atol=0)
    assert [w.shape for w in small.weights] == [(2, 3), (2, 3)]
    assert small.masks[1].tolist() == [[F, T, T], [T, T, T]]
    assert small.scales[0].tolist() == [2.0, 0.5]
    assert small.bias == (True, True)


@pytest.mark.parametrize("keep, exc, message", [
    ([], ValueError, "keep must have one entry per hidden layer (1), not 0"),
    ([np.array([1, 0, 1])], TypeError,
     "keep[0] must be a boolean vector or None, not an array of dtype int64"),
    ([np.array([T, F])], ValueError,
     "keep[0] must have shape (3,) (the outputs of layer 0), not (2,)"),
    ([np.array([F, F, F])], ValueError,
     "keep[0] removes every neuron of hidden layer 0; at least one must stay"),
    (np.array([T, F, T]).tolist()[0], TypeError,
     "keep must be a sequence of boolean vectors (or None), not True"),
])
def test_remove_neurons_errors(keep, exc, message):
    with pytest.raises(exc) as info:
        remove_neurons([np.ones((3, 2)), np.ones((2, 3))], keep)
    assert str(info.value) == message


def test_remove_neurons_checks_the_shapes():
    with pytest.raises(ValueError) as info:
        remove_neurons([np.ones((3, 2)), np.ones((2, 4))], [None])
    assert str(info.value) == "weights[1] has 4 inputs but weights[0] has 3 outputs"
    with pytest.raises(ValueError) as info:
        remove_neurons([np.ones((3, 2)), np.full((2, 3), np.nan)], [None])
    assert str(info.value) == "weights[1] must hold only finite values"
