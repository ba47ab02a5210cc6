"""Formal harnesses of the EIE activation queue (:class:`hw.eie.blocks.ActQueue`).

The queue is checked against a shadow count of pushes minus pops and one
tracked item (the solver picks which item, and its value is free): the item
must reach the head after exactly the items pushed before it, unchanged. The
induction needs three facts about the queue's registers, asserted as well:
the write pointer is ``level`` slots past the read pointer, ``level`` equals
the shadow count, and the tracked item sits in its slot of the memory.
"""

from amaranth.hdl import Assert, Assume, Cover, Mux, Signal, unsigned

from hw.eie.blocks import ActQueue

from .harness import Harness, stream_rules

__all__ = ["act_queue_fifo", "act_queue_stream", "OverflowingQueue", "PAYLOAD"]

#: Payload of the queues under proof: the ordering argument does not depend
#: on the width, and 8 bits keep the memory small for the solver.
PAYLOAD = unsigned(8)


class OverflowingQueue(ActQueue):
    """A broken :class:`ActQueue` that takes every push, also when full.

    Only for showing that the checks can fail.
    """

    def elaborate(self, platform):
        m = super().elaborate(platform)
        # The last assignment wins: `w.ready` ignores `level`.
        m.d.comb += self.w.ready.eq(1)
        return m


def _queue(h, depth, queue_cls):
    """The queue under proof with free inputs, its shadow count, and its register invariants."""
    dut = queue_cls(depth=depth, shape=PAYLOAD)
    frag = h.add("queue", dut)
    m = h.m
    h.drive(dut.w.valid, "w_valid")
    h.drive(dut.w.payload, "w_payload")
    h.drive(dut.r.ready, "r_ready")
    push = dut.w.valid & dut.w.ready
    pop = dut.r.valid & dut.r.ready

    # Pushes minus pops since the reset; wide enough to go past either end.
    count = Signal(range(-1, depth + 2), name="shadow_count")
    m.d.sync += count.eq(count + push - pop)
    m.d.comb += [
        Assert(count >= 0, "more pops than pushes"),
        Assert(count <= depth, "more items than slots"),
        Assert(dut.level == count, "level is not pushes minus pops"),
        Assert(~push | (count < depth) | pop, "push taken while full and not popping"),
        Assert(~pop | (count > 0), "pop while empty"),
        Assert(dut.r.valid == (count != 0), "r.valid does not say whether an item waits"),
    ]
    if depth > 1:
        rd = h.internal(frag, "rd")
        wr = h.internal(frag, "wr")
        end = rd + count
        m.d.comb += [
            Assert(rd < depth, "read pointer past the last slot"),
            Assert(wr == Mux(end >= depth, end - depth, end),
                   "write pointer is not level slots past the read pointer"),
        ]
    return dut, frag, push, pop, count


def act_queue_fifo(depth, *, queue_cls=ActQueue):
    """No overflow or underflow, ``level`` = pushes - pops, items leave in push order.

    Covers: the queue fills, empties again after being full, takes a push and
    a pop while full, and the tracked item leaves.
    """
    h = Harness()
    m = h.m
    dut, frag, push, pop, count = _queue(h, depth, queue_cls)

    # The tracked item: chosen by a free bit on one of the pushes.
    track = h.free(1, "track")
    tracking = Signal(name="tracking")
    tracked = Signal(PAYLOAD, name="tracked")
    # Items ahead of the tracked one (popped before it).
    ahead = Signal(range(max(2, depth)), name="ahead")
    with m.If(~tracking & push & track):
        m.d.sync += [tracking.eq(1), tracked.eq(dut.w.payload), ahead.eq(count - pop)]
    with m.Elif(tracking & pop):
        with m.If(ahead == 0):
            m.d.sync += tracking.eq(0)
        with m.Else():
            m.d.sync += ahead.eq(ahead - 1)
    # Where the tracked item waits (for the induction).
    if depth == 1:
        slot = h.internal(frag, "slot")
    else:
        at = h.internal(frag, "rd") + ahead
        slot = h.peek(frag, ["mem"], Mux(at >= depth, at - depth, at))
    with m.If(tracking):
        m.d.comb += [
            Assert(ahead < count, "tracked item lost"),
            Assert(slot == tracked, "tracked item's slot overwritten"),
        ]
        with m.If(ahead == 0):
            m.d.comb += Assert(dut.r.payload == tracked, "head is not the tracked item")

    was_full = Signal(name="was_full")
    with m.If(count == depth):
        m.d.sync += was_full.eq(1)
    m.d.comb += [
        Cover(count == depth),
        Cover(was_full & (count == 0)),
        Cover(push & pop & (count == depth)),
        Cover(tracking & pop & (ahead == 0) & (count == depth)),
    ]
    return h


def act_queue_stream(depth):
    """``r`` keeps the stream rules: valid and payload hold until ready.

    ``w`` is assumed to keep them (as any stream source); the queue does not
    depend on it. Covers: ``r`` stalls with an item waiting, and the stalled
    item is then taken.
    """
    h = Harness()
    dut, _, _, pop, _ = _queue(h, depth, ActQueue)
    stream_rules(h, dut.w, name="w", role=Assume)
    stalled = stream_rules(h, dut.r, name="r", role=Assert)
    h.m.d.comb += [Cover(stalled & pop), Cover(stalled & ~dut.r.ready)]
    return h
