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
HAND = EieTiming(read_first=1, group_latency=2, group_slots=2, ptr_latency=2,
                 credit_return=1, pe_drain=3, idle_latency=1)


def cfg(n_pe, queue_depth):
    return EieConfig(n_pe=n_pe, queue_depth=queue_depth, act_depth=64, ptr_depth=4096,
                     matrix_depth=4096)


def layer_of(indices, n_pe):
    cb = np.arange(16, dtype=np.int64)
    return encode(np.asarray(indices), cb, config=EieConfig(n_pe=n_pe))


def stepped(layer, acts, config, timing=HAND):
    """Cycle-by-cycle simulation of the array's rules (``docs/eie.md``).

    Group reads, the LNZD, per-PE credit counters and the PEs' pointer stage,
    queue and issue stage are stepped one cycle at a time; nothing is taken
    from the closed recurrence of the model.
    """
    n_pe, credits = config.n_pe, config.queue_depth
    lengths = np.diff(layer.ptr, axis=1)
    n_groups = -(-layer.n_cols // n_pe)
    groups = [[c for c in range(g * n_pe, min((g + 1) * n_pe, layer.n_cols)) if acts[c]]
              for g in range(n_groups)]
    read_at = []
    taken = 0
    cur = []                                    # the current group's remaining columns
    count = [credits] * n_pe                    # credit counters
    returns = [collections.Counter() for _ in range(n_pe)]  # cycle -> credits back
    arrivals = [collections.defaultdict(list) for _ in range(n_pe)]  # cycle U -> lengths
    queues = [collections.deque() for _ in range(n_pe)]  # (visible from, length)
    remaining = [0] * n_pe
    last_issue = [None] * n_pe
    last_stage_p = None
    busy = np.zeros(n_pe, dtype=np.int64)
    stall = np.zeros(n_pe, dtype=np.int64)
    idle_at = {}
    t = 0  # START
    while True:
        t += 1
        for p in range(n_pe):
            count[p] += returns[p].pop(t, 0)
        # Group reader.
        if t >= timing.read_first and len(read_at) < n_groups \
                and len(read_at) - taken < timing.group_slots:
            read_at.append(t)
        # LNZD and credits (done: every group taken and none left, from the
        # state at the start of the cycle, as the registers hold it).
        lnzd_done = taken == n_groups and not cur
        credit = [count[p] >= 1 for p in range(n_pe)]
        bcast = bool(cur) and all(credit)
        for p in range(n_pe):
            stall[p] += bool(cur) and not credit[p]
        col = cur[0] if bcast else None
        head = taken < len(read_at) and read_at[taken] + timing.group_latency <= t
        if (bcast or not cur) and len(cur) <= 1 and head:
            cur = list(groups[taken])
            taken += 1
        elif bcast:
            cur = cur[1:]
        # PEs: issue, then the pointer stage.
        for p in range(n_pe):
            if remaining[p]:
                remaining[p] -= 1
                busy[p] += 1
                last_issue[p] = t
            elif queues[p] and queues[p][0][0] <= t:
                _, n = queues[p].popleft()
                returns[p][t + timing.credit_return] += 1
                remaining[p] = n - 1
                busy[p] += 1
                last_issue[p] = t
            for n in arrivals[p].pop(t, []):
                if n:
                    queues[p].append((t + 1, n))
                else:
                    returns[p][t + timing.credit_return] += 1
        if bcast:
            last_stage_p = t + timing.ptr_latency
            for p in range(n_pe):
                count[p] -= 1
                arrivals[p][t + timing.ptr_latency].append(int(lengths[p, col]))
        idle_at[t] = (all(not queues[p] and not remaining[p] and not arrivals[p]
                          and (last_issue[p] is None or t >= last_issue[p] + timing.pe_drain)
                          for p in range(n_pe))
                      and (last_stage_p is None or t > last_stage_p))
        if lnzd_done and not bcast and idle_at.get(t - timing.idle_latency, False):
            break
    return t + 1, busy, stall


def test_single_column_by_hand():
    # Cycle 0 START, 1 read group 0, 3 take it, 4 broadcast, 6 pointer stage,
    # 7-8 issue, first idle 8 + 3 = 11, seen at 12: 13 cycles.
    layer = layer_of([[1], [2]], 1)
    r = layer_cycles(layer, np.array([5]), config=cfg(1, 8), timing=HAND)
    assert r.cycles == 13
    assert r.busy.tolist() == [2]
    assert r.stall.tolist() == [0]
    assert r.entries == 2
    assert r.idle.tolist() == [11]


def test_zero_activations_by_hand():
    # Five inputs on 2 PEs are 3 groups, read at 1, 2 and (two slots) 4, taken
    # at 3, 4 and 6; the LNZD is done at 7: 8 cycles.
    layer = layer_of(np.ones((3, 5), dtype=np.int64), 2)
    r = layer_cycles(layer, np.zeros(5, dtype=np.int64), config=cfg(2, 8), timing=HAND)
    assert r.cycles == 8
    assert r.busy.tolist() == [0, 0]
    assert r.efficiency == 0.0


def test_one_credit_by_hand():
    # Depth 1: one credit. Column 0: broadcast 4, pointer stage 6, popped 7
    # (credit back at 8), issues 7..9. Column 1: offered 5, broadcast 8 (3
    # stall cycles), popped 11, issues 11..13. Columns 2 and 3 likewise at 12
    # and 16; the last issues 19..21, first idle 24, seen at 25: 26 cycles.
    layer = layer_of(np.ones((3, 4), dtype=np.int64), 1)
    r = layer_cycles(layer, np.array([1, 1, 1, 1]), config=cfg(1, 1), timing=HAND)
    assert r.stall.tolist() == [9]
    assert r.busy.tolist() == [12]
    assert r.cycles == 26


def test_empty_column_costs_no_issue():
    # PE 1 has no entries in column 0 and PE 0 none in column 1.
    layer = layer_of([[3, 0], [0, 4]], 2)
    r = layer_cycles(layer, np.array([1, 1]), config=cfg(2, 8), timing=HAND)
    assert r.busy.tolist() == [1, 1]
    # Column 1 is broadcast at 5 and PE 1 issues it at 8: idle from 11, seen at 12.
    assert r.cycles == 13


def test_bias_column_is_one_more_nonzero():
    layer = encode(np.array([[1, 0, 2], [0, 3, 4]]), np.arange(16), config=EieConfig(n_pe=2),
                   bias=True)
    plain = encode(np.array([[1, 0, 2], [0, 3, 4]]), np.arange(16), config=EieConfig(n_pe=2))
    with_bias = layer_cycles(layer, np.array([0, 0]), config=cfg(2, 8), timing=HAND)
    as_input = layer_cycles(plain, np.array([0, 0, 256]), config=cfg(2, 8), timing=HAND)
    assert with_bias.cycles == as_input.cycles
    assert with_bias.stall.tolist() == as_input.stall.tolist()
    assert with_bias.busy.tolist() == [1, 1]


@pytest.mark.parametrize("n_pe,depth", [(1, 1), (2, 1), (3, 2), (4, 8), (8, 2), (6, 16)])
@pytest.mark.parametrize("timing", [HAND, EieTiming(read_first=1, group_latency=6, group_slots=7,
                                                    ptr_latency=4, credit_return=2, pe_drain=8,
                                                    idle_latency=1)], ids=["hand", "v2"])
def test_matches_stepped_reference(n_pe, depth, timing):
    config = cfg(n_pe, depth)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        n_in, n_out = int(rng.integers(1, 40)), int(rng.integers(1, 60))
        wd, ad = [0.0, 0.05, 0.3, 1.0][seed % 4], [0.0, 0.3, 0.7, 1.0][(seed + 1) % 4]
        idx, cb, acts = random_layer(n_in, n_out, wd, ad, seed=seed)
        layer = encode(idx, cb, config=EieConfig(n_pe=n_pe))
        fast = layer_cycles(layer, acts, config=config, timing=timing)
        cycles, busy, stall = stepped(layer, acts, config, timing)
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
                          timing=dataclasses.replace(HAND, pe_drain=5, idle_latency=2))
    assert slower.cycles == base.cycles + 3


def test_timing_is_required_and_typed():
    layer = layer_of([[1]], 1)
    with pytest.raises(TypeError, match=r"^timing must be an EieTiming \(from EieArray.timing "
                                        r"or the design's side-car\), not None$"):
        layer_cycles(layer, np.array([1]), config=cfg(1, 1), timing=None)
    with pytest.raises(ValueError, match=r"^Missing EieTiming field\(s\): ptr_latency$"):
        EieTiming.from_dict({k: v for k, v in HAND.to_dict().items() if k != "ptr_latency"})
    with pytest.raises(ValueError, match=r"^pe_drain must be in the range \[0, 65536\], not -1$"):
        dataclasses.replace(HAND, pe_drain=-1)


def test_rejects_mismatched_layer():
    layer = layer_of([[1]], 2)
    with pytest.raises(ValueError, match=r"^layer is encoded for n_pe = 2, but the "
                       r"configuration has n_pe = 1$"):
        layer_cycles(layer, np.array([1]), config=cfg(1, 1), timing=HAND)
    with pytest.raises(TypeError, match=r"^layer must be an EieLayer, not 3$"):
        layer_cycles(3, np.array([1]), config=cfg(1, 1), timing=HAND)
