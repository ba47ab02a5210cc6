"""The EIE cycle model: hand-worked cases and a cycle-stepped reference.

The reference below steps the array's rules one cycle at a time (queues, LNZD
groups, pipeline), independently of the closed recurrence in
``sw_model/eie_cycles.py``; both must agree on every count. The RTL itself is
compared with the cycle model, with the timing read from the design's side-car,
in ``tests/test_eie_rtl.py``.

The hand-worked cases and the reference here are worked out for one timing,
:data:`HAND`, given to the model as a parameter like any other: they test the
model's recurrence, not the latencies of the RTL of the day.
"""

import collections
import dataclasses

import numpy as np
import pytest

from sw_model.config import EieConfig, EieTiming
from sw_model.eie_cycles import chain_cycles, layer_cycles
from sw_model.eie_format import encode
from sw_model.eie_model import eie_layer
from sw_model.layers import random_layer

#: The latencies the hand-worked cases and the stepped reference are written for.
HAND = EieTiming(lnzd_first=2, ptr_latency=2, ptr_drain=2, pe_drain=4, lnzd_done=1,
                 requant_extra=2)


def cfg(n_pe, queue_depth):
    return EieConfig(n_pe=n_pe, queue_depth=queue_depth, act_depth=64, ptr_depth=4096,
                     matrix_depth=4096)


def layer_of(indices, n_pe):
    cb = np.arange(16, dtype=np.int64)
    return encode(np.asarray(indices), cb, config=EieConfig(n_pe=n_pe))


def stepped(layer, acts, config):
    """Cycle-by-cycle simulation of the array's rules with the :data:`HAND` latencies."""
    n_pe, depth = config.n_pe, config.queue_depth
    lengths = np.diff(layer.ptr, axis=1)
    n_groups = -(-layer.n_cols // n_pe)
    groups = [[c for c in range(g * n_pe, min((g + 1) * n_pe, layer.n_cols)) if acts[c]]
              for g in range(n_groups)]
    active, next_group, lnzd_done = [], 0, False
    ptr_stage = [None] * n_pe
    queues = [collections.deque() for _ in range(n_pe)]
    cur = [0] * n_pe
    pipe = [[False, False, False] for _ in range(n_pe)]
    busy = np.zeros(n_pe, dtype=np.int64)
    stall = np.zeros(n_pe, dtype=np.int64)
    t = 0  # START
    while True:
        t += 1
        pops = [cur[p] == 0 and bool(queues[p]) for p in range(n_pe)]
        room = [len(queues[p]) - pops[p] < depth for p in range(n_pe)]
        takes = [ptr_stage[p] is not None and (ptr_stage[p] == 0 or room[p])
                 for p in range(n_pe)]
        ready = [ptr_stage[p] is None or takes[p] for p in range(n_pe)]
        cand = bool(active)
        bcast = cand and all(ready)
        stall += np.array([cand and not r for r in ready], dtype=np.int64)
        idle = all(ptr_stage[p] is None and not queues[p] and cur[p] == 0 and not any(pipe[p])
                   for p in range(n_pe))
        if lnzd_done and idle:
            break
        consume = not active or (bcast and len(active) == 1)
        for p in range(n_pe):
            issue = cur[p] > 0 or bool(queues[p])
            if cur[p] > 0:
                cur[p] -= 1
            elif queues[p]:
                cur[p] = queues[p].popleft() - 1
            busy[p] += issue
            pipe[p] = [issue] + pipe[p][:2]
            if takes[p]:
                if ptr_stage[p]:
                    queues[p].append(ptr_stage[p])
                ptr_stage[p] = None
            if bcast:
                ptr_stage[p] = int(lengths[p, active[0]])
        if bcast:
            active = active[1:]
        if consume:
            if next_group < n_groups:
                active = list(groups[next_group])
                next_group += 1
            else:
                lnzd_done = True
    cycles = t + -(-layer.n_rows // n_pe) + HAND.requant_extra
    return cycles, busy, stall


def test_single_column_by_hand():
    # Cycle 0 START, 1 load group, 2 broadcast, 3 pointers, 4-5 issue, 6-8 D/M/A
    # of the last entry, 9 drain seen, 10-11 requantize 2 rows, 12 flush: 13.
    layer = layer_of([[1], [2]], 1)
    r = layer_cycles(layer, np.array([5]), config=cfg(1, 8), timing=HAND)
    assert r.cycles == 13
    assert r.busy.tolist() == [2]
    assert r.stall.tolist() == [0]
    assert r.entries == 2
    assert r.idle.tolist() == [11]


def test_zero_activations_by_hand():
    # Five inputs on 2 PEs are 3 LNZD groups, one cycle each (cycles 2-4), done
    # flag at 5, then 2 local rows and flush: 5 + 2 + 2.
    layer = layer_of(np.ones((3, 5), dtype=np.int64), 2)
    r = layer_cycles(layer, np.zeros(5, dtype=np.int64), config=cfg(2, 8), timing=HAND)
    assert r.cycles == 9
    assert r.busy.tolist() == [0, 0]
    assert r.efficiency == 0.0


def test_queue_full_stall_by_hand():
    # Depth 1, four columns of 3 entries. Column 0: broadcast 2, pushed 3,
    # issues 4..6. Column 1: broadcast 3, pushed 4 (when column 0 pops),
    # issues 7..9. Column 2: broadcast 4, waits in the pointer stage until
    # column 1 pops at 7, issues 10..12. Column 3: offered at 5, broadcast at
    # 7 (two stall cycles), pushed 10, issues 13..15. Drained at 19, then 3
    # rows and the flush: 19 + 3 + 2.
    layer = layer_of(np.ones((3, 4), dtype=np.int64), 1)
    r = layer_cycles(layer, np.array([1, 1, 1, 1]), config=cfg(1, 1), timing=HAND)
    assert r.stall.tolist() == [2]
    assert r.busy.tolist() == [12]
    assert r.cycles == 19 + 3 + 2


def test_empty_column_costs_no_issue():
    # PE 1 has no entries in column 0 and PE 0 none in column 1.
    layer = layer_of([[3, 0], [0, 4]], 2)
    r = layer_cycles(layer, np.array([1, 1]), config=cfg(2, 8), timing=HAND)
    assert r.busy.tolist() == [1, 1]
    # Column 1 is broadcast at 3 and PE 1 issues it at 5, so it drains at 9.
    assert r.cycles == 9 + 1 + 2


@pytest.mark.parametrize("n_pe,depth", [(1, 1), (2, 1), (3, 2), (4, 8), (8, 2)])
def test_matches_stepped_reference(n_pe, depth):
    config = cfg(n_pe, depth)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        n_in, n_out = int(rng.integers(1, 40)), int(rng.integers(1, 60))
        wd, ad = [0.0, 0.05, 0.3, 1.0][seed % 4], [0.0, 0.3, 0.7, 1.0][(seed + 1) % 4]
        idx, cb, acts = random_layer(n_in, n_out, wd, ad, seed=seed)
        layer = encode(idx, cb, config=EieConfig(n_pe=n_pe))
        fast = layer_cycles(layer, acts, config=config, timing=HAND)
        cycles, busy, stall = stepped(layer, acts, config)
        assert fast.cycles == cycles
        assert fast.busy.tolist() == busy.tolist()
        assert fast.stall.tolist() == stall.tolist()


def test_ideal_and_efficiency():
    idx, cb, acts = random_layer(64, 64, 0.2, 0.5, seed=3)
    layer = encode(idx, cb, config=EieConfig(n_pe=4))
    r = layer_cycles(layer, acts, config=cfg(4, 4), timing=HAND)
    live = np.flatnonzero(acts)
    entries = sum(int(np.diff(layer.ptr[p])[live].sum()) for p in range(4))
    assert r.entries == entries
    assert r.ideal == entries / 4
    assert r.efficiency == pytest.approx(entries / 4 / r.cycles)
    assert 0 < r.efficiency < 1


def test_chain_sums_layers_and_uses_relu_outputs():
    config = cfg(2, 2)
    idx1, cb1, acts = random_layer(10, 12, 0.5, 1.0, seed=7)
    idx2, cb2, _ = random_layer(12, 6, 0.5, 1.0, seed=8)
    l1 = encode(idx1, cb1, config=EieConfig(n_pe=2))
    l2 = encode(idx2, cb2, config=EieConfig(n_pe=2))
    total, per = chain_cycles([(l1, True), (l2, False)], acts, config=config, timing=HAND)
    assert total.cycles == per[0].cycles + per[1].cycles
    assert total.busy.tolist() == (per[0].busy + per[1].busy).tolist()
    hidden = eie_layer(l1, acts, relu=True)
    assert per[1].cycles == layer_cycles(l2, hidden, config=config, timing=HAND).cycles


def test_timing_parameters_shift_counts():
    layer = layer_of([[1], [2]], 1)
    base = layer_cycles(layer, np.array([5]), config=cfg(1, 8), timing=HAND)
    slower = layer_cycles(layer, np.array([5]), config=cfg(1, 8),
                          timing=dataclasses.replace(HAND, pe_drain=6, requant_extra=3))
    assert slower.cycles == base.cycles + 3


def test_timing_is_required_and_typed():
    layer = layer_of([[1]], 1)
    with pytest.raises(TypeError, match=r"^timing must be an EieTiming \(from EieArray.timing "
                                        r"or the design's side-car\), not None$"):
        layer_cycles(layer, np.array([1]), config=cfg(1, 1), timing=None)
    with pytest.raises(ValueError, match=r"^Missing EieTiming field\(s\): ptr_drain$"):
        EieTiming.from_dict({k: v for k, v in HAND.to_dict().items() if k != "ptr_drain"})
    with pytest.raises(ValueError, match=r"^pe_drain must be in the range \[0, 65536\], not -1$"):
        dataclasses.replace(HAND, pe_drain=-1)


def test_rejects_mismatched_layer():
    layer = layer_of([[1]], 2)
    with pytest.raises(ValueError, match=r"^layer is encoded for n_pe = 2, but the "
                       r"configuration has n_pe = 1$"):
        layer_cycles(layer, np.array([1]), config=cfg(1, 1), timing=HAND)
    with pytest.raises(TypeError, match=r"^layer must be an EieLayer, not 3$"):
        layer_cycles(3, np.array([1]), config=cfg(1, 1), timing=HAND)
