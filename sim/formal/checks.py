"""Every formal check of zeroskip, with its mode and depths (``docs/formal.md`` lists them)."""

from functools import partial

from hw.eie.configs import config_for
from sw_model.config import SparseMacConfig, SparseTileConfig

from .eie import FLOW5_CONFIG, eie_flow, eie_host, eie_resp_stream
from .nm import nm_mac_stream, nm_select_equivalence, nm_tile_act_mem
from .queue import act_queue_fifo, act_queue_stream
from .runner import FormalCheck

__all__ = ["CHECKS", "QUICK", "check_named"]


def _queue_checks():
    for depth in (1, 2, 3, 16):
        # Cover: fill (depth pushes), then empty again (depth pops).
        yield FormalCheck(
            name=f"act_queue_fifo_d{depth}", harness=partial(act_queue_fifo, depth),
            mode="prove", depth=4, cover_depth=2 * depth + 2, quick=depth <= 3,
            summary=f"ActQueue depth {depth}: no overflow/underflow, level = pushes - pops, "
                    "items leave in push order")
    for depth in (2, 16):
        yield FormalCheck(
            name=f"act_queue_stream_d{depth}", harness=partial(act_queue_stream, depth),
            mode="prove", depth=3, cover_depth=4, quick=depth == 2,
            summary=f"ActQueue depth {depth}: r keeps valid and payload until ready")


def _nm_checks():
    for n, m, groups in ((2, 4, 2), (1, 4, 4), (4, 8, 1), (2, 8, 1)):
        cfg = SparseMacConfig(n=n, m=m, groups=groups)
        yield FormalCheck(
            name=f"nm_select_{n}of{m}_g{groups}", harness=partial(nm_select_equivalence, cfg),
            mode="prove", depth=1, cover_depth=1, quick=(n, m) == (2, 4),
            summary=f"NMIndexDecode + NMSelect {n}:{m} x {groups} groups equal a dense "
                    f"{m}:1 multiplexer for every index combination")
    yield FormalCheck(
        name="nm_mac_stream_2of4", harness=partial(nm_mac_stream, SparseMacConfig()),
        mode="prove", depth=2, cover_depth=8, quick=True,
        summary="NMMac 2:4: o keeps valid and payload until ready")
    # A small tile: 8-bit 2:4 unit, 4 beats, 8 weight words.
    tile = SparseTileConfig(mac=SparseMacConfig(act_bits=8, w_bits=8, acc_bits=20,
                                                w_frac_bits=6, groups=1),
                            units=1, act_depth=4, weight_depth=8)
    yield FormalCheck(
        name="nm_tile_act_mem", harness=partial(nm_tile_act_mem, tile), mode="prove",
        depth=8, cover_depth=12, quick=True,
        summary="NMTile (1 unit, 4 beats): no beat's activation read meets a write of its "
                "word (act_mem is no_rw_check); covers back-to-back vectors of 1 and 2 beats")


def _eie_checks():
    yield FormalCheck(
        name="eie_host", harness=eie_host, mode="prove", depth=3, cover_depth=6, quick=True,
        summary="EieArray (3 PEs): documented command checks; a rejected command writes no "
                "memory or table entry; the error status changes exactly on a rejection")
    yield FormalCheck(
        name="eie_resp_stream", harness=eie_resp_stream, mode="prove", depth=2, cover_depth=12,
        quick=True, summary="EieArray (2 PEs): resp keeps valid and payload until ready")
    yield FormalCheck(
        name="eie_flow", harness=eie_flow, mode="prove", depth=4, cover_depth=28,
        cover_harness=partial(eie_flow, steered=True),
        summary="EieArray (2 PEs, queue depth 2): no push into a full queue, broadcasts "
                "only with a credit, credits + columns in flight = queue depth")
    # Two fan-out groups; the queue-full cover would take over ten minutes here.
    covers = ("broadcast", "dropped", "credit_wait")
    yield FormalCheck(
        name="eie_flow_5pe", harness=partial(eie_flow, FLOW5_CONFIG, covers=covers),
        mode="prove", depth=4, cover_depth=21,
        cover_harness=partial(eie_flow, FLOW5_CONFIG, steered=True, covers=covers),
        summary="eie_flow on 5 PEs (two fan-out registers and group credit flags), "
                "without the queue-full cover")
    # A named configuration: the solver reaches no cover of it in useful time
    # (a broadcast, cycle 13, was not decided after five minutes), so the
    # proof runs alone; the same harness reaches its covers on the small arrays.
    yield FormalCheck(
        name="eie_flow_eie_4pe", harness=partial(eie_flow, config_for("eie-4pe")),
        mode="prove", depth=4, cover_depth=None,
        summary="eie_flow on the eie-4pe configuration (queue depth 16, full-size "
                "memories), proof only")


#: All checks, in the order ``python -m sim.formal`` runs them.
CHECKS = (*_queue_checks(), *_nm_checks(), *_eie_checks())

#: The subset ``tests/test_formal.py`` runs.
QUICK = tuple(c for c in CHECKS if c.quick)


def check_named(name):
    """The check called ``name``; :class:`KeyError` lists the known names."""
    for check in CHECKS:
        if check.name == name:
            return check
    raise KeyError(f"Unknown formal check {name!r}; known: "
                   f"{', '.join(c.name for c in CHECKS)}")
