"""Matrix-vector tile: ``units`` N:M MAC units sharing one activation broadcast."""

from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from sw_model.config import NmTiming, SparseTileConfig

from .layouts import act_beat_layout, tile_result_layout, weight_load_layout, weight_word_layout
from .mac import NMMac

__all__ = ["NMTile"]


class NMTile(wiring.Component):
    """``y = W x`` for an N:M-sparse ``W`` held in per-unit weight memories.

    Unit ``u`` owns rows ``u, u + units, ...`` of ``W`` (see
    :mod:`hw.sparse_nm.weights` for the memory image). For one vector the tile
    runs ``blocks`` row blocks of ``beats`` beats each; in every beat all units
    see the same ``m * groups`` activations and read their own weight word at
    address ``block * beats + beat``.

    Activations arrive once per vector on ``x`` (``beats`` beats). During row
    block 0 each beat goes straight to the units and is also written into the
    activation buffer; blocks ``1 .. blocks-1`` replay the buffer, so ``x`` is
    not ready during them. The next vector may start in the cycle after the
    last beat of the last block is issued.

    Results leave on ``o``, one transfer per row block (``values[u]`` is row
    ``block * units + u``; ``last`` marks the final block). Backpressure on ``o``
    stalls the units and, through them, the fetch stage.

    Timing, with ``x`` always valid and ``o`` always ready: if the first beat of
    a vector is accepted in cycle 0, the result of row block ``b`` is valid in
    cycle ``(b + 1) * beats - 1 + latency``; see :meth:`vector_cycles`.

    ``beats`` and ``blocks`` are inputs so one build serves any layer that fits;
    they must hold still while a vector is in flight (``1 <= beats <=
    act_depth``, ``1 <= blocks``, ``beats * blocks <= weight_depth``).
    ``wload`` writes one weight word per cycle and is always ready; it must not
    be used while a vector is in flight.

    Parameters
    ----------
    config : SparseTileConfig
    init : list of list of int, optional
        Initial weight-memory contents, per unit (from
        :func:`hw.sparse_nm.weights.tile_weight_image`); missing words are 0.

    Members
    -------
    x : In(stream.Signature(act_beat_layout(config.mac)))
    wload : In(stream.Signature(weight_load_layout(config)))
    o : Out(stream.Signature(tile_result_layout(config)))
    beats : In(range(act_depth + 1))
    blocks : In(range(max_blocks + 1))
    """

    #: Engine name in the design side-car (:data:`hw.generate.ENGINES`).
    ENGINE = "nm_tile"

    def __init__(self, *, config, init=None):
        if not isinstance(config, SparseTileConfig):
            raise TypeError(f"config must be a SparseTileConfig, not {config!r}")
        self._config = config
        word_bits = weight_word_layout(config.mac).size
        if init is None:
            init = [[] for _ in range(config.units)]
        if not isinstance(init, (list, tuple)) or len(init) != config.units:
            raise ValueError(
                f"init must be a list of {config.units} per-unit word lists, not {init!r:.80}")
        for unit, words in enumerate(init):
            if len(words) > config.weight_depth:
                raise ValueError(
                    f"init for unit {unit} holds {len(words)} words, more than "
                    f"weight_depth ({config.weight_depth})")
            for word in words:
                if (isinstance(word, bool) or not isinstance(word, int)
                        or not 0 <= word < 1 << word_bits):
                    raise ValueError(
                        f"init for unit {unit} must hold {word_bits}-bit unsigned integers, "
                        f"not {word!r}")
        self._init = [list(words) for words in init]
        self._macs = [NMMac(config=config.mac) for _ in range(config.units)]
        super().__init__({
            "x": In(stream.Signature(act_beat_layout(config.mac))),
            "wload": In(stream.Signature(weight_load_layout(config))),
            "o": Out(stream.Signature(tile_result_layout(config))),
            "beats": In(range(config.act_depth + 1)),
            "blocks": In(range(config.max_blocks + 1)),
        })

    @property
    def config(self):
        """The :class:`SparseTileConfig` this tile was built from."""
        return self._config

    @property
    def latency(self):
        """Cycles from acceptance of a row block's last beat to its result on ``o``.

        ``1`` (weight/activation fetch) + :attr:`NMMac.latency`.
        """
        return 1 + self._macs[0].latency

    @property
    def timing(self):
        """:attr:`latency` as the :class:`~sw_model.config.NmTiming` of the side-car."""
        return NmTiming(latency=self.latency)

    def vector_cycles(self, beats, blocks):
        """Cycles for one vector: ``blocks * beats + latency``.

        Counted from the cycle the vector's first beat is accepted on ``x`` to
        the cycle its last result is valid on ``o``, both included, with ``x``
        always valid and ``o`` always ready.
        """
        return blocks * beats + self.latency

    def elaborate(self, platform):
        #            x ----+--------------------> x_reg --+
        #                  +--> act_mem (write)           +--> MUX --> acts ---> unit 0..U-1 --> o
        #  beat/block ---> act_mem (read, blocks >= 1) ---+                weights --^
        #  waddr      ---> w_mem[u] (read) ---------------------------------------+
        #
        # Fetch stage (cycle c: addresses issued, x beat registered; cycle c+1:
        # memory data and x_reg valid, presented to the units). Memory read
        # enables follow `fetch_advance`, so a stall freezes the read data.
        m = Module()
        cfg = self._config
        mac_cfg = cfg.mac
        act_layout = act_beat_layout(mac_cfg)
        word_layout = weight_word_layout(mac_cfg)

        m.submodules.act_mem = act_mem = Memory(
            shape=unsigned(act_layout.size), depth=cfg.act_depth, init=[])
        act_wr = act_mem.write_port()
        act_rd = act_mem.read_port()
        w_rds = []
        for unit in range(cfg.units):
            w_mem = Memory(shape=unsigned(word_layout.size), depth=cfg.weight_depth,
                           init=self._init[unit])
            m.submodules[f"w_mem_{unit}"] = w_mem
            w_wr = w_mem.write_port()
            m.d.comb += [
                w_wr.addr.eq(self.wload.payload.addr),
                w_wr.data.eq(self.wload.payload.word),
                w_wr.en.eq(self.wload.valid & (self.wload.payload.unit == unit)),
            ]
            w_rds.append(w_mem.read_port())
        m.d.comb += self.wload.ready.eq(1)

        for unit, mac in enumerate(self._macs):
            m.submodules[f"unit_{unit}"] = mac

        # Sequencer: (block, beat) and the weight address block * beats + beat.
        beat = Signal(range(cfg.act_depth))
        block = Signal(range(cfg.weight_depth))
        waddr = Signal(range(cfg.weight_depth))
        f_valid = Signal()
        f_from_x = Signal()
        f_first = Signal()
        f_last = Signal()
        x_reg = Signal(act_layout)

        units_ready = Signal()
        m.d.comb += units_ready.eq(Cat(mac.i.ready for mac in self._macs).all())
        fetch_advance = Signal()
        issue = Signal()
        in_block0 = block == 0
        last_beat = beat == self.beats - 1
        last_block = block == self.blocks - 1
        m.d.comb += [
            fetch_advance.eq(~f_valid | units_ready),
            self.x.ready.eq(fetch_advance & in_block0),
            issue.eq(fetch_advance & (~in_block0 | self.x.valid)),
            act_wr.addr.eq(beat),
            act_wr.data.eq(self.x.payload),
            act_wr.en.eq(self.x.valid & self.x.ready),
            act_rd.addr.eq(beat),
            act_rd.en.eq(fetch_advance),
        ]
        for w_rd in w_rds:
            m.d.comb += [w_rd.addr.eq(waddr), w_rd.en.eq(fetch_advance)]

        with m.If(fetch_advance):
            m.d.sync += [
                f_valid.eq(issue),
                f_from_x.eq(in_block0),
                f_first.eq(beat == 0),
                f_last.eq(last_beat),
                x_reg.eq(self.x.payload),
            ]
        with m.If(issue):
            with m.If(last_beat):
                m.d.sync += beat.eq(0)
                with m.If(last_block):
                    m.d.sync += [block.eq(0), waddr.eq(0)]
                with m.Else():
                    m.d.sync += [block.eq(block + 1), waddr.eq(waddr + 1)]
            with m.Else():
                m.d.sync += [beat.eq(beat + 1), waddr.eq(waddr + 1)]

        # Cycle c+1: present the beat to every unit.
        acts = Signal(act_layout)
        with m.If(f_from_x):
            m.d.comb += acts.eq(x_reg)
        with m.Else():
            m.d.comb += acts.eq(act_rd.data)
        for mac, w_rd in zip(self._macs, w_rds, strict=True):
            word = data.View(word_layout, w_rd.data)
            m.d.comb += [
                mac.i.valid.eq(f_valid),
                mac.i.payload.acts.eq(acts),
                mac.i.payload.weights.eq(word.weights),
                mac.i.payload.first.eq(f_first),
                mac.i.payload.last.eq(f_last),
                mac.o.ready.eq(self.o.ready),
            ]
            if not mac_cfg.dense:
                m.d.comb += mac.i.payload.indices.eq(word.indices)

        # Results: the units run in lockstep, so unit 0's valid stands for all.
        out_block = Signal(range(cfg.weight_depth))
        m.d.comb += [
            self.o.valid.eq(self._macs[0].o.valid),
            self.o.payload.last.eq(out_block == self.blocks - 1),
        ]
        for unit, mac in enumerate(self._macs):
            m.d.comb += [
                self.o.payload.values[unit].eq(mac.o.payload.value),
                self.o.payload.accs[unit].eq(mac.o.payload.acc),
            ]
        with m.If(self.o.valid & self.o.ready):
            with m.If(self.o.payload.last):
                m.d.sync += out_block.eq(0)
            with m.Else():
                m.d.sync += out_block.eq(out_block + 1)
        return m
