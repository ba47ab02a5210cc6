"""Formal checks (SymbiYosys, z3): the quick subset of ``sim.formal.checks``.

``make formal`` runs every check; these run the small ones (the queue at
depths 1 to 3, the 2:4 select, the stream rules, the EIE host protocol), the
EIE credit proofs on 2 and 5 PEs without their (slow) cover tasks, and show that the checks
fail on deliberately broken designs. Each needs
``yowasp-sby`` and ``z3`` (the dev extra installs both) and skips without them.
"""

import re
from functools import partial

import pytest
from amaranth.hdl import Signal

import hw.eie.pe
from hw.eie.blocks import ActQueue
from sim.formal.checks import CHECKS, QUICK, check_named
from sim.formal.eie import eie_flow
from sim.formal.harness import Harness
from sim.formal.queue import OverflowingQueue, act_queue_fifo
from sim.formal.runner import FormalCheck, ToolMissing, _log_figures, run_check, sby_tools

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def _missing_tool():
    try:
        sby_tools()
    except ToolMissing as err:
        return str(err)
    return None


MISSING = _missing_tool()
needs_sby = pytest.mark.skipif(MISSING is not None, reason=f"formal tools missing: {MISSING}")

#: Seconds each task may run before the check counts as failed.
TIMEOUT = 600


@pytest.fixture
def formal_out(build_root):
    """Build folder of the formal jobs (``build/tests/formal``)."""
    return build_root / "formal"


@needs_sby
@pytest.mark.formal
@pytest.mark.parametrize("check", QUICK, ids=lambda c: c.name)
def test_property_holds(check, formal_out):
    result = run_check(check, out=formal_out, timeout=TIMEOUT)
    # Both the proof and the cover task: a proof whose covers are unreachable
    # could hold vacuously.
    assert result.tasks == {check.mode: "PASS", "cover": "PASS"}, result.describe()


@needs_sby
@pytest.mark.formal
def test_overflowing_queue_fails(formal_out):
    check = FormalCheck(name="act_queue_overflowing_d2",
                        harness=partial(act_queue_fifo, 2, queue_cls=OverflowingQueue),
                        mode="bmc", depth=4, cover_depth=6, summary="a queue that ignores full")
    result = run_check(check, out=formal_out, timeout=TIMEOUT)
    assert result.tasks["bmc"] == "FAIL", result.describe()
    assert not result.passed
    # The counterexample: the third push into the two-slot queue, in step 2.
    log = result.task_log("bmc").read_text()
    assert re.search(r"failed assertion top\._witness_\.check_\d+ at \S+queue\.py:\d+ step 2",
                     log), log


@needs_sby
@pytest.mark.formal
@pytest.mark.parametrize("name", ["eie_flow", "eie_flow_5pe"])
def test_credit_proof_holds(name, formal_out):
    # The proofs alone: their cover tasks take minutes, and so does the base
    # case of eie_flow_eie_4pe (`make formal` runs them all).
    check = check_named(name)
    result = run_check(check, out=formal_out, timeout=TIMEOUT, cover=False)
    assert result.tasks == {"prove": "PASS"}, result.describe()


class ShortQueue(ActQueue):
    """An activation queue one slot shorter than the credits the array holds for it."""

    def __init__(self, *, depth, shape):
        super().__init__(depth=depth - 1, shape=shape)


@needs_sby
@pytest.mark.formal
def test_credits_beyond_the_queue_overflow_it(formal_out, monkeypatch):
    # The PEs of FLOW_CONFIG (queue_depth=2) get one-slot queues; the steered
    # host fills PE 0's queue in cycle 27 (the eie_flow cover), so a bounded
    # check of 28 cycles must see a column reach the full queue.
    monkeypatch.setattr(hw.eie.pe, "ActQueue", ShortQueue)
    check = FormalCheck(name="eie_flow_short_queue", harness=partial(eie_flow, steered=True),
                        mode="bmc", depth=28, cover_depth=1, summary="a queue short of a slot")
    result = run_check(check, out=formal_out, timeout=TIMEOUT, cover=False)
    assert result.tasks == {"bmc": "FAIL"}, result.describe()
    log = result.task_log("bmc").read_text()
    assert re.search(r"failed assertion top\._witness_\.check_\d+ at \S+eie\.py:\d+ step 2\d",
                     log), log


def test_log_figures_reads_times_and_cover_step():
    log = ("SBY 1:00:00 [x_cover] engine_0: ## 0:00:00 Reached cover statement in step 3 at top\n"
           "SBY 1:00:01 [x_cover] engine_0: ## 0:00:01 Reached cover statement in step 12 at top\n"
           "SBY 1:00:02 [x_prove] summary: Elapsed clock time [H:MM:SS (secs)]: 0:01:05 (65)\n"
           "SBY 1:00:03 [x_cover] summary: Elapsed clock time [H:MM:SS (secs)]: 0:00:07 (7)\n")
    assert _log_figures(log, "x", ["prove", "cover"]) == ({"prove": 65, "cover": 7}, 12)
    assert _log_figures("", "x", ["bmc"]) == ({"bmc": None}, None)


def test_quick_subset_covers_every_engine():
    names = {c.name for c in QUICK}
    assert {"act_queue_fifo_d1", "act_queue_fifo_d2", "act_queue_fifo_d3",
            "nm_select_2of4_g2", "eie_host"} <= names
    assert len({c.name for c in CHECKS}) == len(CHECKS)


def test_check_named_lists_known_names():
    assert check_named("eie_flow").mode == "prove"
    with pytest.raises(KeyError,
                       match=r"Unknown formal check 'eie_nope'; known: act_queue_fifo_d1, "):
        check_named("eie_nope")


def test_formal_check_rejects_bad_parameters():
    with pytest.raises(ValueError, match=r"^mode must be one of prove, bmc, not 'cover'$"):
        FormalCheck(name="x", harness=Harness, mode="cover", depth=1, cover_depth=1, summary="")
    with pytest.raises(ValueError, match=r"^depth must be a positive integer, not 0$"):
        FormalCheck(name="x", harness=Harness, mode="bmc", depth=0, cover_depth=1, summary="")
    with pytest.raises(ValueError, match=r"^cover_depth must be a positive integer, not 2.5$"):
        FormalCheck(name="x", harness=Harness, mode="bmc", depth=1, cover_depth=2.5, summary="")
    # A proof without a cover task.
    assert FormalCheck(name="x", harness=Harness, mode="prove", depth=1, cover_depth=None,
                       summary="").cover_depth is None


def test_eie_flow_rejects_unknown_covers():
    with pytest.raises(ValueError, match=r"^Unknown covers \['done'\]; known: broadcast, "
                                         r"dropped, credit_wait, queue_full$"):
        eie_flow(covers=("broadcast", "done"))


def test_internal_names_a_missing_signal():
    h = Harness()
    frag = h.add("queue", OverflowingQueue(depth=2, shape=8))
    assert h.internal(frag, "rd").name == "rd"
    with pytest.raises(LookupError, match=r"^Expected one signal 'nope' used in the top of the "
                                          r"design, found 0$"):
        h.internal(frag, "nope")
    free = h.free(4, "free_x")
    assert isinstance(free, Signal)
    assert re.search(r"wire width 4 input \d+ +\\free_x\n", h.rtlil())
