"""Formal harnesses of the N:M MAC unit's blocks (``hw/sparse_nm/``).

:func:`nm_select_equivalence` shows that the index decode and the reduced
multiplexers (``m - n + 1`` inputs each) pick, for every valid index
combination and every activation value, what a full ``m``-input multiplexer
picks: ``acts[g * m + indices[g * n + j]]``. :func:`nm_mac_stream` shows that
the unit's output keeps the stream rules under backpressure.
"""

from amaranth.hdl import Array, Assert, Assume, Cover

from hw.sparse_nm.mac import NMMac
from hw.sparse_nm.select import NMIndexDecode, NMSelect

from .harness import Harness, stream_rules

__all__ = ["nm_select_equivalence", "nm_mac_stream"]


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
