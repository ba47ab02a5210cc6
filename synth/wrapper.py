"""A pin wrapper that narrows any design to a four-wire serial port.

The engines have host interfaces hundreds of bits wide, far more than the 39
user IOs of an iCE40UP5K in the SG48 package. Tying the unused ports off would
let yosys delete most of the engine; bringing them out would not place.
:class:`SerialWrapper` keeps every port of the design alive behind four pins
(``sclk``, ``sdi``, ``latch``, ``sdo``): all input bits come from registers the
host fills serially, all output bits are captured into a register the host reads
back serially, so the synthesized netlist is the whole design.

The wrapper is a top level: it defines the ``sync`` clock domain (its clock is
the ``clk`` pin) and resets it from the ``rst`` pin through a reset
synchroniser, so no path from a pin to the design's flip-flops limits Fmax.
"""

from amaranth import Cat, ClockDomain, ClockSignal, Module, Signal
from amaranth.hdl import EnableInserter, Value
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer, ResetSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["SerialWrapper"]


class SerialWrapper(wiring.Component):
    """Drive all inputs and capture all outputs of ``design`` through a serial port.

    Protocol (all pins are synchronised to the design's ``sync`` clock, so the
    host may drive them from any clock as long as each level of ``sclk`` and
    ``latch`` lasts at least 3 cycles of ``clk``):

    * On each rising edge of ``sclk`` one bit of ``sdi`` enters the input chain
      and the output chain moves one bit towards ``sdo``. Both chains go least
      significant bit first: after ``in_bits`` clocks, the first bit sent sits
      at bit 0 of the flattened input vector described by :attr:`input_map`.
      ``sdo`` shows bit 0 of the output chain before the first clock.
    * On a rising edge of ``latch`` the input chain is copied to the hold
      register that drives the design's inputs; on the next cycle, the design's
      outputs (as :attr:`output_map` lays them out) are captured into the output
      chain. With ``single_step``, the design's ``sync`` domain is enabled only
      on that cycle, so each latch pulse advances the design by exactly one
      clock edge and the captured outputs are the ones it saw on that edge.

    Parameters
    ----------
    design : wiring.Component
        The design to wrap; it must use only the ``sync`` clock domain.
    single_step : bool
        Gate the design's clock enable with the latch pulse (for bring-up on a
        board). Off by default, so the synthesized design and its Fmax are
        those of the free-running engine.
    """

    clk: In(1)
    rst: In(1)
    sclk: In(1)
    sdi: In(1)
    latch: In(1)
    sdo: Out(1)

    def __init__(self, *, design, single_step=False):
        if not isinstance(design, wiring.Component):
            raise TypeError(f"design must be a wiring.Component, not {design!r}")
        if not isinstance(single_step, bool):
            raise TypeError(f"single_step must be a bool, not {single_step!r}")
        self._design = design
        self._single_step = single_step
        self._inputs = []
        self._outputs = []
        for path, member, value in design.signature.flatten(design):
            name = "__".join(str(p) for p in path)
            group = self._inputs if member.flow == In else self._outputs
            # Struct-typed ports are views: the wrapper only needs their bits.
            group.append((name, Value.cast(value)))
        if not self._outputs:
            raise ValueError(
                f"design must have at least one output port (else nothing is observable), "
                f"not {design!r}")
        super().__init__()

    @property
    def design(self):
        """The wrapped design."""
        return self._design

    @property
    def single_step(self):
        """Whether each ``latch`` pulse advances the design by one clock edge."""
        return self._single_step

    @staticmethod
    def _layout(ports):
        layout, offset = [], 0
        for name, value in ports:
            layout.append({"name": name, "offset": offset, "width": len(value)})
            offset += len(value)
        return layout

    @property
    def input_map(self):
        """``[{"name", "offset", "width"}]``: where each design input sits in the input chain."""
        return self._layout(self._inputs)

    @property
    def output_map(self):
        """``[{"name", "offset", "width"}]``: where each design output sits in the output chain."""
        return self._layout(self._outputs)

    @property
    def in_bits(self):
        """Length of the input chain (all design input bits)."""
        return sum(len(value) for _, value in self._inputs)

    @property
    def out_bits(self):
        """Length of the output chain (all design output bits)."""
        return sum(len(value) for _, value in self._outputs)

    def elaborate(self, platform):
        # Cycle by cycle, after the two-flop synchronisers:
        #   t   : rising edge seen on latch_s      -> hold <= in_chain, apply <= 1
        #   t+1 : apply (design inputs are the new hold; with single_step the
        #         design's sync domain ticks on this edge only) -> out_chain <= outputs
        # sclk rising edges shift both chains; the host never shifts during a latch.
        m = Module()
        m.domains.sync = ClockDomain()
        m.d.comb += ClockSignal("sync").eq(self.clk)
        m.submodules.rst_sync = ResetSynchronizer(self.rst, domain="sync")

        apply = Signal()
        if self._single_step:
            m.submodules.design = EnableInserter(apply)(self._design)
        else:
            m.submodules.design = self._design

        sclk_s, sdi_s, latch_s = Signal(), Signal(), Signal()
        m.submodules.sclk_sync = FFSynchronizer(self.sclk, sclk_s)
        m.submodules.sdi_sync = FFSynchronizer(self.sdi, sdi_s)
        m.submodules.latch_sync = FFSynchronizer(self.latch, latch_s)
        sclk_prev, latch_prev = Signal(), Signal()
        m.d.sync += [sclk_prev.eq(sclk_s), latch_prev.eq(latch_s)]
        sclk_rise = sclk_s & ~sclk_prev
        latch_rise = latch_s & ~latch_prev

        in_chain = Signal(self.in_bits)
        hold = Signal(self.in_bits)
        out_chain = Signal(self.out_bits)

        with m.If(sclk_rise):
            if self.in_bits:
                m.d.sync += in_chain.eq(Cat(in_chain[1:], sdi_s))
            m.d.sync += out_chain.eq(out_chain[1:])
        m.d.sync += apply.eq(latch_rise)
        with m.If(latch_rise):
            m.d.sync += hold.eq(in_chain)
        with m.If(apply):
            m.d.sync += out_chain.eq(Cat(*(value for _, value in self._outputs)))

        for entry, (_, value) in zip(self.input_map, self._inputs, strict=True):
            m.d.comb += value.eq(hold[entry["offset"]:entry["offset"] + entry["width"]])
        m.d.comb += self.sdo.eq(out_chain[0])
        return m
