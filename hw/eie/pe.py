"""One EIE processing element (PE)."""

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .blocks import (
    ActQueue,
    ArithUnit,
    PtrRead,
    WeightDecoder,
    _bits,
    bcast_layout,
    check_config,
    item_layout,
    ptr_bank_depth,
)

__all__ = ["ProcessingElement", "PeImage", "pe_addr_bits", "COUNTER_BITS", "HOST_DATA_BITS"]

#: Width of the per-PE busy and stall counters and of the run cycle counter.
COUNTER_BITS = 48
#: Width of a host write's data (a matrix word is at most 64 bits).
HOST_DATA_BITS = 64


class PeImage:
    """Initial memory contents of one PE (a program baked into the bitstream).

    ``ptr`` holds the combined pointer address space (``ptr_depth`` values),
    ``matrix`` the sparse-matrix words, ``mat_base`` the first matrix word of
    every layer, ``codebook`` the ``max_layers * 16`` shared weights.
    """

    def __init__(self, *, ptr, matrix, mat_base, codebook):
        self.ptr = [int(x) for x in ptr]
        self.matrix = [int(x) for x in matrix]
        self.mat_base = [int(x) for x in mat_base]
        self.codebook = [int(x) for x in codebook]


def requantize_hw(m, acc, *, shift, out_bits, relu):
    """Round-half-up shift, saturate, optional ReLU: ``sw_model.fixed.requantize`` in gates."""
    width = len(acc) + 1
    rounded = Signal(signed(width))
    if shift:
        m.d.comb += rounded.eq(acc + (1 << (shift - 1)))
    else:
        m.d.comb += rounded.eq(acc)
    shifted = Signal(signed(width))
    m.d.comb += shifted.eq(rounded >> shift)
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    out = Signal(signed(out_bits))
    with m.If(relu & (shifted < 0)):
        m.d.comb += out.eq(0)
    with m.Elif(shifted > hi):
        m.d.comb += out.eq(hi)
    with m.Elif(shifted < lo):
        m.d.comb += out.eq(lo)
    with m.Else():
        m.d.comb += out.eq(shifted)
    return out


def pe_addr_bits(config):
    """Widest address the host writes into a PE of ``config``."""
    return max(_bits(ptr_bank_depth(config)) + 1, _bits(config.matrix_depth),
               _bits(config.act_depth), _bits(config.max_layers) + config.index_bits)


class ProcessingElement(wiring.Component):
    """One PE: pointer read, activation queue, sparse-matrix read, decode, MAC.

    ::

        cycle  b     broadcast (act, column) arrives; both pointer banks read
               b+1   P : item (act, start, end); pushed into the queue if start != end
               s     I : issue entry e (from the current column, else the queue head);
                         matrix word read at mat_base + e // epw
               s+1   D : select the entry in the word; row = first ? z : row + z + 1;
                         codebook read of v
               s+2   M : prod = w * act; accumulator read of row
               s+3   A : accumulator write (with bypass)

    Stage P holds an item until the queue takes it; the PE is :attr:`ready`
    for the next broadcast unless stage P holds a column with entries that the
    full queue cannot take this cycle. Columns with no entries for this PE
    never reach the queue (and never block), and the issue stage moves from
    one column's last entry to the next column's first without a bubble.

    The source/destination activation memories (two banks that swap roles
    between layers), the accumulator readout with requantization, the host
    write/read ports and the busy/stall counters live here too.

    Parameters
    ----------
    config : EieConfig
        The array's parameters.
    image : PeImage or None
        Initial memory contents (a baked-in program); ``None`` for all zeros.
    """

    def __init__(self, *, config, image=None):
        cfg = self._config = check_config(config)
        if image is not None and not isinstance(image, PeImage):
            raise TypeError(f"image must be a PeImage or None, not {image!r}")
        self._image = image
        self._word_shift = (cfg.entries_per_word - 1).bit_length()
        depth = cfg.act_depth
        ptr_init = None if image is None else (image.ptr[0::2], image.ptr[1::2])
        self._ptr_read = PtrRead(config=cfg, init=ptr_init)
        self._queue = ActQueue(depth=cfg.queue_depth, shape=item_layout(cfg))
        self._decoder = WeightDecoder(config=cfg,
                                      init=image.codebook if image is not None else None)
        self._arith = ArithUnit(config=cfg)
        super().__init__({
            "layer": In(_bits(cfg.max_layers)),
            "cb_slot": In(_bits(cfg.max_layers)),
            "start": In(1),
            "bcast": In(stream.Signature(bcast_layout(cfg), always_ready=True)),
            "ready": Out(1),
            "busy": Out(1),
            "issue": Out(1),
            # Activation memories: group reads for the LNZD and host reads.
            "src_bank": In(1),
            "grp_en": In(1),
            "grp_addr": In(_bits(depth)),
            "hr_en": In(1),
            "hr_bank": In(1),
            "hr_addr": In(_bits(depth)),
            "act_data": Out(signed(cfg.act_bits)),
            # Accumulator readout into the destination bank, and clear.
            "rq_en": In(1),
            "rq_row": In(_bits(depth)),
            "relu": In(1),
            "clr_en": In(1),
            "clr_row": In(_bits(depth)),
            # Host writes.
            "ptr_we": In(1),
            "mat_we": In(1),
            "base_we": In(1),
            "act_we": In(1),
            "cb_we": In(1),
            "wr_addr": In(self.host_addr_bits),
            "wr_data": In(HOST_DATA_BITS),
            # Counters.
            "cnt_clr": In(1),
            "cand": In(1),
            "busy_count": Out(COUNTER_BITS),
            "stall_count": Out(COUNTER_BITS),
        })

    @property
    def matrix_latency(self):
        """Cycles from a sparse-matrix word address to its data (a synchronous read port)."""
        return 1

    @property
    def ptr_latency(self):
        """Cycles from a broadcast to the earliest issue of its column's first entry.

        The pointer read, then the queue (an item pushed in cycle ``t`` is the
        head in cycle ``t + 1``).
        """
        return self._ptr_read.latency + self._queue.latency

    @property
    def ptr_drain(self):
        """Cycles from the last broadcast until the pointer stage is empty.

        The pointer read, then the one cycle an item spends in stage P.
        """
        return self._ptr_read.latency + 1

    @property
    def drain_latency(self):
        """Cycles from the last issue until the PE is idle.

        Stage D waits for the matrix word, M for the codebook, A for the
        multiply; the accumulator write in A is the last busy cycle.
        """
        return self.matrix_latency + self._decoder.latency + self._arith.latency + 1

    @property
    def readout_latency(self):
        """Cycles from a requantization read of a row to the write of its output."""
        return self._arith.readout_latency

    @property
    def host_addr_bits(self):
        """Widest address the host writes into a PE."""
        return pe_addr_bits(self._config)

    def elaborate(self, platform):
        cfg = self._config
        img = self._image
        m = Module()

        # --- Pointer read (stage P) and activation queue.
        m.submodules.ptr_read = ptr_read = self._ptr_read
        m.submodules.act_queue = queue = self._queue
        wiring.connect(m, wiring.flipped(self.bcast), ptr_read.bcast)
        item = ptr_read.item
        nonempty = item.payload.start != item.payload.end
        m.d.comb += [
            ptr_read.wr_en.eq(self.ptr_we),
            ptr_read.wr_addr.eq(self.wr_addr),
            ptr_read.wr_data.eq(self.wr_data),
            queue.w.valid.eq(item.valid & nonempty),
            queue.w.payload.eq(item.payload),
            # Empty columns leave stage P at once; others when the queue has room.
            item.ready.eq(~nonempty | queue.w.ready),
            # Stage P is free for the next broadcast unless it holds an item
            # the full queue cannot take: a PE only blocks the broadcast for
            # columns it has work in.
            self.ready.eq(~item.valid | item.ready),
        ]

        # --- Issue stage (I).
        cur_valid = Signal()
        cur_act = Signal(signed(cfg.act_bits))
        cur_e = Signal(cfg.ptr_bits)
        cur_end = Signal(cfg.ptr_bits)
        head = queue.r.payload
        issue = cur_valid | queue.r.valid
        e = Mux(cur_valid, cur_e, head.start)
        act = Mux(cur_valid, cur_act, head.act)
        end = Mux(cur_valid, cur_end, head.end)
        next_e = Signal(cfg.ptr_bits)
        m.d.comb += [
            queue.r.ready.eq(~cur_valid),
            next_e.eq(e + 1),
            self.issue.eq(issue),
        ]
        with m.If(issue):
            m.d.sync += [
                cur_valid.eq(next_e != end),
                cur_e.eq(next_e),
                cur_act.eq(act),
                cur_end.eq(end),
            ]

        mat_base = Array(
            Signal(range(cfg.matrix_depth + 1), name=f"mat_base_{k}",
                   init=img.mat_base[k] if img is not None else 0)
            for k in range(cfg.max_layers))
        with m.If(self.base_we):
            m.d.sync += mat_base[self.wr_addr[:_bits(cfg.max_layers)]].eq(self.wr_data)

        m.submodules.matrix = matrix = memory.Memory(
            shape=unsigned(cfg.word_bits), depth=max(2, cfg.matrix_depth),
            init=img.matrix if img is not None else [])
        mat_wp = matrix.write_port()
        mat_rp = matrix.read_port()
        word_addr = Signal(_bits(cfg.matrix_depth))
        m.d.comb += [
            mat_wp.addr.eq(self.wr_addr), mat_wp.data.eq(self.wr_data),
            mat_wp.en.eq(self.mat_we),
            word_addr.eq(mat_base[self.layer] + (e >> self._word_shift)),
            mat_rp.addr.eq(word_addr),
        ]
        # One word serves up to entries_per_word entries: the memory is only
        # read when the word address changes (the port holds its data).
        last_word = Signal.like(word_addr)
        last_word_valid = Signal()
        m.d.comb += mat_rp.en.eq(issue & (~last_word_valid | (word_addr != last_word)))
        with m.If(self.start | self.mat_we):
            m.d.sync += last_word_valid.eq(0)
        with m.Elif(issue):
            m.d.sync += [last_word.eq(word_addr), last_word_valid.eq(1)]

        d_valid = Signal()
        d_act = Signal(signed(cfg.act_bits))
        d_sel = Signal(max(1, self._word_shift))
        d_first = Signal()
        m.d.sync += [
            d_valid.eq(issue), d_act.eq(act),
            d_sel.eq(e[:self._word_shift] if self._word_shift else 0),
            d_first.eq(~cur_valid),
        ]

        # --- Decode stage (D).
        entry = Signal(cfg.entry_bits)
        if cfg.entries_per_word == 1:
            m.d.comb += entry.eq(mat_rp.data)
        else:
            m.d.comb += entry.eq(mat_rp.data.word_select(d_sel, cfg.entry_bits))
        v = entry[:cfg.index_bits]
        z = entry[cfg.index_bits:]
        row_bits = _bits(cfg.act_depth) + 1
        row_reg = Signal(row_bits)
        row = Signal(row_bits)
        m.d.comb += row.eq(Mux(d_first, z, row_reg + z + 1))
        with m.If(d_valid):
            m.d.sync += row_reg.eq(row)
        m.submodules.decoder = decoder = self._decoder
        m.d.comb += [
            decoder.en.eq(d_valid), decoder.v.eq(v), decoder.slot.eq(self.cb_slot),
            decoder.wr_en.eq(self.cb_we), decoder.wr_addr.eq(self.wr_addr),
            decoder.wr_data.eq(self.wr_data),
        ]
        m_valid = Signal()
        m_act = Signal(signed(cfg.act_bits))
        m_row = Signal(row_bits)
        m.d.sync += [m_valid.eq(d_valid), m_act.eq(d_act), m_row.eq(row)]

        # --- Multiply and accumulate stages (M, A).
        m.submodules.arith = arith = self._arith
        m.d.comb += [
            arith.valid.eq(m_valid), arith.row.eq(m_row), arith.act.eq(m_act),
            arith.w.eq(decoder.w),
            arith.rq_en.eq(self.rq_en), arith.rq_row.eq(self.rq_row),
            arith.clr_en.eq(self.clr_en), arith.clr_row.eq(self.clr_row),
        ]
        m.d.comb += self.busy.eq(item.valid | queue.r.valid | cur_valid | d_valid | m_valid
                                 | arith.busy)

        # --- Activation memories: bank src_bank is read, the other written.
        rq_row = Signal.like(self.rq_row)
        m.d.sync += rq_row.eq(self.rq_row)
        out = requantize_hw(m, arith.rq_data, shift=cfg.w_frac_bits, out_bits=cfg.act_bits,
                            relu=self.relu)
        rd_bank = Signal()
        datas = []
        for k in range(2):
            m.submodules[f"act_{k}"] = bank = memory.Memory(
                shape=signed(cfg.act_bits), depth=max(2, cfg.act_depth), init=[])
            rp = bank.read_port()
            wp = bank.write_port()
            grp = self.grp_en & (self.src_bank == k)
            host = self.hr_en & (self.hr_bank == k)
            m.d.comb += [
                rp.addr.eq(Mux(grp, self.grp_addr, self.hr_addr)),
                rp.en.eq(grp | host),
            ]
            rq_write = arith.rq_valid & (self.src_bank != k)
            # The host loads inputs into bank 0, the first layer's source.
            host_write = self.act_we & (k == 0)
            m.d.comb += [
                wp.addr.eq(Mux(rq_write, rq_row, self.wr_addr)),
                wp.data.eq(Mux(rq_write, out, self.wr_data)),
                wp.en.eq(rq_write | host_write),
            ]
            with m.If(grp | host):
                m.d.sync += rd_bank.eq(k)
            datas.append(rp.data)
        m.d.comb += self.act_data.eq(Mux(rd_bank, datas[1], datas[0]))

        # --- Counters.
        with m.If(self.cnt_clr):
            m.d.sync += [self.busy_count.eq(0), self.stall_count.eq(0)]
        with m.Else():
            m.d.sync += [
                self.busy_count.eq(self.busy_count + issue),
                self.stall_count.eq(self.stall_count + (self.cand & ~self.ready)),
            ]
        return m
