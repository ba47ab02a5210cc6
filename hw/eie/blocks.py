"""The small blocks of an EIE processing element.

Each block is one ``wiring.Component`` with its latency as a property: the
activation queue, the column-pointer read, the weight decoder, the registered
multiplier and the accumulators (two banks, each row valid once written).
``hw/eie/pe.py`` wires them into a PE; ``docs/eie.md`` shows the pipeline.
"""

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_model.config import EieConfig

from ..primitives import BlockRam

__all__ = [
    "check_config",
    "bcast_layout",
    "item_layout",
    "requantize_hw",
    "ActQueue",
    "PtrRead",
    "WeightDecoder",
    "Accumulators",
]


def check_config(config):
    """Return ``config`` if it is an :class:`EieConfig`, else raise :class:`TypeError`."""
    if not isinstance(config, EieConfig):
        raise TypeError(f"config must be an EieConfig, not {config!r}")
    return config


def _bits(n):
    """Address bits for ``n`` locations (at least 1)."""
    return max(1, (n - 1).bit_length())


def bcast_layout(config):
    """Payload of the activation broadcast: the value and its column's pointer address.

    ``addr`` is where the pair ``(p_j, p_{j+1})`` of the broadcast column ``j``
    sits in the PEs' pointer memory: the layer's pointer base plus ``j``.
    """
    return data.StructLayout({
        "act": signed(config.act_bits),
        "addr": unsigned(_bits(config.ptr_depth)),
    })


def requantize_hw(m, acc, *, shift, out_bits, relu):
    """Round-half-up shift, saturate, optional ReLU: ``sw_model.fixed.requantize`` in gates.

    ``acc`` is the rounded value ``acc + 2**(shift - 1)`` already (the caller
    registers that add); the shift, the saturation and the ReLU are one level
    of logic after it.
    """
    shifted = Signal(signed(len(acc) - shift if shift else len(acc)))
    m.d.comb += shifted.eq(acc >> shift)
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    out = Signal(signed(out_bits))
    # The value fits out_bits when its bits from the output's sign bit up are
    # all equal: tests of those bits (a wide AND or OR) instead of two
    # magnitude comparisons, which would be carry chains.
    sign = shifted[-1]
    top = shifted[out_bits - 1:]
    with m.If(relu & sign):
        m.d.comb += out.eq(0)
    with m.Elif(~sign & top.any()):
        m.d.comb += out.eq(hi)
    with m.Elif(sign & ~top.all()):
        m.d.comb += out.eq(lo)
    with m.Else():
        m.d.comb += out.eq(shifted[:out_bits])
    return out


def item_layout(config):
    """Payload of an activation-queue item: the value and its column's entry range."""
    return data.StructLayout({
        "act": signed(config.act_bits),
        "start": unsigned(config.ptr_bits),
        "end": unsigned(config.ptr_bits),
    })


class ActQueue(wiring.Component):
    """First-in first-out activation queue of one PE.

    Small (``depth`` items), so it reads asynchronously (LUT RAM): the head is
    visible in the cycle it is popped. A push and a pop may happen in the same
    cycle, also when the queue is full; ``w.ready`` says whether a push is
    taken this cycle.

    Parameters
    ----------
    depth : int
        Items the queue holds.
    shape : shape-like
        Payload of one item.
    """

    def __init__(self, *, depth, shape):
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"Queue depth must be a positive integer, not {depth!r}")
        self._depth = depth
        self._shape = shape
        super().__init__({
            "w": In(stream.Signature(shape)),
            "r": Out(stream.Signature(shape)),
            "level": Out(range(depth + 1)),
        })

    @property
    def depth(self):
        """Items the queue holds."""
        return self._depth

    @property
    def latency(self):
        """Cycles from a push until the item can be popped (``level`` is a register)."""
        return 1

    def elaborate(self, platform):
        # A circular buffer; ``level`` is kept as a register so the array's
        # stall logic reads it without an adder.
        m = Module()
        width = Shape.cast(self._shape).width
        push = self.w.valid & self.w.ready
        pop = self.r.valid & self.r.ready
        m.d.comb += [
            # A full queue still takes a push in the cycle it pops.
            self.w.ready.eq((self.level < self._depth) | pop),
            self.r.valid.eq(self.level != 0),
        ]
        if self._depth == 1:
            # One slot: a register (a one-word memory would need a 0-bit address).
            slot = Signal(width)
            with m.If(push):
                m.d.sync += slot.eq(self.w.payload)
            m.d.comb += self.r.payload.eq(slot)
        else:
            m.submodules.mem = mem = memory.Memory(shape=unsigned(width), depth=self._depth,
                                                   init=[])
            wp = mem.write_port()
            rp = mem.read_port(domain="comb")
            rd = Signal(range(self._depth))
            wr = Signal(range(self._depth))
            m.d.comb += [
                rp.addr.eq(rd),
                self.r.payload.eq(rp.data),
                wp.addr.eq(wr),
                wp.data.eq(self.w.payload),
                wp.en.eq(push),
            ]
            with m.If(push):
                m.d.sync += wr.eq(Mux(wr == self._depth - 1, 0, wr + 1))
            with m.If(pop):
                m.d.sync += rd.eq(Mux(rd == self._depth - 1, 0, rd + 1))
        m.d.sync += self.level.eq(self.level + push - pop)
        return m


class PtrRead(wiring.Component):
    """Column-pointer read: the pair ``(p_j, p_{j+1})`` from one memory word.

    Word ``k`` of the pointer memory holds pointer ``k`` in its low half and
    pointer ``k + 1`` in its high half, so one read port gives a column's whole
    entry range (and the memory is a simple dual-port block: one host write
    port, one read port). Cycle ``t``: a broadcast arrives and the word is read.
    Cycle ``t + latency``: ``item`` carries the activation and ``[start, end)``
    from the port's output register; ``item_valid`` follows every broadcast,
    empty columns included (the PE drops those), and ``item_empty`` says
    whether the column is empty (``start == end``). The memory stores that
    bit beside the pair, computed when the pair is written, so no comparator
    follows the read. The pipeline never waits: the central unit's credits
    guarantee the queue has room.
    """

    def __init__(self, *, config, init=None, family=None):
        self._config = check_config(config)
        bits = config.ptr_bits
        init = [] if init is None else [int(x) for x in init]
        # Words no init supplies are the pair (0, 0): empty, like any other.
        init += [0] * (config.ptr_depth - len(init))
        words = [w | (int(w & ((1 << bits) - 1) == w >> bits) << 2 * bits) for w in init]
        self._mem = BlockRam(width=2 * bits + 1, depth=config.ptr_depth, init=words,
                             family=family)
        super().__init__({
            "bcast": In(stream.Signature(bcast_layout(config), always_ready=True)),
            "item": Out(item_layout(config)),
            "item_valid": Out(1),
            "item_empty": Out(1),
            "busy": Out(1),
            "wr_en": In(1),
            "wr_addr": In(_bits(config.ptr_depth)),
            "wr_data": In(2 * config.ptr_bits),
        })

    @property
    def latency(self):
        """Cycles from a broadcast to its item: the read, then the output register."""
        return self._mem.latency

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        m.submodules.mem = mem = self._mem
        bits = cfg.ptr_bits
        start, end = self.wr_data[:bits], self.wr_data[bits:2 * bits]
        m.d.comb += [
            mem.w_addr.eq(self.wr_addr), mem.w_en.eq(self.wr_en),
            mem.w_data.eq(Cat(start, end, start == end)),
            mem.r_addr.eq(self.bcast.payload.addr),
            self.item.start.eq(mem.r_data[:bits]),
            self.item.end.eq(mem.r_data[bits:2 * bits]),
            self.item_empty.eq(mem.r_data[2 * bits]),
        ]
        assert mem.latency == 2
        act = Signal(signed(cfg.act_bits))
        read_valid = Signal()
        m.d.sync += [
            read_valid.eq(self.bcast.valid), act.eq(self.bcast.payload.act),
            self.item_valid.eq(read_valid),
            self.item.act.eq(act),
        ]
        m.d.comb += self.busy.eq(self.bcast.valid | read_valid | self.item_valid)
        return m


class WeightDecoder(wiring.Component):
    """Codebook lookup: 4-bit index ``v`` to a signed 16-bit shared weight.

    One codebook of 16 entries per layer slot in a small memory read
    asynchronously (LUT RAM on ECP5): ``w`` follows ``v`` in the same cycle and
    goes straight into the multiplier's input register. The host must keep
    entry 0 of every slot at 0 (padding entries use it).
    """

    def __init__(self, *, config, init=None):
        self._config = check_config(config)
        self._slots = config.max_layers
        self._init = [] if init is None else [int(x) for x in init]
        super().__init__({
            "v": In(config.index_bits),
            "slot": In(_bits(config.max_layers)),
            "w": Out(signed(config.w_bits)),
            "wr_en": In(1),
            "wr_addr": In(self.addr_bits),
            "wr_data": In(signed(config.w_bits)),
        })

    @property
    def addr_bits(self):
        """Bits of a codebook address ``slot * 16 + v``."""
        return _bits(self._slots) + self._config.index_bits

    @property
    def latency(self):
        """Cycles from an index to its weight (an asynchronous read)."""
        return 0

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        m.submodules.codebook = mem = memory.Memory(
            shape=signed(cfg.w_bits), depth=1 << self.addr_bits, init=self._init)
        wp = mem.write_port()
        rp = mem.read_port(domain="comb")
        m.d.comb += [
            wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data), wp.en.eq(self.wr_en),
            rp.addr.eq(Cat(self.v, self.slot)),
            self.w.eq(rp.data),
        ]
        return m


class Accumulators(wiring.Component):
    """The PE's accumulators: two banks of ``act_depth`` rows, each row valid once written.

    In a layer one bank accumulates (``dst``) while the other holds the
    previous layer's sums, which the group reads requantize (``src``). A row
    that was not written since its bank's last ``clear`` reads as 0, so a
    layer starts from zero without a clearing pass: ``clear`` (one cycle)
    invalidates every row of bank ``dst``.

    Updates::

        cycle t   (R): row, valid; the bank is read
        cycle t+1 (M): prod (the product of the update, from the multiplier);
                       the bypass decision for the earlier updates' sums
        cycle t+2 (A): sum = base + prod, registered
        cycle t+3 (W): the row is written and marked valid

    ``base`` is the row's previous sum: the latest of the three preceding
    updates' sums when one was to the same row (the read in ``t`` missed their
    writes in ``t``, ``t + 1`` and ``t + 2``), else the memory's value if the
    row is valid, else 0. The accumulator wraps at ``acc_bits``. The sum is
    registered before its write so that neither the adder nor the bypass
    selection lies on the path into the block RAM's write port.

    Group reads: ``rd_en``/``rd_addr`` of bank ``rd_bank`` in cycle ``t`` give
    the row's sum (0 if not valid) on ``rd_data`` in cycle ``t + read_latency``.
    Host writes (``wr_en``) go to bank 0 and mark the row valid.
    """

    def __init__(self, *, config, family=None):
        self._config = check_config(config)
        self._banks = [BlockRam(width=config.acc_bits, depth=max(2, config.act_depth),
                                family=family) for _ in range(2)]
        rows = _bits(config.act_depth)
        super().__init__({
            "dst": In(1),
            "clear": In(1),
            "valid": In(1),
            "row": In(rows),
            "prod": In(signed(config.act_bits + config.w_bits)),
            "busy": Out(1),
            "rd_en": In(1),
            "rd_bank": In(1),
            "rd_addr": In(rows),
            "rd_data": Out(signed(config.acc_bits)),
            "wr_en": In(1),
            "wr_addr": In(rows),
            "wr_data": In(signed(config.acc_bits)),
        })

    @property
    def latency(self):
        """Cycles from an update's row to the write of its sum."""
        return 3

    @property
    def read_latency(self):
        """Cycles from a group read to its data: the read, then the output register."""
        return self._banks[0].latency

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        depth = cfg.act_depth
        rows = _bits(depth)

        # Update pipeline registers.
        m_valid, a_valid = Signal(), Signal()
        m_row, a_row = Signal(rows), Signal(rows)
        a_prod = Signal.like(self.prod)
        m.d.sync += [
            m_valid.eq(self.valid), m_row.eq(self.row),
            a_valid.eq(m_valid), a_row.eq(m_row), a_prod.eq(self.prod),
        ]
        # The sums of the three previous updates, for the writes the read
        # missed: while an update is in M, the one before it is in A (its sum
        # not yet known), the one before that in W (`last`), and the third
        # one just written (`last2`). The older two are chosen in M already
        # (`older_sum`), so A selects from three values as before the W stage.
        last_valid, last2_valid = Signal(), Signal()
        last_row, last2_row = Signal(rows), Signal(rows)
        last_sum, last2_sum = Signal(signed(cfg.acc_bits)), Signal(signed(cfg.acc_bits))
        bypass1, bypass_older = Signal(name="bypass1"), Signal(name="bypass_older")
        older_sum = Signal(signed(cfg.acc_bits))
        hit_last = last_valid & (last_row == m_row)
        hit_last2 = last2_valid & (last2_row == m_row)
        m.d.sync += [
            bypass1.eq(a_valid & (a_row == m_row)),
            bypass_older.eq(hit_last | hit_last2),
            older_sum.eq(Mux(hit_last, last_sum, last2_sum)),
        ]

        rd_addr_q = Signal(rows)
        rd_bank_q = Signal()
        rd_flag = Signal()
        # Each bank's read data leaves its block RAM's output register
        # (hw.primitives.BlockRam; a block RAM's clock-to-out is most of a
        # cycle, so no logic may follow the read before a register). A bank is
        # read either by updates (while it is `dst`) or by group reads (while
        # it is the source), never both in one layer, so one register per bank
        # serves both.
        bank_qs = []
        flags = []
        for k, bank in enumerate(self._banks):
            m.submodules[f"bank_{k}"] = bank
            flag = Signal(max(2, depth), name=f"valid_{k}")
            flags.append(flag)
            is_dst = self.dst == k
            # Group reads only go to the bank that does not accumulate.
            group = self.rd_en & (self.rd_bank == k)
            m.d.comb += [
                bank.r_addr.eq(Mux(group, self.rd_addr, self.row)),
                bank.r_en.eq(group | (self.valid & is_dst)),
            ]
            update = last_valid & is_dst
            host = self.wr_en & (k == 0)
            m.d.comb += [
                bank.w_addr.eq(Mux(update, last_row, self.wr_addr)),
                bank.w_data.eq(Mux(update, last_sum, self.wr_data)),
                bank.w_en.eq(update | host),
            ]
            bank_qs.append(bank.r_data.as_signed())
            with m.If(self.clear & is_dst):
                m.d.sync += flag.eq(0)
            with m.Elif(update):
                m.d.sync += flag.bit_select(last_row, 1).eq(1)
            with m.Elif(host):
                m.d.sync += flag.bit_select(self.wr_addr, 1).eq(1)

        # A row's valid flag, read in M (a flag set by an update still in
        # flight is covered by the bypass, which takes precedence), registered
        # as "use bank k's data".
        dst_flags = Mux(self.dst, flags[1], flags[0])
        use_q = [Signal(name=f"use_q_{k}") for k in range(2)]
        m.d.sync += [use.eq(dst_flags.bit_select(m_row, 1) & (self.dst == k))
                     for k, use in enumerate(use_q)]
        base = Signal(signed(cfg.acc_bits))
        with m.If(bypass1):
            m.d.comb += base.eq(last_sum)
        with m.Elif(bypass_older):
            m.d.comb += base.eq(older_sum)
        with m.Else():
            m.d.comb += base.eq((bank_qs[0] & use_q[0].replicate(cfg.acc_bits))
                                | (bank_qs[1] & use_q[1].replicate(cfg.acc_bits)))
        m.d.sync += [
            last_valid.eq(a_valid), last_row.eq(a_row), last_sum.eq(base + a_prod),
            last2_valid.eq(last_valid), last2_row.eq(last_row), last2_sum.eq(last_sum),
        ]

        # Group reads: the flag is read while the memory is (t+1) and
        # registered with the bank's data (t+2); rd_data selects from the
        # registers.
        rd_use = [Signal(name=f"rd_use_{k}") for k in range(2)]
        m.d.sync += [rd_addr_q.eq(self.rd_addr), rd_bank_q.eq(self.rd_bank)]
        src_flags = Mux(rd_bank_q, flags[1], flags[0])
        m.d.comb += rd_flag.eq(src_flags.bit_select(rd_addr_q, 1))
        m.d.sync += [use.eq(rd_flag & (rd_bank_q == k)) for k, use in enumerate(rd_use)]
        m.d.comb += self.rd_data.eq((bank_qs[0] & rd_use[0].replicate(cfg.acc_bits))
                                    | (bank_qs[1] & rd_use[1].replicate(cfg.acc_bits)))
        m.d.comb += self.busy.eq(self.valid | m_valid | a_valid | last_valid)
        return m
