"""The N:M structured-sparse multiply-accumulate unit."""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_model.config import NmTiming, SparseMacConfig
from sw_model.fixed import int_range

from .adder_tree import AdderTree
from .layouts import mac_beat_layout, mac_result_layout
from .select import NMSelect

__all__ = ["NMMac"]


class NMMac(wiring.Component):
    """N:M sparse dot-product unit: ``groups`` groups of ``m`` activations per beat.

    Each beat on ``i`` carries ``m * groups`` dense activations and ``n * groups``
    kept weights with their in-group indices (:func:`mac_beat_layout`). The
    indices steer multiplexers (:class:`NMSelect`) that pick the matching
    activations; ``n * groups`` multipliers feed an :class:`AdderTree`; the
    accumulator adds one beat per cycle. ``first`` clears the accumulator
    (the beat's sum replaces it), ``last`` ends a dot product: its result leaves
    on ``o`` as the requantized ``value`` and the raw wrapped ``acc``, by the
    rules of :func:`sw_model.nm_model.nm_dot`.

    Timing: one beat per cycle. The result of a dot product whose ``last``
    beat is accepted in cycle ``c`` is valid on ``o`` in cycle ``c + latency``
    (without output stalls). Backpressure stalls the whole pipeline: every
    register advances only when the output register is empty or being read
    (``advance = ~o.valid | o.ready``), and ``i.ready = advance``; so ``i.ready``
    depends combinationally on ``o.ready`` through one gate and no skid buffer
    is needed.

    Parameters
    ----------
    config : SparseMacConfig

    Members
    -------
    i : In(stream.Signature(mac_beat_layout(config)))
    o : Out(stream.Signature(mac_result_layout(config)))
    """

    #: Engine name in the design side-car (:data:`hw.generate.ENGINES`).
    ENGINE = "nm_mac"

    def __init__(self, *, config):
        if not isinstance(config, SparseMacConfig):
            raise TypeError(f"config must be a SparseMacConfig, not {config!r}")
        self._config = config
        self._tree = AdderTree(width=config.prod_bits, count=config.mults)
        super().__init__({
            "i": In(stream.Signature(mac_beat_layout(config))),
            "o": Out(stream.Signature(mac_result_layout(config))),
        })

    @property
    def config(self):
        """The :class:`SparseMacConfig` this unit was built from."""
        return self._config

    @property
    def tree_latency(self):
        """Register levels of the adder tree (``ceil(log2(n * groups))``)."""
        return self._tree.latency

    @property
    def latency(self):
        """Cycles from acceptance of a ``last`` beat to its result on ``o``.

        ``1`` (select) + ``1`` (multiply) + ``tree_latency`` + ``1`` (accumulate)
        + ``1`` (requantize into the output register).
        """
        return 4 + self.tree_latency

    @property
    def timing(self):
        """:attr:`latency` as the :class:`~sw_model.config.NmTiming` of the side-car."""
        return NmTiming(latency=self.latency)

    def elaborate(self, platform):
        # Pipeline; the cycle each register belongs to, for a beat accepted in cycle c:
        #
        #  i --> NMSelect --> sel_act, sel_w  (c+1) --> x --> prod (c+2)
        #    --> AdderTree (c+2+T) --> acc (c+3+T) --> requantize --> o (c+4+T)
        #
        # Valid/first/last travel alongside in shift registers. All registers
        # share one enable, `advance`, so a stalled output freezes the pipe.
        m = Module()
        cfg = self._config
        m.submodules.select = select = NMSelect(config=cfg)
        m.submodules.tree = tree = self._tree

        advance = Signal()
        m.d.comb += [
            advance.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(advance),
            tree.en.eq(advance),
            select.acts.eq(self.i.payload.acts),
        ]
        if not cfg.dense:
            m.d.comb += select.indices.eq(self.i.payload.indices)

        flags = data.StructLayout({"valid": 1, "first": 1, "last": 1})

        # Stage 1 (c+1): selected activations and their weights.
        sel_act = Signal(data.ArrayLayout(signed(cfg.act_bits), cfg.mults))
        sel_w = Signal(data.ArrayLayout(signed(cfg.w_bits), cfg.mults))
        s1 = Signal(flags)
        # Stage 2 (c+2): exact products.
        prod = Signal(data.ArrayLayout(signed(cfg.prod_bits), cfg.mults))
        s2 = Signal(flags)
        with m.If(advance):
            m.d.sync += [
                sel_act.eq(select.selected),
                sel_w.eq(self.i.payload.weights),
                s1.valid.eq(self.i.valid),
                s1.first.eq(self.i.payload.first),
                s1.last.eq(self.i.payload.last),
                s2.eq(s1),
            ]
            m.d.sync += [prod[k].eq(sel_act[k] * sel_w[k]) for k in range(cfg.mults)]
        m.d.comb += [tree.terms[k].eq(prod[k]) for k in range(cfg.mults)]

        # Flags delayed through the adder tree (c+2+T).
        tree_flags = s2
        for depth in range(self.tree_latency):
            delayed = Signal(flags, name=f"tree_flags_{depth}")
            with m.If(advance):
                m.d.sync += delayed.eq(tree_flags)
            tree_flags = delayed

        # Stage acc (c+3+T): the wrapping accumulator. Assigning to an
        # acc_bits-wide signal drops the carry: two's-complement wrap.
        acc = Signal(signed(cfg.acc_bits))
        done = Signal()
        with m.If(advance):
            m.d.sync += done.eq(tree_flags.valid & tree_flags.last)
            with m.If(tree_flags.valid):
                m.d.sync += acc.eq(Mux(tree_flags.first, 0, acc) + tree.total)

        # Stage out (c+4+T): round half up, saturate, ReLU (sw_model.fixed.requantize).
        shift = cfg.w_frac_bits
        rounded = (acc + Const(1 << (shift - 1))) >> shift if shift else acc
        lo, hi = int_range(cfg.out_bits)
        value = Mux(rounded > hi, hi, Mux(rounded < lo, lo, rounded))
        if cfg.relu:
            value = Mux(value < 0, 0, value)
        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(done),
                self.o.payload.value.eq(value),
                self.o.payload.acc.eq(acc),
            ]
        return m
