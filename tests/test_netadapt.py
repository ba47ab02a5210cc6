"""The EIE cost oracle and the NetAdapt search, on networks small enough to follow by hand."""

import gc
import math
import warnings

import numpy as np
import pytest

from sw_model.config import EieConfig
from sw_model.prune import make_pruner
from sw_model.search import (
    EieCost,
    Proposal,
    clear_dead_neurons,
    eie_cost,
    eie_oracle,
    fewest_cycles_within,
    netadapt,
    pareto_front,
)
from sw_model.train import Dataset, Mlp

CONFIG = EieConfig(n_pe=2)


@pytest.fixture(scope="module")
def timing():
    """The latencies of a 2-PE array, read from the design (built, never elaborated)."""
    from amaranth.hdl import UnusedElaboratable

    from hw.eie.array import EieArray

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        timing = EieArray(config=CONFIG).timing
        gc.collect()
    return timing


# --- eie_cost ------------------------------------------------------------------------------


def test_cycles_of_an_identity_layer_by_hand(timing):
    """``W = I`` (2 x 2) on 2 PEs: row 0 in PE 0, row 1 in PE 1, one entry each.

    Input [1, 0]: one group, read at ``read_first``, taken at ``+ group_latency``;
    column 0 is broadcast the cycle after (b); PE 0 issues its entry one cycle
    after its pointer stage, ``b + ptr_latency + 1``, and is idle
    ``pe_drain`` later; the layer ends ``idle_latency`` after that, and lasts
    one cycle more than its last cycle number:
    ``read_first + group_latency + 1 + ptr_latency + 1 + pe_drain + idle_latency + 1``.
    Input [1, 1]: column 1 is broadcast one cycle later and PE 1's entry
    issues one cycle later: one cycle more. The mean of the two is +0.5.
    """
    one = (timing.read_first + timing.group_latency + timing.ptr_latency + timing.pe_drain
           + timing.idle_latency + 3)
    cost = eie_cost([np.eye(2)], np.array([[1.0, 0.0], [1.0, 1.0]]), config=CONFIG,
                    timing=timing)
    assert cost.cycles == one + 0.5
    # Each PE: one entry in one 64-bit word; 3 column pointers of ptr_bits =
    # bit length of 1024 words x 8 entries = 14; one codebook of 16 x 16 bits.
    assert CONFIG.ptr_bits == 14
    assert cost.stored_bits == 2 * 64 + 2 * 3 * 14 + 16 * 16


def test_stored_bits_with_a_bias_column(timing):
    """``[[1, 0 | 0.5], [0, 1 | 0]]``: PE 0 holds 2 entries (one word), PE 1 one; 4 pointers."""
    cost = eie_cost([np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])], np.array([[1.0, 0.0]]),
                    config=CONFIG, timing=timing, bias=True)
    assert cost.stored_bits == 2 * 64 + 2 * 4 * 14 + 16 * 16


def test_oracle_folds_scale_factors(timing):
    """16 hidden neurons, the last 8 with scale factor 0: folded, layer 1 keeps 8 weights.

    Layer 0 (16 x 1, ones): 8 entries per PE, one word each, 2 pointers per PE.
    Layer 1 (1 x 16): its one row is PE 0's; folded it has 8 entries (one word;
    16 without folding would take two), PE 1 none; 17 pointers per PE.
    """
    mlp = Mlp([np.ones((16, 1)), np.ones((1, 16))], scales=[np.array([1.0] * 8 + [0.0] * 8)])
    cost = eie_oracle(np.array([[1.0]]), config=CONFIG, timing=timing)(mlp)
    layer0 = 2 * 64 + 2 * 2 * 14 + 256
    layer1 = 64 + 2 * 17 * 14 + 256
    assert cost.stored_bits == layer0 + layer1


@pytest.mark.parametrize("kwargs, error, message", [
    ({"config": "eie"}, TypeError, "config must be an EieConfig, not 'eie'"),
    ({"timing": None}, TypeError, "timing must be an EieTiming (from EieArray(config=...).timing "
                                  "or the design's side-car), not None"),
    ({"x": np.zeros(2)}, ValueError,
     "x must have shape (samples, 2) with at least one sample, not (2,)"),
    ({"x": np.array([[np.nan, 0.0]])}, ValueError, "x must hold only finite values"),
    ({"x": np.array([["a", "b"]])}, TypeError,
     "x must be a real-valued array, not an array of dtype <U1"),
    ({"weights": [np.eye(2), np.array([[np.inf, 0.0]])]}, ValueError,
     "weights[1]: w must hold only finite values"),
    ({"weights": []}, TypeError, "weights must be a non-empty sequence of weight matrices, "
                                 "not []"),
    ({"weights": [np.ones((3, 2))], "config": EieConfig(n_pe=2, act_depth=1)}, ValueError,
     "Layer 0 has 3 outputs, more than max_dim = 2 (act_depth 1 x n_pe 2)"),
])
def test_eie_cost_bad_input(timing, kwargs, error, message):
    arguments = {"weights": [np.eye(2)], "x": np.ones((1, 2)), "config": CONFIG,
                 "timing": timing} | kwargs
    weights, x = arguments.pop("weights"), arguments.pop("x")
    with pytest.raises(error) as info:
        eie_cost(weights, x, **arguments)
    assert str(info.value) == message


# --- clear_dead_neurons --------------------------------------------------------------------


def test_clear_dead_neurons_by_hand():
    """Hidden neuron 1 of layer 0 has no inputs, neuron 2 no outgoing weights: both go.

    Then neuron 0 of layer 1 has lost its only input (column 1): its row is all
    zero, so its outgoing column in layer 2 goes too.
    """
    w0 = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, 4.0]])
    w1 = np.array([[0.0, 5.0, 0.0], [6.0, 7.0, 0.0]])
    w2 = np.array([[1.0, 1.0], [2.0, 2.0]])
    mlp = Mlp([w0.copy(), w1.copy(), w2.copy()])
    x = np.random.default_rng(0).uniform(-1, 1, size=(7, 2))
    before = np.maximum(np.maximum(x @ w0.T, 0) @ w1.T, 0) @ w2.T
    assert clear_dead_neurons(mlp) is mlp
    assert mlp.weights[0].tolist() == [[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]]
    assert mlp.weights[1].tolist() == [[0.0, 0.0, 0.0], [6.0, 0.0, 0.0]]
    assert mlp.weights[2].tolist() == [[0.0, 1.0], [0.0, 2.0]]
    assert [m.tolist() for m in mlp.masks] == [
        [[True, True], [False, False], [False, False]],
        [[False, False, False], [True, False, False]],
        [[False, True], [False, True]]]
    assert np.allclose(mlp.forward(x)[0], before, rtol=0, atol=1e-12)


def test_a_neuron_with_only_a_bias_is_alive():
    """Row ``[0, 0 | 0.5]`` outputs relu(0.5): its outgoing weights stay."""
    mlp = Mlp([np.array([[0.0, 0.0, 0.5]]), np.array([[2.0, 0.0]])], bias=[True, True])
    clear_dead_neurons(mlp)
    assert mlp.weights[1].tolist() == [[2.0, 0.0]]


def test_a_neuron_with_scale_zero_is_dead():
    mlp = Mlp([np.ones((2, 1)), np.ones((1, 2))], scales=[np.array([1.0, 0.0])])
    clear_dead_neurons(mlp)
    assert mlp.weights[0].tolist() == [[1.0], [0.0]]
    assert mlp.weights[1].tolist() == [[1.0, 0.0]]


# --- netadapt --------------------------------------------------------------------------------


def _count_cost(mlp):
    """A stand-in oracle: one cycle per nonzero weight, 10 bits each."""
    nnz = sum(int(np.count_nonzero(w)) for w in mlp.weights)
    return EieCost(cycles=float(nnz), stored_bits=10 * nnz)


def _toy():
    """2 -> 2 -> 2, both test images right: [1, 0] -> logits [8.5, 4], [0, 1] -> [3.5, 6.5]."""
    mlp = Mlp([np.array([[4.0, 1.0], [1.0, 3.0]]), np.array([[2.0, 0.5], [0.5, 2.0]])])
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 1])
    return mlp, Dataset(x, y, x, y)


MAGNITUDE = Proposal("magnitude", lambda net: make_pruner(lambda layer, w: np.abs(w)))


def test_netadapt_by_hand():
    """Two steps of 2 cycles from 8 down to a budget of 4, one halving per search.

    Step 1 (target 6). Layer 0: 25 % keeps 1 weight (5 cycles), the midpoint
    sqrt(0.25 * 1) = 0.5 keeps 4 and 3 (6 cycles, meets it): logits [8, 2] and
    [1.5, 6], both right. Layer 1 at 0.5 keeps both 2s: [8, 2] and [2, 6],
    right too. Equal accuracy and cycles: the lower layer wins, layer 0.

    Step 2 (target 4). Layer 0 has half its weights alive: 25 % keeps only
    the 4, so hidden neuron 1 has no inputs and its column in layer 1 goes
    too: 3 cycles; the midpoint sqrt(0.25 * 0.5) keeps 1 as well. Image 2
    then has logits [0, 0]: class 0, wrong. Layer 1: 25 % keeps one 2, the
    first (2 cycles after hidden neuron 1 loses its column, and its row);
    the midpoint 0.5 keeps both 2s: 4 cycles, both images right. Layer 1 wins.
    """
    mlp, data = _toy()
    seen = []
    points = netadapt(mlp, data, proposals=[MAGNITUDE], cost=_count_cost, step_cycles=2,
                      budget_cycles=4, finetune_epochs=0, iterations=1, min_density=0.25,
                      progress=seen.append)
    assert [(p.step, p.layer, p.proposal, p.density, p.cycles, p.stored_bits, p.accuracy)
            for p in points] == [(0, None, None, None, 8.0, 80, 1.0),
                                 (1, 0, "magnitude", 0.5, 6.0, 60, 1.0),
                                 (2, 1, "magnitude", 0.5, 4.0, 40, 1.0)]
    assert seen == points
    assert [w.tolist() for w in points[1].weights] == [[[4.0, 0.0], [0.0, 3.0]],
                                                       [[2.0, 0.5], [0.5, 2.0]]]
    assert [w.tolist() for w in points[2].weights] == [[[4.0, 0.0], [0.0, 3.0]],
                                                       [[2.0, 0.0], [0.0, 2.0]]]
    assert points[2].weight_density == 0.5
    # The network given is not changed.
    assert mlp.weights[0].tolist() == [[4.0, 1.0], [1.0, 3.0]]


def test_netadapt_step_schedule_and_stops():
    mlp, data = _toy()
    # A step as a function of the cycles: half of 8, target 4. At 25 % either layer
    # keeps one weight and a hidden neuron loses its row and its column: 3 cycles
    # (the midpoints, 0.5, keep 6); both then get image 2 wrong: the lower layer.
    points = netadapt(mlp, data, proposals=[MAGNITUDE], cost=_count_cost,
                      step_cycles=lambda cycles: cycles / 2, budget_cycles=4, finetune_epochs=0,
                      iterations=1, min_density=0.25)
    assert [(p.step, p.layer, p.density, p.cycles, p.accuracy) for p in points] == [
        (0, None, None, 8.0, 1.0), (1, 0, 0.25, 3.0, 0.5)]
    assert [w.tolist() for w in points[1].weights] == [[[4.0, 0.0], [0.0, 0.0]],
                                                       [[2.0, 0.0], [0.5, 0.0]]]
    # A step no layer can take ends the search at the start.
    points = netadapt(mlp, data, proposals=[MAGNITUDE], cost=_count_cost, step_cycles=100,
                      budget_cycles=0, finetune_epochs=0)
    assert [p.step for p in points] == [0]
    points = netadapt(mlp, data, proposals=[MAGNITUDE], cost=_count_cost, step_cycles=1,
                      budget_cycles=0, finetune_epochs=0, max_steps=0)
    assert [p.step for p in points] == [0]


def test_netadapt_min_accuracy_stops_the_search():
    """The step of the schedule test, whose only candidates get image 2 wrong (0.5)."""
    mlp, data = _toy()
    points = netadapt(mlp, data, proposals=[MAGNITUDE], cost=_count_cost,
                      step_cycles=lambda cycles: cycles / 2, budget_cycles=4, finetune_epochs=0,
                      iterations=1, min_density=0.25, min_accuracy=0.75)
    assert [p.step for p in points] == [0]
    # At 0.5 they are kept: the same search as without a floor.
    points = netadapt(mlp, data, proposals=[MAGNITUDE], cost=_count_cost,
                      step_cycles=lambda cycles: cycles / 2, budget_cycles=4, finetune_epochs=0,
                      iterations=1, min_density=0.25, min_accuracy=0.5)
    assert [(p.step, p.layer, p.cycles) for p in points] == [(0, None, 8.0), (1, 0, 3.0)]


def test_netadapt_proposal_layers_limit_the_candidates():
    """Only layer 1 may be pruned: step 1 takes it (at 0.5, as in the hand-worked search)."""
    mlp, data = _toy()
    only_1 = Proposal("magnitude", MAGNITUDE.pruner, layers=[1])
    points = netadapt(mlp, data, proposals=[only_1], cost=_count_cost, step_cycles=2,
                      budget_cycles=6, finetune_epochs=0, iterations=1, min_density=0.25)
    assert [(p.step, p.layer, p.cycles) for p in points] == [(0, None, 8.0), (1, 1, 6.0)]


def test_netadapt_skips_a_layer_with_nothing_left():
    """Layer 1 all zero: the only proposal has nothing to prune, and the search ends.

    The start is cleared first (no hidden neuron is used, so layer 0 goes too):
    no weight is left, and the stand-in oracle adds one fixed cycle.
    """
    mlp, data = _toy()
    mlp.weights[1][...] = 0.0
    only_1 = Proposal("magnitude", MAGNITUDE.pruner, layers=[1])
    points = netadapt(mlp, data, proposals=[only_1], step_cycles=1, budget_cycles=0,
                      cost=lambda net: EieCost(_count_cost(net).cycles + 1, 0),
                      finetune_epochs=0)
    assert [(p.step, p.cycles) for p in points] == [(0, 1.0)]


def _netadapt_call(**kwargs):
    mlp, data = _toy()
    arguments = {"mlp": mlp, "data": data, "proposals": [MAGNITUDE], "cost": _count_cost,
                 "step_cycles": 2, "budget_cycles": 4} | kwargs
    return netadapt(arguments.pop("mlp"), arguments.pop("data"), **arguments)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"step_cycles": 0}, ValueError, "step_cycles must be a finite number above 0, not 0"),
    ({"step_cycles": lambda c: -1.0}, ValueError,
     "step_cycles(8.0) must return a finite number above 0, not -1.0"),
    ({"budget_cycles": math.nan}, ValueError,
     "budget_cycles must be a finite number at least 0, not nan"),
    ({"budget_cycles": "4"}, TypeError, "budget_cycles must be a number, not '4'"),
    ({"proposals": []}, ValueError, "proposals must hold at least one Proposal"),
    ({"proposals": [MAGNITUDE, MAGNITUDE]}, ValueError,
     "proposals must have distinct names, not ['magnitude', 'magnitude']"),
    ({"proposals": [Proposal("rows", MAGNITUDE.pruner, layers=[2])]}, ValueError,
     "proposal 'rows' prunes layer 2, but the network has 2 layers"),
    ({"cost": lambda mlp: 5}, TypeError,
     "cost(mlp) must return an EieCost (cycles, stored_bits), not 5 (the starting network)"),
    ({"cost": lambda mlp: EieCost(math.inf, 0)}, ValueError,
     "cost(mlp) returned cycles inf (the starting network); they must be finite"),
    ({"min_density": 1.5}, ValueError, "min_density must be at most 1, not 1.5"),
    ({"iterations": 0}, ValueError, "iterations must be at least 1, not 0"),
    ({"min_accuracy": 1.5}, ValueError, "min_accuracy must be in the range [0, 1], not 1.5"),
    ({"min_accuracy": "high"}, TypeError, "min_accuracy must be a number or None, not 'high'"),
    ({"data": "digits"}, TypeError, "data must be a Dataset, not 'digits'"),
])
def test_netadapt_bad_input(kwargs, error, message):
    with pytest.raises(error) as info:
        _netadapt_call(**kwargs)
    assert str(info.value) == message


def test_proposal_checks_its_fields():
    with pytest.raises(TypeError, match=r"^pruner must be callable, not 3$"):
        Proposal("p", 3)
    with pytest.raises(TypeError, match=r"^name must be a non-empty string, not ''$"):
        Proposal("", MAGNITUDE.pruner)
    with pytest.raises(ValueError, match=r"^layers\[0\] must be at least 0, not -1$"):
        Proposal("p", MAGNITUDE.pruner, layers=[-1])


# --- reading the results -------------------------------------------------------------------


def test_pareto_front_by_hand():
    # By cost: 1 (0.5), 2 (0.8), 2 (0.7, beaten by the other 2), 3 (0.9), 5 (0.9, beaten).
    assert pareto_front([3, 1, 2, 2, 5], [0.9, 0.5, 0.8, 0.7, 0.9]) == [1, 2, 0]
    assert pareto_front([1, 1], [0.5, 0.5]) == [0]
    with pytest.raises(ValueError, match=r"^costs and accuracies must have the same length, "
                                         r"not 2 and 1$"):
        pareto_front([1, 2], [0.5])
    with pytest.raises(ValueError, match=r"^accuracies must hold only finite values$"):
        pareto_front([1], [math.nan])


def test_fewest_cycles_within_by_hand():
    cycles, accuracies = [100, 50, 70, 50], [0.95, 0.90, 0.94, 0.93]
    # At least 0.935: points 0 and 2; 2 has fewer cycles.
    assert fewest_cycles_within(cycles, accuracies, accuracy=0.94, tolerance=0.005) == 2
    # At least 0.92: point 3 joins, with 50 cycles.
    assert fewest_cycles_within(cycles, accuracies, accuracy=0.94, tolerance=0.02) == 3
    # 1 and 3 tie at 50 cycles: the more accurate, 3.
    assert fewest_cycles_within(cycles, accuracies, accuracy=0.94, tolerance=0.05) == 3
    assert fewest_cycles_within(cycles, accuracies, accuracy=0.99, tolerance=0.0) is None
    with pytest.raises(ValueError, match=r"^tolerance must be at least 0, not -0.1$"):
        fewest_cycles_within(cycles, accuracies, accuracy=0.9, tolerance=-0.1)
    with pytest.raises(TypeError, match=r"^accuracy must be a number, not 'high'$"):
        fewest_cycles_within(cycles, accuracies, accuracy="high", tolerance=0.0)
