"""The N:M structured-sparse multiply-accumulate unit."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_model.config import NmTiming, SparseMacConfig
from sw_model.fixed import int_range

from ..primitives import Multiplier
from .adder_tree import AdderTree
from .layouts import mac_beat_layout, mac_result_layout
from .select import NMIndexDecode, NMSelect

__all__ = ["NMMac"]


class NMMac(wiring.Component):
    """N:M sparse dot-product unit: ``groups`` groups of ``m`` activations per beat.

    Each beat on ``i`` carries ``m * groups`` dense activations and ``n * groups``
    kept weights with their in-group indices (:func:`mac_beat_layout`). The
    indices are decoded into multiplexer selects (:class:`NMIndexDecode`) and
    registered with the beat; the multiplexers (:class:`NMSelect`) then pick
    the matching activations for ``n * groups`` registered multipliers
    (:class:`hw.primitives.Multiplier`), which feed an :class:`AdderTree`; the
    accumulator adds one beat per cycle. ``first`` clears the accumulator (the
    beat's sum replaces it), ``last`` ends a dot product: its result leaves on
    ``o`` as the requantized ``value`` and the raw wrapped ``acc``, by the
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
    family : str or None
        FPGA family of the multipliers (see :class:`hw.primitives.Multiplier`);
        ``None`` is the generic version. The cycle behaviour is the same for all.

    Members
    -------
    i : In(stream.Signature(mac_beat_layout(config)))
    o : Out(stream.Signature(mac_result_layout(config)))
    """

    #: Engine name in the design side-car (:data:`hw.generate.ENGINES`).
    ENGINE = "nm_mac"

    def __init__(self, *, config, family=None):
        if not isinstance(config, SparseMacConfig):
            raise TypeError(f"config must be a SparseMacConfig, not {config!r}")
        self._config = config
        self._tree = AdderTree(width=config.prod_bits, count=config.mults)
        self._mults = [Multiplier(signed(config.act_bits), signed(config.w_bits), family=family)
                       for _ in range(config.mults)]
        self._family = family
        super().__init__({
            "i": In(stream.Signature(mac_beat_layout(config))),
            "o": Out(stream.Signature(mac_result_layout(config))),
        })

    @property
    def config(self):
        """The :class:`SparseMacConfig` this unit was built from."""
        return self._config

    @property
    def family(self):
        """FPGA family of the multipliers (``None``: generic)."""
        return self._family

    @property
    def tree_latency(self):
        """Register levels of the adder tree (``ceil(log2(n * groups))``)."""
        return self._tree.latency

    @property
    def mult_latency(self):
        """Register levels of a multiplier (:attr:`hw.primitives.Multiplier.latency`)."""
        return self._mults[0].latency

    @property
    def latency(self):
        """Cycles from acceptance of a ``last`` beat to its result on ``o``.

        ``1`` (decode register) + :attr:`mult_latency` + :attr:`tree_latency`
        + ``1`` (accumulate) + ``1`` (requantize into the output register).
        """
        return 1 + self.mult_latency + self.tree_latency + 2

    @property
    def timing(self):
        """:attr:`latency` as the :class:`~sw_model.config.NmTiming` of the side-car."""
        return NmTiming(latency=self.latency)

    def elaborate(self, platform):
        # Pipeline; the cycle each register belongs to, for a beat accepted in cycle c
        # (M = mult_latency, T = tree_latency):
        #
        #  i --> NMIndexDecode --> offsets_d, acts_d, w_d (c+1) --> NMSelect
        #    --> Multiplier (input registers c+2 ... product c+1+M)
        #    --> AdderTree (c+1+M+T) --> acc (c+2+M+T) --> requantize --> o (c+3+M+T)
        #
        # The decode register keeps the index decode off the path that feeds
        # the beat in (in a tile: the weight memory's output register), and the
        # multiplexers are the only logic before the multipliers' input
        # registers. Valid/first/last travel alongside in shift registers. All
        # registers share one enable, `advance`, so a stalled output freezes the pipe.
        m = Module()
        cfg = self._config
        m.submodules.select = select = NMSelect(config=cfg)
        m.submodules.tree = tree = self._tree
        for k, mult in enumerate(self._mults):
            m.submodules[f"mult_{k}"] = mult

        advance = Signal()
        m.d.comb += [
            advance.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(advance),
            tree.en.eq(advance),
        ]

        flags = data.StructLayout({"valid": 1, "first": 1, "last": 1})

        # Decode stage (c+1): the beat and its multiplexer selects. Data
        # registers have no reset: the flags say what counts.
        acts_d = Signal(data.ArrayLayout(signed(cfg.act_bits), cfg.lanes), reset_less=True)
        w_d = Signal(data.ArrayLayout(signed(cfg.w_bits), cfg.mults), reset_less=True)
        s1 = Signal(flags)
        with m.If(advance):
            m.d.sync += [
                acts_d.eq(self.i.payload.acts),
                w_d.eq(self.i.payload.weights),
                s1.valid.eq(self.i.valid),
                s1.first.eq(self.i.payload.first),
                s1.last.eq(self.i.payload.last),
            ]
        m.d.comb += select.acts.eq(acts_d)
        if not cfg.dense:
            m.submodules.decode = decode = NMIndexDecode(config=cfg)
            offsets_d = Signal.like(decode.offsets, reset_less=True)
            m.d.comb += decode.indices.eq(self.i.payload.indices)
            with m.If(advance):
                m.d.sync += offsets_d.eq(decode.offsets)
            m.d.comb += select.offsets.eq(offsets_d)

        # Multipliers (c+2 .. c+1+M): selected activation times its weight.
        for k, mult in enumerate(self._mults):
            m.d.comb += [
                mult.a.eq(select.selected[k]),
                mult.b.eq(w_d[k]),
                mult.en.eq(advance),
                tree.terms[k].eq(mult.p),
            ]

        # Flags delayed through the multipliers and the adder tree (c+1+M+T).
        tree_flags = s1
        for depth in range(self.mult_latency + self.tree_latency):
            delayed = Signal(flags, name=f"flags_{depth}")
            with m.If(advance):
                m.d.sync += delayed.eq(tree_flags)
            tree_flags = delayed

        # Stage acc (c+2+M+T): the wrapping accumulator. Assigning to an
        # acc_bits-wide signal drops the carry: two's-complement wrap.
        acc = Signal(signed(cfg.acc_bits), reset_less=True)
        done = Signal()
        with m.If(advance):
            m.d.sync += done.eq(tree_flags.valid & tree_flags.last)
            with m.If(tree_flags.valid):
                m.d.sync += acc.eq(Mux(tree_flags.first, 0, acc) + tree.total)

        # Stage out (c+3+M+T): round half up, saturate, ReLU (sw_model.fixed.requantize).
        # The saturation tests compare `acc` itself with constants, beside the
        # rounding adder instead of after it, so only one carry chain lies
        # between the accumulator and the output register:
        #   (acc + half) >> shift > hi  <=>  acc >= ((hi + 1) << shift) - half
        #   (acc + half) >> shift < lo  <=>  acc <  (lo << shift) - half
        #   (acc + half) >> shift < 0   <=>  acc <  -half
        shift = cfg.w_frac_bits
        half = (1 << shift) >> 1
        rounded = (acc + half) >> shift if shift else acc
        lo, hi = int_range(cfg.out_bits)
        over = acc >= ((hi + 1) << shift) - half
        floor = 0 if cfg.relu else lo
        under = acc < (floor << shift) - half
        value = Mux(over, hi, Mux(under, floor, rounded))
        out_value = Signal(signed(cfg.out_bits), reset_less=True)
        out_acc = Signal(signed(cfg.acc_bits), reset_less=True)
        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(done),
                out_value.eq(value),
                out_acc.eq(acc),
            ]
        m.d.comb += [self.o.payload.value.eq(out_value), self.o.payload.acc.eq(out_acc)]
        return m
