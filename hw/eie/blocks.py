"""The small blocks of an EIE processing element.

Each block is one ``wiring.Component`` with its latency as a property: the
activation queue, the column-pointer read, the weight decoder, the registered
multiplier and the accumulators (two banks, each row valid once written).
``hw/eie/pe.py`` wires them into a PE; ``docs/eie.md`` shows the pipeline.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, signed, unsigned
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
    of logic after it. Returns the value and whether it is nonzero; the
    latter is found beside the value (saturated, or nonzero low bits, and not
    cut by the ReLU) rather than by testing the value's bits after it.
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
    nonzero = Signal()
    saturated = Mux(sign, ~top.all(), top.any())
    m.d.comb += nonzero.eq(~(relu & sign) & (saturated | shifted[:out_bits].any()))
    return out, nonzero


def item_layout(config):
    """Payload of an activation-queue item: the value and its column's entry range.

    The range ``[start, end)`` of a nonempty column is carried as ``start``,
    ``more`` (``end - start > 1``: entries follow the first) and ``tail``
    (``end - start - 2``, the entries after the second; meaningful only with
    ``more``), so the issue stage counts a column down from registers instead
    of comparing an incremented address with ``end``.
    """
    return data.StructLayout({
        "act": signed(config.act_bits),
        "start": unsigned(config.ptr_bits),
        "more": 1,
        "tail": unsigned(config.ptr_bits),
    })


def ptr_word(config, start, end):
    """The pointer memory's word for the column ``[start, end)`` (:class:`PtrRead`).

    ``start``, ``tail`` (``end - start - 2`` modulo ``2**ptr_bits``), ``empty``
    (``start == end``) and ``more`` (``end - start > 1``), LSB first. Works on
    ints and on Amaranth values alike.
    """
    bits = config.ptr_bits
    tail = (end - start - 2) % (1 << bits) if isinstance(end, int) else (end - start - 2)[:bits]
    if isinstance(end, int):
        return (start | tail << bits | int(start == end) << 2 * bits
                | int(end - start > 1) << (2 * bits + 1))
    return Cat(start, tail, start == end, end > start + 1)


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

    Word ``k`` of the pointer memory holds column ``k``'s entry range
    ``[p_k, p_{k+1})``, so one read port gives a column's whole range (and the
    memory is a simple dual-port block: one host write port, one read port).
    The host writes the pair ``(p_k, p_{k+1})``; the memory stores what the
    PE needs of it (:func:`ptr_word`): ``start``, ``tail``, ``more`` and
    ``empty`` (``start == end``), all computed when the pair is written, so
    no arithmetic follows the read. Cycle ``t``: a broadcast arrives and the
    word is read. Cycle ``t + latency``: ``item`` carries the activation and
    the range (:func:`item_layout`) from the port's output register;
    ``item_valid`` follows every broadcast, empty columns included (the PE
    drops those), and ``item_empty`` says whether the column is empty. The
    pipeline never waits: the central unit's credits guarantee the queue
    has room. A host write (``wr_en``, ``wr_addr``, the pair in ``wr_data``)
    lands in the memory a cycle after it is given (its word is computed and
    registered first).
    """

    def __init__(self, *, config, init=None, family=None):
        self._config = check_config(config)
        bits = config.ptr_bits
        init = [] if init is None else [int(x) for x in init]
        # Words no init supplies are the pair (0, 0): empty, like any other.
        init += [0] * (config.ptr_depth - len(init))
        mask = (1 << bits) - 1
        words = [ptr_word(config, w & mask, w >> bits) for w in init]
        self._mem = BlockRam(width=2 * bits + 2, depth=config.ptr_depth, init=words,
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
        # A host write's word is computed and registered with its address and
        # enable, so no arithmetic lies on the path into the memory's write
        # port: the write lands a cycle later (before any run can read it).
        start, end = self.wr_data[:bits], self.wr_data[bits:2 * bits]
        w_en = Signal(name="w_en_q")
        w_addr = Signal.like(self.wr_addr, name="w_addr_q")
        w_word = Signal(len(mem.w_data), name="w_word_q")
        m.d.sync += [w_en.eq(self.wr_en), w_addr.eq(self.wr_addr),
                     w_word.eq(ptr_word(cfg, start, end))]
        m.d.comb += [
            mem.w_addr.eq(w_addr), mem.w_en.eq(w_en), mem.w_data.eq(w_word),
            mem.r_addr.eq(self.bcast.payload.addr),
            self.item.start.eq(mem.r_data[:bits]),
            self.item.tail.eq(mem.r_data[bits:2 * bits]),
            self.item_empty.eq(mem.r_data[2 * bits]),
            self.item.more.eq(mem.r_data[2 * bits + 1]),
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


#: Low address bits of the first stage of a valid-flag lookup (:func:`_lookup`).
_LOOKUP_BITS = 3


def _lookup(m, flags, addr, addr_q, name):
    """Flag ``addr`` of ``flags``, looked up in two stages; the second's value.

    Stage 1 (the cycle of ``addr``) picks, in every block of
    ``2**_LOOKUP_BITS`` flags, the one at ``addr``'s low bits, into a
    register; stage 2 (the next cycle, ``addr_q`` = ``addr`` registered)
    picks the block at ``addr_q``'s high bits. Two small multiplexers with a
    register between them instead of one as wide as ``flags``.
    """
    low = min(_LOOKUP_BITS, len(addr))
    blocks = -(-len(flags) // (1 << low))
    padded = Cat(flags, Const(0, blocks * (1 << low) - len(flags)))
    part = Signal(blocks, name=name)
    m.d.sync += part.eq(Cat(padded.word_select(b, 1 << low).bit_select(addr[:low], 1)
                            for b in range(blocks)))
    return part.bit_select(addr_q[low:], 1) if blocks > 1 else part[0]


class Accumulators(wiring.Component):
    """The PE's accumulators: two banks of ``act_depth`` rows, each row valid once written.

    In a layer one bank accumulates (``dst``) while the other holds the
    previous layer's sums, which the group reads requantize (``src``). A row
    that was not written since its bank's last ``clear`` reads as 0, so a
    layer starts from zero without a clearing pass: ``clear`` (one cycle)
    invalidates every row of bank ``dst``.

    Two block RAMs hold the same words, both banks each (the bank is the top
    address bit): every write goes to both; one is read by the updates, the
    other by the group reads. So each read has a block RAM of its own (one
    write port and one read port each, as with one bank per block RAM), and
    an update's previous sum comes from a single output register.

    Updates::

        cycle t   (R): row, valid; the update memory is read
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
        rows = _bits(config.act_depth)
        # Both banks in each memory: bank b, row r at address b * 2**rows + r.
        self._mems = [BlockRam(width=config.acc_bits, depth=2 << rows, family=family)
                      for _ in range(2)]
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
        return self._mems[0].latency

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        depth = cfg.act_depth
        rows = _bits(depth)
        bits = cfg.acc_bits

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
        # (`older_sum`), so A selects from two registered values.
        last_valid, last2_valid = Signal(), Signal()
        last_row, last2_row = Signal(rows), Signal(rows)
        last_sum, last2_sum = Signal(signed(bits)), Signal(signed(bits))
        bypass1, bypass_any = Signal(name="bypass1"), Signal(name="bypass_any")
        older_sum = Signal(signed(bits))
        hit1 = a_valid & (a_row == m_row)
        hit_last = last_valid & (last_row == m_row)
        hit_last2 = last2_valid & (last2_row == m_row)
        m.d.sync += [
            bypass1.eq(hit1),
            bypass_any.eq(hit1 | hit_last | hit_last2),
            older_sum.eq(Mux(hit_last, last_sum, last2_sum)),
        ]

        # Both memories: every write (an update's sum to bank `dst`, a host
        # input to bank 0) goes to both; `upd` is read by the updates (bank
        # `dst`), `grp` by the group reads (bank `rd_bank`). Each one's read
        # data leaves its block RAM's output register (hw.primitives.BlockRam;
        # a block RAM's clock-to-out is most of a cycle, so no logic may
        # follow the read before a register).
        m.submodules.upd = upd = self._mems[0]
        m.submodules.grp = grp = self._mems[1]
        for mem in self._mems:
            m.d.comb += [
                mem.w_addr.eq(Mux(last_valid, Cat(last_row, self.dst), Cat(self.wr_addr, 0))),
                mem.w_data.eq(Mux(last_valid, last_sum, self.wr_data)),
                mem.w_en.eq(last_valid | self.wr_en),
            ]
        m.d.comb += [
            upd.r_addr.eq(Cat(self.row, self.dst)), upd.r_en.eq(self.valid),
            grp.r_addr.eq(Cat(self.rd_addr, self.rd_bank)), grp.r_en.eq(self.rd_en),
        ]

        # Each bank's valid flags (flip-flops); the flag an update sets is
        # decoded one-hot a stage ahead (from A's row).
        last_hot = Signal(max(2, depth), name="last_hot")
        m.d.sync += last_hot.eq(1 << a_row)
        flags = []
        for k in range(2):
            flag = Signal(max(2, depth), name=f"valid_{k}")
            flags.append(flag)
            with m.If(self.clear & (self.dst == k)):
                m.d.sync += flag.eq(0)
            with m.Elif(last_valid & (self.dst == k)):
                m.d.sync += flag.eq(flag | last_hot)
            with m.Elif(self.wr_en & (k == 0)):
                m.d.sync += flag.bit_select(self.wr_addr, 1).eq(1)

        # A row's valid flag, read in R with the memory (a flag that an
        # update still in flight sets is covered by the bypass, which takes
        # precedence, as is the data that the read misses), registered as
        # "use the memory's data", which a bypass clears. The base is then
        # an AND-OR of one output register and the bypassed sum (itself from
        # registers): one gate between the block RAM and the adder.
        use = Signal(name="use_q")
        looked_up = [_lookup(m, flag, self.row, m_row, f"m_flags_{k}")
                     for k, flag in enumerate(flags)]
        m.d.sync += use.eq(Mux(self.dst, looked_up[1], looked_up[0])
                           & ~(hit1 | hit_last | hit_last2))
        bypass_sum = Signal(signed(bits))
        m.d.comb += bypass_sum.eq(Mux(bypass1, last_sum, older_sum) & bypass_any.replicate(bits))
        base = Signal(signed(bits))
        m.d.comb += base.eq((upd.r_data.as_signed() & use.replicate(bits)) | bypass_sum)
        m.d.sync += [
            last_valid.eq(a_valid), last_row.eq(a_row), last_sum.eq(base + a_prod),
            last2_valid.eq(last_valid), last2_row.eq(last_row), last2_sum.eq(last_sum),
        ]

        # Group reads: the flag is read with the memory (t) and registered
        # twice, beside the memory's data (t+2); rd_data masks the register.
        # No flag of the source bank changes while it is read.
        rd_bank_q = Signal()
        rd_addr_q = Signal.like(self.rd_addr)
        rd_use = Signal(name="rd_use")
        m.d.sync += [rd_bank_q.eq(self.rd_bank), rd_addr_q.eq(self.rd_addr)]
        rd_looked_up = [_lookup(m, flag, self.rd_addr, rd_addr_q, f"rd_flags_{k}")
                        for k, flag in enumerate(flags)]
        m.d.sync += rd_use.eq(Mux(rd_bank_q, rd_looked_up[1], rd_looked_up[0]))
        m.d.comb += self.rd_data.eq(grp.r_data.as_signed() & rd_use.replicate(bits))
        m.d.comb += self.busy.eq(self.valid | m_valid | a_valid | last_valid)
        return m
