"""Pipelined adder tree: one register level per addition level."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from sw_model.fixed import check_int

__all__ = ["AdderTree"]


class AdderTree(wiring.Component):
    """Sum ``count`` signed ``width``-bit terms, exactly, through a registered binary tree.

    Level ``l`` adds pairs of level ``l - 1`` results (an odd one out is passed
    on) and registers them, so the sum of the terms present in cycle ``c``
    appears in cycle ``c + latency`` with ``latency = ceil(log2(count))``. Every
    register loads only when ``en`` is high, which is how the MAC stalls the
    whole pipeline. The sum is ``width + latency`` bits wide, so it never
    overflows. With ``count == 1`` the tree is a wire (latency 0). The partial
    sums have no reset (data only; whoever uses the tree keeps the valid flags).

    Parameters
    ----------
    width : int
        Width of one signed term.
    count : int
        Number of terms.

    Members
    -------
    en : In(1)
        Advance the pipeline this cycle.
    terms : In(ArrayLayout(signed(width), count))
    total : Out(signed(width + latency))
    """

    def __init__(self, *, width, count):
        self._width = check_int("width", width, lo=1, hi=128)
        self._count = check_int("count", count, lo=1, hi=4096)
        super().__init__({
            "en": In(1),
            "terms": In(data.ArrayLayout(signed(self._width), self._count)),
            "total": Out(signed(self._width + self.latency)),
        })

    @property
    def width(self):
        """Width of one term."""
        return self._width

    @property
    def count(self):
        """Number of terms."""
        return self._count

    @property
    def latency(self):
        """Register levels between ``terms`` and ``total`` (``ceil(log2(count))``)."""
        return (self._count - 1).bit_length()

    def elaborate(self, platform):
        #   terms --+--[+]--reg--+--[+]--reg-- ... --reg-- total
        #           +-/          +-/
        # Level l holds ceil(count / 2**l) partial sums, each width + l bits.
        m = Module()
        level = [self.terms[k] for k in range(self._count)]
        for depth in range(1, self.latency + 1):
            nxt = []
            for k in range(0, len(level), 2):
                acc = Signal(signed(self._width + depth), name=f"sum_l{depth}_{k // 2}",
                             reset_less=True)
                pair = level[k] + level[k + 1] if k + 1 < len(level) else level[k]
                with m.If(self.en):
                    m.d.sync += acc.eq(pair)
                nxt.append(acc)
            level = nxt
        m.d.comb += self.total.eq(level[0])
        return m
