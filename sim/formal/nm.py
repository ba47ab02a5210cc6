"""Formal harnesses of the N:M MAC unit's blocks (``hw/sparse_nm/``).

:func:`nm_select_equivalence` shows that the index decode and the reduced
multiplexers (``m - n + 1`` inputs each) pick, for every valid index
combination and every activation value, what a full ``m``-input multiplexer
picks: ``acts[g * m + indices[g * n + j]]``. :func:`nm_mac_stream` shows that
the unit's output keeps the stream rules under backpressure.
:func:`nm_tile_act_mem` shows that the tile never reads a word of its
activation memory for a beat in the cycle that word is written.
"""

from amaranth.hdl import Array, Assert, Assume, Cat, Cover

from hw.sparse_nm.mac import NMMac
from hw.sparse_nm.select import NMIndexDecode, NMSelect
from hw.sparse_nm.tile import NMTile

from .harness import Harness, stream_rules

__all__ = ["nm_select_equivalence", "nm_mac_stream", "nm_tile_act_mem"]


def nm_select_equivalence(config):
    """Decode and select equal a dense ``m``-input multiplexer per kept weight.

    The indices of a group are assumed strictly ascending and below ``m``
    (what :func:`sw_model.nm_format.compress` produces). Covers: every kept
    entry takes every position it can hold.
    """
    h = Harness()
    m = h.m
    decode = NMIndexDecode(config=config)
    select = NMSelect(config=config)
    h.add("decode", decode)
    h.add("select", select)
    h.drive(select.acts, "acts")
    h.drive(decode.indices, "indices")
    m.d.comb += select.offsets.eq(decode.offsets)
    n, width = config.n, config.m
    for g in range(config.groups):
        dense = Array(select.acts[g * width + p] for p in range(width))
        for j in range(n):
            k = g * n + j
            index = decode.indices[k]
            m.d.comb += Assume(index < width)
            if j > 0:
                m.d.comb += Assume(index > decode.indices[k - 1])
            m.d.comb += Assert(select.selected[k] == dense[index],
                               f"group {g}, entry {j}: not the activation at its index")
            # Entry j can only sit at positions j .. m - n + j.
            m.d.comb += [Cover(index == p) for p in range(j, width - n + j + 1)]
    return h


def nm_mac_stream(config):
    """The MAC unit's ``o`` keeps the stream rules; ``i`` is assumed to keep them.

    Covers: a result waits while ``o.ready`` is low, and is then taken.
    """
    h = Harness()
    dut = NMMac(config=config)
    h.add("mac", dut)
    h.drive(dut.i.valid, "i_valid")
    h.drive(dut.i.payload, "i_payload")
    h.drive(dut.o.ready, "o_ready")
    stream_rules(h, dut.i, name="i", role=Assume)
    stalled = stream_rules(h, dut.o, name="o", role=Assert)
    h.m.d.comb += [Cover(stalled & ~dut.o.ready), Cover(stalled & dut.o.ready)]
    return h


def nm_tile_act_mem(config):
    """No beat's read of the tile's activation memory meets a write of its word.

    ``act_mem`` is built with ``no_rw_check`` (``hw/sparse_nm/tile.py``):
    synthesis may map it to block RAM whose read of a word written in the
    same cycle is undefined, so a read whose data goes on to the units (the
    read after a beat's issue, ``f1.valid``) must never meet a write of the
    same word. The memory's two halves exist for that: with one beat per
    vector, the next vector's first write comes in the cycle of the last
    block's read. In simulation the read port returns the old word there,
    so only this check sees the halves at work.

    ``beats`` and ``blocks`` are assumed within their limits and held still
    (the tile's contract); ``x``, ``wload`` and ``o.ready`` are free.
    Covers: a vector's first beat written in the cycle after the last
    block's issue of the vector before, with one beat and with two.
    """
    h = Harness()
    m = h.m
    dut = NMTile(config=config)
    frag = h.add("tile", dut)
    for port, name in ((dut.x.valid, "x_valid"), (dut.x.payload, "x_payload"),
                       (dut.wload.valid, "wload_valid"), (dut.wload.payload, "wload_payload"),
                       (dut.o.ready, "o_ready")):
        h.drive(port, name)
    beats = h.drive(dut.beats, "beats")
    blocks = h.drive(dut.blocks, "blocks")
    m.d.comb += [Assume(beats >= 1), Assume(beats <= config.act_depth), Assume(blocks >= 1),
                 Assume(beats * blocks <= config.weight_depth)]
    # Held still: equal to the last cycle's, except in the first cycle (after
    # a reset the registers hold 0, which no legal value is).
    past_beats, past_blocks = h.past(beats, "past_beats"), h.past(blocks, "past_blocks")
    with m.If(past_beats != 0):
        m.d.comb += [Assume(beats == past_beats), Assume(blocks == past_blocks)]
    beat, half = h.internal(frag, "beat"), h.internal(frag, "half")
    r_aaddr, f1 = h.internal(frag, "r_aaddr"), h.internal(frag, "f1")
    fetch_advance = h.internal(frag, "fetch_advance")
    block = h.internal(frag, "block")
    written = dut.x.valid & dut.x.ready
    used_read = fetch_advance & f1[0]
    m.d.comb += Assert(~(written & used_read & (Cat(beat, half) == r_aaddr)),
                       "a beat's activation read meets a write of its word")
    # What makes it inductive: the sequencer stays in range, and after an
    # issue (f1.valid) the sequencer has left the issued beat's word, or row
    # block 0 (x writes only there).
    m.d.comb += [
        Assert(beat < beats, "beat out of range"),
        Assert(block < blocks, "block out of range"),
        Assert(~f1[0] | (block != 0) | (Cat(beat, half) != r_aaddr),
               "the sequencer is back at the word of the beat just issued"),
    ]
    # The last block's last issue one cycle before the next vector's first write.
    turn = h.past(h.internal(frag, "issue") & (beat == beats - 1) & (block == blocks - 1),
                  "turn")
    m.d.comb += [Cover(turn & written & (beats == 1)), Cover(turn & written & (beats == 2))]
    return h
