"""Matrix-vector tile: ``units`` N:M MAC units sharing one activation broadcast."""

import dataclasses

from amaranth.hdl import Cat, Module, Shape, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from sw_model.config import NmTiming, SparseTileConfig

from .layouts import (
    act_beat_layout,
    pack,
    tile_result_layout,
    unpack,
    weight_load_layout,
    weight_word_layout,
)
from .mac import NMMac
from .select import NMIndexDecode, NMSelect

__all__ = ["NMTile"]


class NMTile(wiring.Component):
    """``y = W x`` for an N:M-sparse ``W`` held in per-unit weight memories.

    Unit ``u`` owns rows ``u, u + units, ...`` of ``W`` (see
    :mod:`hw.sparse_nm.weights` for the memory image). For one vector the tile
    runs ``blocks`` row blocks of ``beats`` beats each; in every beat all units
    see the same ``m * groups`` activations and read their own weight word at
    address ``block * beats + beat``.

    Activations arrive once per vector on ``x`` (``beats`` beats). During row
    block 0 each beat is written into the activation memory and read back from
    it one cycle later; blocks ``1 .. blocks-1`` replay the memory, so ``x`` is
    not ready during them. The next vector may start in the cycle after the
    last beat of the last block is issued (it is written to the other half of
    the activation memory, which holds two vectors).

    With ``config.shared_indices`` (vector-wise N:M) the rows of a row block
    share their indices: they are stored once, in an index memory loaded from
    unit 0's ``wload`` words, and the tile selects the activations for all
    units at once; the units are then dense ``n:n`` units.

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
    family : str or None
        FPGA family of the units' multipliers (:class:`hw.primitives.Multiplier`);
        ``None`` is the generic version. The cycle behaviour is the same for all.

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

    def __init__(self, *, config, init=None, family=None):
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
        # With shared indices the tile selects the activations for all units,
        # so each unit is the dense n:n unit of the same widths.
        unit_mac = (dataclasses.replace(config.mac, m=config.mac.n) if config.shared_indices
                    else config.mac)
        self._macs = [NMMac(config=unit_mac, family=family) for _ in range(config.units)]
        self._family = family
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
    def family(self):
        """FPGA family of the multipliers (``None``: generic)."""
        return self._family

    @property
    def fetch_latency(self):
        """Cycles from a beat's issue to its arrival at the units.

        4: the activation memory is read one cycle after the issue (so that a
        beat written from ``x`` in its issue cycle can be read back); its data
        is registered once beside the memory and once more for the broadcast
        to the units; the weight memories are read so that their registered
        data arrives with the activations. With ``shared_indices``, 6: the
        shared index decode and the shared selection add a register each.
        """
        return 6 if self._config.shared_indices else 4

    @property
    def latency(self):
        """Cycles from acceptance of a row block's last beat to its result on ``o``.

        :attr:`fetch_latency` + :attr:`NMMac.latency` (of the units: the dense
        ``n:n`` unit with ``shared_indices``).
        """
        return self.fetch_latency + self._macs[0].latency

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
        # Fetch, for a beat issued in cycle c (sequencer: beat, block, waddr),
        # F = fetch_latency:
        #
        #   c      x beat --> act_mem[half, beat] (write; row block 0 only)
        #   c+1    (half, beat) registered --> act_mem (read)
        #   c+2    act_mem data --> a_q
        #   c+3    a_q --> a_bcast
        #   c+F-2  waddr, delayed F-2 cycles --> w_mem[u] (read)
        #   c+F-1  w_mem[u] data --> w_q[u]
        #   c+F    w_q[u] --> unit u; activations --> every unit
        #
        # Per-row indices (F = 4): the units get a_bcast and decode their own
        # indices. Shared indices (F = 6): the row block's indices live once,
        # in idx_mem (read at c+2, registered at c+4); the tile decodes them
        # into offsets (c+5, registered with the activations) and selects the
        # activations of all units at once (c+6); the units are dense.
        #
        # Every beat, including row block 0's, is read back from the activation
        # memory, so no multiplexer chooses between `x` and the memory. The
        # memory holds two halves: vector v is written to half v % 2, so the
        # first beats of the next vector never overwrite a word the last block
        # of this one has still to read. A block-RAM output goes to one
        # register and nothing else (ECP5 DP16KD clock-to-out is about 6 ns at
        # speed grade 6, and yosys uses no DP16KD output register); a_q has no
        # other load than a_bcast, so it can sit beside the memory, and
        # a_bcast is the registered fan-out. All fetch registers and memory
        # read enables follow `fetch_advance`, so a stall freezes the fetch stages.
        m = Module()
        cfg = self._config
        mac_cfg = cfg.mac
        shared = cfg.shared_indices
        depth = self.fetch_latency
        act_layout = act_beat_layout(mac_cfg)
        word_layout = weight_word_layout(mac_cfg)
        weights_layout = word_layout["weights"].shape
        # What each unit's memory holds: the whole word, or (shared) its weights.
        unit_word = weights_layout if shared else word_layout
        load_word = data.View(word_layout, self.wload.payload.word)

        # No read whose data is used meets a write to the same word in the
        # same cycle (the halves of act_mem, proved by the formal check
        # nm_tile_act_mem; wload only while no vector is in flight), so the
        # memories tell yosys not to build logic for that case (`no_rw_check`):
        # without it yosys puts a multiplexer on every read-data bit of act_mem.
        no_rw_check = {"no_rw_check": 1}
        # The address is Cat(beat, half): each half spans the power of two
        # that holds act_depth beats, so half 1 never wraps onto half 0.
        beat_bits = Shape.cast(range(cfg.act_depth)).width
        m.submodules.act_mem = act_mem = Memory(
            shape=unsigned(act_layout.size), depth=2 << beat_bits, init=[],
            attrs=no_rw_check)
        act_wr = act_mem.write_port()
        act_rd = act_mem.read_port()
        w_rds = []
        for unit in range(cfg.units):
            init = self._init[unit]
            if shared:
                init = [pack(weights_layout, unpack(word_layout, word)["weights"])
                        for word in init]
            w_mem = Memory(shape=unsigned(unit_word.size), depth=cfg.weight_depth, init=init,
                           attrs=no_rw_check)
            m.submodules[f"w_mem_{unit}"] = w_mem
            w_wr = w_mem.write_port()
            m.d.comb += [
                w_wr.addr.eq(self.wload.payload.addr),
                w_wr.data.eq(load_word.weights if shared else load_word),
                w_wr.en.eq(self.wload.valid & (self.wload.payload.unit == unit)),
            ]
            w_rds.append(w_mem.read_port())
        if shared:
            indices_layout = word_layout["indices"].shape
            m.submodules.idx_mem = idx_mem = Memory(
                shape=unsigned(indices_layout.size), depth=cfg.weight_depth,
                init=[pack(indices_layout, unpack(word_layout, word)["indices"])
                      for word in self._init[0]], attrs=no_rw_check)
            idx_wr = idx_mem.write_port()
            idx_rd = idx_mem.read_port()
            m.d.comb += [
                idx_wr.addr.eq(self.wload.payload.addr),
                idx_wr.data.eq(load_word.indices),
                idx_wr.en.eq(self.wload.valid & (self.wload.payload.unit == 0)),
            ]
        m.d.comb += self.wload.ready.eq(1)

        for unit, mac in enumerate(self._macs):
            m.submodules[f"unit_{unit}"] = mac

        # Sequencer (cycle c): (block, beat), the weight address block * beats +
        # beat, and the activation-memory half of the vector.
        beat = Signal(range(cfg.act_depth))
        block = Signal(range(cfg.weight_depth))
        waddr = Signal(range(cfg.weight_depth))
        half = Signal()
        flags = data.StructLayout({"valid": 1, "first": 1, "last": 1})
        fs = [Signal(flags, name=f"f{k}") for k in range(1, depth + 1)]
        # Addresses and data need no reset: the valid flags say what counts.
        r_waddrs = [Signal.like(waddr, reset_less=True, name=f"r{k}_waddr")
                    for k in range(1, depth - 1)]
        r_aaddr = Signal(beat_bits + 1, reset_less=True)

        units_ready = Signal()
        m.d.comb += units_ready.eq(Cat(mac.i.ready for mac in self._macs).all())
        fetch_advance = Signal()
        issue = Signal()
        in_block0 = block == 0
        last_beat = beat == self.beats - 1
        last_block = block == self.blocks - 1
        m.d.comb += [
            fetch_advance.eq(~fs[-1].valid | units_ready),
            self.x.ready.eq(fetch_advance & in_block0),
            issue.eq(fetch_advance & (~in_block0 | self.x.valid)),
            act_wr.addr.eq(Cat(beat, half)),
            act_wr.data.eq(self.x.payload),
            act_wr.en.eq(self.x.valid & self.x.ready),
            act_rd.addr.eq(r_aaddr),
            act_rd.en.eq(fetch_advance),
        ]
        for w_rd in w_rds:
            m.d.comb += [w_rd.addr.eq(r_waddrs[-1]), w_rd.en.eq(fetch_advance)]

        w_qs = [Signal(unit_word, name=f"w_q_{unit}", reset_less=True)
                for unit in range(cfg.units)]
        a_q = Signal(act_layout, reset_less=True)
        a_bcast = Signal(act_layout, reset_less=True)
        with m.If(fetch_advance):
            m.d.sync += [
                fs[0].valid.eq(issue),
                fs[0].first.eq(beat == 0),
                fs[0].last.eq(last_beat),
                r_waddrs[0].eq(waddr),
                r_aaddr.eq(Cat(beat, half)),
                a_q.eq(act_rd.data),
                a_bcast.eq(a_q),
            ]
            m.d.sync += [later.eq(earlier) for earlier, later in zip(fs[:-1], fs[1:], strict=True)]
            m.d.sync += [later.eq(earlier) for earlier, later in
                         zip(r_waddrs[:-1], r_waddrs[1:], strict=True)]
            m.d.sync += [w_q.eq(w_rd.data) for w_q, w_rd in zip(w_qs, w_rds, strict=True)]
        with m.If(issue):
            with m.If(last_beat):
                m.d.sync += beat.eq(0)
                with m.If(last_block):
                    m.d.sync += [block.eq(0), waddr.eq(0), half.eq(~half)]
                with m.Else():
                    m.d.sync += [block.eq(block + 1), waddr.eq(waddr + 1)]
            with m.Else():
                m.d.sync += [beat.eq(beat + 1), waddr.eq(waddr + 1)]

        if shared:
            # c+2 .. c+6: the row block's indices, decoded and applied once.
            m.submodules.decode = decode = NMIndexDecode(config=mac_cfg)
            m.submodules.select = select = NMSelect(config=mac_cfg)
            idx_q = Signal(indices_layout, reset_less=True)
            offsets_s = Signal.like(decode.offsets, reset_less=True)
            a_s = Signal(act_layout, reset_less=True)
            acts = Signal(select.selected.shape(), reset_less=True)
            m.d.comb += [
                idx_rd.addr.eq(r_waddrs[1]),
                idx_rd.en.eq(fetch_advance),
                decode.indices.eq(idx_q),
                select.acts.eq(a_s),
                select.offsets.eq(offsets_s),
            ]
            with m.If(fetch_advance):
                m.d.sync += [
                    idx_q.eq(idx_rd.data),            # c+4
                    offsets_s.eq(decode.offsets),     # c+5
                    a_s.eq(a_bcast),                  # c+5
                    acts.eq(select.selected),         # c+6
                ]
        else:
            acts = a_bcast

        # Cycle c+F: present the beat to every unit.
        for mac, w_q in zip(self._macs, w_qs, strict=True):
            m.d.comb += [
                mac.i.valid.eq(fs[-1].valid),
                mac.i.payload.acts.eq(acts),
                mac.i.payload.weights.eq(w_q if shared else w_q.weights),
                mac.i.payload.first.eq(fs[-1].first),
                mac.i.payload.last.eq(fs[-1].last),
                mac.o.ready.eq(self.o.ready),
            ]
            if not mac_cfg.dense and not shared:
                m.d.comb += mac.i.payload.indices.eq(w_q.indices)

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
