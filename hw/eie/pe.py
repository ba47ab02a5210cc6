"""One EIE processing element (PE)."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..primitives import KEEP, BlockRam, Multiplier
from .blocks import (
    Accumulators,
    ActQueue,
    PtrRead,
    WeightDecoder,
    _bits,
    bcast_layout,
    check_config,
    item_layout,
    requantize_hw,
)

__all__ = ["ProcessingElement", "PeImage", "pe_addr_bits", "GROUP_SLOTS",
           "COUNTER_BITS", "HOST_DATA_BITS"]

#: Width of the per-PE busy and stall counters and of the run cycle counter.
COUNTER_BITS = 48
#: Width of a host write's data (a matrix word is at most 64 bits).
HOST_DATA_BITS = 64


class PeImage:
    """Initial memory contents of one PE (a program baked into the bitstream).

    ``ptr`` holds the pointer memory's words (``ptr_depth`` pairs of absolute
    column pointers, see :class:`~hw.eie.blocks.PtrRead`), ``matrix`` the
    sparse-matrix words,
    ``codebook`` the ``max_layers * 16`` shared weights.
    """

    def __init__(self, *, ptr, matrix, codebook):
        self.ptr = [int(x) for x in ptr]
        self.matrix = [int(x) for x in matrix]
        self.codebook = [int(x) for x in codebook]


def pe_addr_bits(config):
    """Widest address the host writes into a PE of ``config``."""
    return max(_bits(config.ptr_depth), _bits(config.matrix_depth),
               _bits(config.act_depth), _bits(config.max_layers) + config.index_bits)


#: Entries of each PE's group buffer (and of the central unit's mask queue).
GROUP_SLOTS = 8


class ProcessingElement(wiring.Component):
    """One PE: group reads, pointer read, activation queue, matrix read, decode, MAC.

    Group reads (the LNZD's input; cycle ``r`` is the request from the CCU)::

        r     ``rd_en``, ``rd_bank``, ``rd_addr`` ... registered in the PE
        r+1   accumulator bank ``rd_bank`` read at ``rd_addr``
        r+3   the row's sum (0 if not written this layer), from the memory's
              output register; lane mask and bias decided
        r+4   + rounding constant, registered
        r+4   shift, saturate, ReLU; lane mask and bias constant -> group buffer
        r+5   ``g_val``, ``g_nz`` registered (the nonzero bit goes to the LNZD)

    Broadcast column (cycle ``b + 2`` is its arrival from the fan-out register)::

        b+2   pointer memory read: the column's word (its range [p_j, p_{j+1}))
        b+4   P : item (act, start, more, tail); queued, or dropped if the
              column is empty

    Entries (cycle ``s`` is the issue)::

        s     I : issue entry e (current column, else the queue head);
                  matrix word e // epw read
        s+2   D : the word's output register; select the entry -> register
        s+3   E : row = first ? z : row + z + 1; codebook lookup -> multiplier
                  input register
        s+4   R : accumulator read of the row
        s+5   M : product from the multiplier's output register
        s+6   A : sum = base + product, registered
        s+7   W : accumulator write

    Nothing in the PE waits: the central unit only broadcasts when the PE has a
    credit, i.e. a free queue slot for the column. ``release`` (registered)
    returns a credit for every column that leaves stage P empty or leaves the
    queue.

    Parameters
    ----------
    config : EieConfig
        The array's parameters.
    lane : int
        The PE's index: its column within a group of ``n_pe``.
    image : PeImage or None
        Initial memory contents (a baked-in program); ``None`` for all zeros.
    family : str or None
        FPGA family of the multiplier (:class:`hw.primitives.Multiplier`);
        ``None`` is the generic version. The cycle behaviour is the same for all.
    """

    def __init__(self, *, config, lane, image=None, family=None):
        cfg = self._config = check_config(config)
        if image is not None and not isinstance(image, PeImage):
            raise TypeError(f"image must be a PeImage or None, not {image!r}")
        if 2 * cfg.ptr_bits > HOST_DATA_BITS:
            raise ValueError(
                f"A pointer pair of 2 x {cfg.ptr_bits} bits does not fit a {HOST_DATA_BITS}-bit "
                f"host write: matrix_depth * entries_per_word = {cfg.max_entries} is too large")
        self._lane = lane
        self._image = image
        self._word_shift = (cfg.entries_per_word - 1).bit_length()
        depth = cfg.act_depth
        self._ptr_read = PtrRead(config=cfg, init=image.ptr if image is not None else None,
                                 family=family)
        self._queue = ActQueue(depth=cfg.queue_depth, shape=item_layout(cfg))
        self._decoder = WeightDecoder(config=cfg,
                                      init=image.codebook if image is not None else None)
        self._mult = Multiplier(signed(cfg.w_bits), signed(cfg.act_bits), family=family)
        self._acc = Accumulators(config=cfg, family=family)
        # Single port: the host writes the matrix only while the array is
        # IDLE (docs/eie.md), when no PE issues, so no read the PE uses meets
        # a write (on iCE40 the memory is an SPRAM).
        self._matrix = BlockRam(width=cfg.word_bits, depth=max(2, cfg.matrix_depth),
                                init=image.matrix if image is not None else (), family=family,
                                single_port=True)
        slots = GROUP_SLOTS
        super().__init__({
            # Layer constants.
            "src": In(1),
            "cb_slot": In(_bits(cfg.max_layers)),
            "relu": In(1),
            "bias": In(1),
            "last_lanes": In(range(cfg.n_pe + 1)),
            "start": In(1),
            # Group reads.
            "rd_en": In(1),
            "rd_bank": In(1),
            "rd_addr": In(_bits(depth)),
            "rd_last": In(1),
            "rd_slot": In(range(slots)),
            "g_val": Out(signed(cfg.act_bits)),
            "g_nz": Out(1),
            "gb_slot": In(range(slots)),
            "gb_data": Out(signed(cfg.act_bits)),
            # Broadcasts and credits.
            "bcast": In(stream.Signature(bcast_layout(cfg), always_ready=True)),
            "release": Out(range(3)),
            "busy": Out(1),
            # Host writes.
            "ptr_we": In(1),
            "mat_we": In(1),
            "act_we": In(1),
            "cb_we": In(1),
            "wr_addr": In(self.host_addr_bits),
            "wr_data": In(HOST_DATA_BITS),
            # Counters.
            "cnt_clr": In(1),
            "stall_inc": In(1),
            "busy_count": Out(COUNTER_BITS),
            "stall_count": Out(COUNTER_BITS),
        })

    @property
    def matrix_latency(self):
        """Cycles from a sparse-matrix word address to its data: the read and its register."""
        return self._matrix.latency

    @property
    def ptr_latency(self):
        """Cycles from a column's arrival to its pointer stage P."""
        return self._ptr_read.latency

    @property
    def group_latency(self):
        """Cycles from a group read request to ``g_nz``.

        The request register, the accumulator read, rounding, requantization.
        """
        return 1 + self._acc.read_latency + 2

    @property
    def drain_latency(self):
        """Cycles from the last issue to the PE's first idle cycle.

        The matrix word (D), the entry register (E), the row register (R:
        accumulator read, while the multiplier's registers carry the product),
        the accumulator's update (M, A, W), then idle.
        """
        return self.matrix_latency + 1 + 1 + self._acc.latency + 1

    @property
    def host_addr_bits(self):
        """Widest address the host writes into a PE."""
        return pe_addr_bits(self._config)

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        m.submodules.acc = acc = self._acc

        # --- Group reads: requantize the previous layer's sums on the fly.
        # The request is registered here, beside the PE's memories: the
        # central unit's read decision reaches every PE through one flip-flop
        # each instead of driving every accumulator bank's enable and address.
        # Every PE has the same request, so the registers carry the `keep`
        # attribute: the synthesis flow keeps them as the PE's own flip-flops
        # instead of merging them into one (see docs/synth.md).
        rq_en = Signal(name="rq_en", attrs=KEEP)
        rq_bank = Signal(name="rq_bank", attrs=KEEP)
        rq_addr = Signal(len(self.rd_addr), name="rq_addr", attrs=KEEP)
        rq_last = Signal(name="rq_last", attrs=KEEP)
        rq_slot = Signal(len(self.rd_slot), name="rq_slot", attrs=KEEP)
        m.d.sync += [rq_en.eq(self.rd_en), rq_bank.eq(self.rd_bank), rq_addr.eq(self.rd_addr),
                     rq_last.eq(self.rd_last), rq_slot.eq(self.rd_slot)]
        # The layer's constants, copied beside the logic that uses them: they
        # change only between layers (a START and at least one COMPUTE cycle
        # before the first group read's requantization or the first entry's
        # codebook lookup), so the copy's cycle of delay is never seen.
        # The source bank and the START pulse are copied too, so the
        # accumulators' bank selection is local to the PE: the destination
        # bank's valid flags are then cleared in the layer's first COMPUTE
        # cycle instead of in START, long before the layer's first update
        # (and the clear never touches the source bank that the first group
        # reads use).
        relu = Signal(name="relu_q", attrs=KEEP)
        bias = Signal(name="bias_q", attrs=KEEP)
        last_lanes = Signal(len(self.last_lanes), name="last_lanes_q", attrs=KEEP)
        cb_slot = Signal(len(self.cb_slot), name="cb_slot_q", attrs=KEEP)
        src = Signal(name="src_q", attrs=KEEP)
        start = Signal(name="start_q", attrs=KEEP)
        m.d.sync += [relu.eq(self.relu), bias.eq(self.bias), last_lanes.eq(self.last_lanes),
                     cb_slot.eq(self.cb_slot), src.eq(self.src), start.eq(self.start)]
        m.d.comb += [
            acc.dst.eq(~src),
            acc.clear.eq(start),
            acc.rd_en.eq(rq_en),
            acc.rd_bank.eq(rq_bank),
            acc.rd_addr.eq(rq_addr),
            acc.wr_en.eq(self.act_we),
            acc.wr_addr.eq(self.wr_addr),
            # An input x is stored as the sum that requantizes to x.
            acc.wr_data.eq(self.wr_data[:cfg.act_bits].as_signed() << cfg.w_frac_bits),
        ]
        delay = acc.read_latency + 1
        lasts = [Signal(name=f"rd_last_{k}") for k in range(delay)]
        slots = [Signal.like(self.rd_slot, name=f"rd_slot_{k}") for k in range(delay)]
        enables = [Signal(name=f"rd_en_{k}") for k in range(delay)]
        m.d.sync += [lasts[0].eq(rq_last), slots[0].eq(rq_slot), enables[0].eq(rq_en)]
        for k in range(1, delay):
            m.d.sync += [lasts[k].eq(lasts[k - 1]), slots[k].eq(slots[k - 1]),
                         enables[k].eq(enables[k - 1])]
        shift = cfg.w_frac_bits
        rounded = Signal(signed(cfg.acc_bits + 1))
        m.d.sync += rounded.eq(acc.rd_data + ((1 << (shift - 1)) if shift else 0))
        value, nonzero = requantize_hw(m, rounded, shift=shift, out_bits=cfg.act_bits, relu=relu)
        # Whether the lane holds a row of the layer, or the bias constant: decided
        # a cycle ahead from the request's last-group flag (the layer's
        # constants hold), so both are registers here.
        lane_ok = Signal(name="lane_ok")
        is_bias = Signal(name="is_bias")
        m.d.sync += [lane_ok.eq(~lasts[-2] | (self._lane < last_lanes)),
                     is_bias.eq(lasts[-2] & bias & (last_lanes == self._lane + 1))]
        group_val = Signal(signed(cfg.act_bits))
        with m.If(is_bias):
            m.d.comb += group_val.eq(1 << cfg.act_frac_bits)
        with m.Elif(lane_ok):
            m.d.comb += group_val.eq(value)
        m.d.sync += [self.g_val.eq(group_val), self.g_nz.eq(is_bias | (lane_ok & nonzero))]
        m.submodules.group_buffer = gbuf = memory.Memory(
            shape=signed(cfg.act_bits), depth=GROUP_SLOTS, init=[])
        gb_wp = gbuf.write_port()
        gb_rp = gbuf.read_port(domain="comb")
        m.d.comb += [
            gb_wp.addr.eq(slots[-1]), gb_wp.data.eq(group_val), gb_wp.en.eq(enables[-1]),
            gb_rp.addr.eq(self.gb_slot), self.gb_data.eq(gb_rp.data),
        ]

        # --- Pointer read (stage P) and activation queue.
        m.submodules.ptr_read = ptr_read = self._ptr_read
        m.submodules.act_queue = queue = self._queue
        wiring.connect(m, wiring.flipped(self.bcast), ptr_read.bcast)
        item = ptr_read.item
        nonempty = ~ptr_read.item_empty
        m.d.comb += [
            ptr_read.wr_en.eq(self.ptr_we),
            ptr_read.wr_addr.eq(self.wr_addr),
            ptr_read.wr_data.eq(self.wr_data),
            queue.w.valid.eq(ptr_read.item_valid & nonempty),
            queue.w.payload.eq(item),
        ]

        # --- Issue stage (I). The current column's next entry `cur_e` and how
        # many follow it, `cur_left`: whether the column goes on after an
        # issue is `cur_left != 0` (a register) or the head's `more` (stored
        # in the pointer memory), never an incremented address compared with
        # the column's end.
        cur_valid = Signal()
        cur_act = Signal(signed(cfg.act_bits))
        cur_e = Signal(cfg.ptr_bits)
        cur_left = Signal(cfg.ptr_bits)
        head = queue.r.payload
        issue = cur_valid | queue.r.valid
        pop = queue.r.valid & ~cur_valid
        e = Mux(cur_valid, cur_e, head.start)
        act = Mux(cur_valid, cur_act, head.act)
        m.d.comb += queue.r.ready.eq(~cur_valid)
        with m.If(issue):
            m.d.sync += [cur_e.eq(e + 1), cur_act.eq(act)]
            with m.If(cur_valid):
                m.d.sync += [cur_valid.eq(cur_left != 0), cur_left.eq(cur_left - 1)]
            with m.Else():
                m.d.sync += [cur_valid.eq(head.more), cur_left.eq(head.tail)]
        # A column may leave stage P empty in the cycle another leaves the queue.
        m.d.sync += self.release.eq((ptr_read.item_valid & ~nonempty) + pop)

        # The word leaves the memory's output register in D (s+2).
        m.submodules.matrix = matrix = self._matrix
        word = matrix.r_data
        m.d.comb += [
            matrix.w_addr.eq(self.wr_addr), matrix.w_data.eq(self.wr_data),
            matrix.w_en.eq(self.mat_we),
            matrix.r_addr.eq(e >> self._word_shift),
        ]

        sel_bits = max(1, self._word_shift)
        d1_valid, d2_valid = Signal(), Signal()
        d1_act, d2_act = Signal(signed(cfg.act_bits)), Signal(signed(cfg.act_bits))
        d1_sel, d2_sel = Signal(sel_bits), Signal(sel_bits)
        d1_first, d2_first = Signal(), Signal()
        m.d.sync += [
            d1_valid.eq(issue), d1_act.eq(act), d1_first.eq(~cur_valid),
            d1_sel.eq(e[:self._word_shift] if self._word_shift else 0),
            d2_valid.eq(d1_valid), d2_act.eq(d1_act), d2_first.eq(d1_first),
            d2_sel.eq(d1_sel),
        ]

        # --- Decode stage (D): the entry selected from the word, registered.
        entry = Signal(cfg.entry_bits)
        if cfg.entries_per_word == 1:
            m.d.comb += entry.eq(word)
        else:
            m.d.comb += entry.eq(word.word_select(d2_sel, cfg.entry_bits))
        e_valid, e_first = Signal(name="e_valid"), Signal(name="e_first")
        e_act = Signal(signed(cfg.act_bits))
        e_entry = Signal(cfg.entry_bits)
        m.d.sync += [e_valid.eq(d2_valid), e_first.eq(d2_first), e_act.eq(d2_act),
                     e_entry.eq(entry)]

        # --- Weight stage (E): the row, and the codebook lookup into the
        # multiplier's input register.
        v = e_entry[:cfg.index_bits]
        z = e_entry[cfg.index_bits:]
        row_bits = _bits(cfg.act_depth) + 1
        row_reg = Signal(row_bits)
        row = Signal(row_bits)
        m.d.comb += row.eq(Mux(e_first, z, row_reg + z + 1))
        with m.If(e_valid):
            m.d.sync += row_reg.eq(row)
        m.submodules.decoder = decoder = self._decoder
        m.submodules.mult = mult = self._mult
        # The product must reach the accumulators one cycle after the row (R).
        assert mult.latency == 2 + self._decoder.latency
        m.d.comb += [
            decoder.v.eq(v), decoder.slot.eq(cb_slot),
            decoder.wr_en.eq(self.cb_we), decoder.wr_addr.eq(self.wr_addr),
            decoder.wr_data.eq(self.wr_data),
            mult.a.eq(decoder.w), mult.b.eq(e_act),
        ]
        r_valid = Signal()
        r_row = Signal(row_bits)
        m.d.sync += [r_valid.eq(e_valid), r_row.eq(row)]

        # --- Accumulate (R, M, A).
        m.d.comb += [acc.valid.eq(r_valid), acc.row.eq(r_row), acc.prod.eq(mult.p)]
        busy = (ptr_read.busy | queue.r.valid | cur_valid | d1_valid | d2_valid | e_valid
                | acc.busy)
        m.d.sync += self.busy.eq(busy)

        # --- Counters. The increments are registered first, so no path runs
        # from the queue and the credit flags into the counters' carry
        # chains; the last one lands while the PE drains, before the run ends.
        busy_inc, stall_inc = Signal(), Signal()
        m.d.sync += [busy_inc.eq(issue), stall_inc.eq(self.stall_inc)]
        with m.If(self.cnt_clr):
            m.d.sync += [self.busy_count.eq(0), self.stall_count.eq(0)]
        with m.Else():
            m.d.sync += [
                self.busy_count.eq(self.busy_count + busy_inc),
                self.stall_count.eq(self.stall_count + stall_inc),
            ]
        return m
