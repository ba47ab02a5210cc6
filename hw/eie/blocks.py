"""The small blocks of an EIE processing element and the LNZD tree.

Each block is one ``wiring.Component``: the activation queue, the column
pointer read, the weight decoder, the arithmetic unit with its accumulator
memory, and the leading-nonzero detector. ``hw/eie/pe.py`` wires them into a
PE; ``docs/eie.md`` shows the pipeline.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_model.config import EieConfig

__all__ = [
    "check_config",
    "bcast_layout",
    "item_layout",
    "ActQueue",
    "PtrRead",
    "WeightDecoder",
    "ArithUnit",
    "LnzdNode",
    "Lnzd",
]


def check_config(config):
    """Return ``config`` if it is an :class:`EieConfig`, else raise :class:`TypeError`."""
    if not isinstance(config, EieConfig):
        raise TypeError(f"config must be an EieConfig, not {config!r}")
    return config


def _bits(n):
    """Address bits for ``n`` locations (at least 1)."""
    return max(1, (n - 1).bit_length())


def ptr_bank_depth(config):
    """Words of each of the two column-pointer banks."""
    return -(-config.ptr_depth // 2)


def bcast_layout(config):
    """Payload of the activation broadcast: the value and its pointer-bank addresses.

    The central unit turns column ``j`` into the two bank addresses once, so
    the PEs need no adder: ``p_j`` and ``p_{j+1}`` sit at ``even_addr`` and
    ``odd_addr``, and ``odd`` says which of the two is ``p_j``.
    """
    bank_bits = _bits(ptr_bank_depth(config))
    return data.StructLayout({
        "act": signed(config.act_bits),
        "even_addr": unsigned(bank_bits),
        "odd_addr": unsigned(bank_bits),
        "odd": unsigned(1),
    })


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
    """Column-pointer read: ``p_j`` and ``p_{j+1}`` in one cycle from two banks.

    Cycle ``b``: a broadcast arrives and both banks are read. Cycle ``b + 1``
    (stage P): ``item`` carries the activation and the column's entry range
    ``[start, end)``; ``item.valid`` follows every broadcast, empty columns
    included (the PE drops those). An item that is not taken (``item.ready``
    low) stays in stage P: the bank ports keep their data because no new
    broadcast may arrive until it is taken. The host writes pointer ``k`` (of
    the combined address space) into bank ``k % 2`` at ``k // 2``.
    """

    def __init__(self, *, config, init=None):
        self._config = check_config(config)
        bank_depth = ptr_bank_depth(config)
        # (even, odd) initial bank contents, e.g. from a baked-in program.
        self._init = ([], []) if init is None else tuple([int(x) for x in bank] for bank in init)
        super().__init__({
            "bcast": In(stream.Signature(bcast_layout(config), always_ready=True)),
            "item": Out(stream.Signature(item_layout(config))),
            "wr_en": In(1),
            "wr_addr": In(_bits(bank_depth) + 1),
            "wr_data": In(config.ptr_bits),
        })

    @property
    def latency(self):
        """Cycles from a broadcast to its item."""
        return 1

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        depth = ptr_bank_depth(cfg)
        init = self._init
        m.submodules.even = even = memory.Memory(
            shape=unsigned(cfg.ptr_bits), depth=max(2, depth), init=init[0])
        m.submodules.odd = odd = memory.Memory(
            shape=unsigned(cfg.ptr_bits), depth=max(2, depth), init=init[1])
        banks = (even, odd)
        for k, bank in enumerate(banks):
            wp = bank.write_port()
            m.d.comb += [
                wp.addr.eq(self.wr_addr[1:]),
                wp.data.eq(self.wr_data),
                wp.en.eq(self.wr_en & (self.wr_addr[0] == k)),
            ]
        rp_even = even.read_port()
        rp_odd = odd.read_port()
        m.d.comb += [
            rp_even.addr.eq(self.bcast.payload.even_addr),
            rp_odd.addr.eq(self.bcast.payload.odd_addr),
            rp_even.en.eq(self.bcast.valid),
            rp_odd.en.eq(self.bcast.valid),
        ]
        odd_q = Signal()
        m.d.sync += self.item.valid.eq(self.bcast.valid | (self.item.valid & ~self.item.ready))
        with m.If(self.bcast.valid):
            m.d.sync += [
                self.item.payload.act.eq(self.bcast.payload.act),
                odd_q.eq(self.bcast.payload.odd),
            ]
        # For an odd column p_j is in the odd bank and p_{j+1} in the even one.
        m.d.comb += [
            self.item.payload.start.eq(Mux(odd_q, rp_odd.data, rp_even.data)),
            self.item.payload.end.eq(Mux(odd_q, rp_even.data, rp_odd.data)),
        ]
        return m


class WeightDecoder(wiring.Component):
    """Codebook lookup: 4-bit index ``v`` to a signed 16-bit shared weight.

    One codebook of 16 entries per layer slot, in a synchronous memory; the
    weight of an index presented in cycle ``t`` is on ``w`` in cycle ``t + 1``.
    The host must keep entry 0 of every slot at 0 (padding entries use it).
    """

    def __init__(self, *, config, init=None):
        self._config = check_config(config)
        self._slots = config.max_layers
        self._init = [] if init is None else [int(x) for x in init]
        super().__init__({
            "en": In(1),
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
        """Cycles from an index to its weight."""
        return 1

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        m.submodules.codebook = mem = memory.Memory(
            shape=signed(cfg.w_bits), depth=1 << self.addr_bits, init=self._init)
        wp = mem.write_port()
        rp = mem.read_port()
        m.d.comb += [
            wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data), wp.en.eq(self.wr_en),
            rp.addr.eq(Cat(self.v, self.slot)), rp.en.eq(self.en),
            self.w.eq(rp.data),
        ]
        return m


class ArithUnit(wiring.Component):
    """Multiply-accumulate into the PE's accumulator memory, with a bypass.

    ::

        cycle t (M):   prod <= w * act ; acc memory read of row
        cycle t+1 (A): sum = (bypass ? last_sum : acc[row]) + prod ; acc[row] <= sum

    The read in cycle ``t`` misses a write to the same row in cycle ``t``
    (the previous update's A stage), so A takes the previous sum instead when
    the rows match: consecutive updates of one row run at full rate. The
    accumulator wraps at ``acc_bits``.

    Besides updates, the unit serves a readout (``rq_en``/``rq_row``: the row's
    sum is on ``rq_data`` one cycle later, while the row is cleared to 0) and a
    plain clear (``clr_en``/``clr_row``), used after reset. These three never
    overlap: the central unit sequences them.
    """

    def __init__(self, *, config):
        self._config = check_config(config)
        depth = config.act_depth
        super().__init__({
            "valid": In(1),
            "row": In(_bits(depth)),
            "act": In(signed(config.act_bits)),
            "w": In(signed(config.w_bits)),
            "rq_en": In(1),
            "rq_row": In(_bits(depth)),
            "rq_valid": Out(1),
            "rq_data": Out(signed(config.acc_bits)),
            "clr_en": In(1),
            "clr_row": In(_bits(depth)),
            "busy": Out(1),
        })

    @property
    def latency(self):
        """Cycles from an update's inputs to the cycle its sum is written."""
        return 1

    @property
    def readout_latency(self):
        """Cycles from a readout's ``rq_row`` to its sum on ``rq_data``."""
        return 1

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        m.submodules.acc = mem = memory.Memory(
            shape=signed(cfg.acc_bits), depth=max(2, cfg.act_depth), init=[])
        rp = mem.read_port()
        wp = mem.write_port()

        # Stage M (cycle t).
        prod = Signal(signed(cfg.act_bits + cfg.w_bits))
        row = Signal.like(self.row)
        valid = Signal()
        m.d.sync += [prod.eq(self.w * self.act), row.eq(self.row), valid.eq(self.valid)]
        m.d.comb += [
            rp.addr.eq(Mux(self.valid, self.row, self.rq_row)),
            rp.en.eq(self.valid | self.rq_en),
        ]

        # Stage A (cycle t + 1).
        last_valid = Signal()
        last_row = Signal.like(self.row)
        last_sum = Signal(signed(cfg.acc_bits))
        bypass = last_valid & (last_row == row)
        total = Signal(signed(cfg.acc_bits))
        m.d.comb += total.eq(Mux(bypass, last_sum, rp.data) + prod)
        m.d.sync += [last_valid.eq(valid), last_row.eq(row), last_sum.eq(total)]

        rq_row = Signal.like(self.rq_row)
        m.d.sync += [self.rq_valid.eq(self.rq_en), rq_row.eq(self.rq_row)]
        m.d.comb += self.rq_data.eq(rp.data)

        with m.If(valid):
            m.d.comb += [wp.addr.eq(row), wp.data.eq(total), wp.en.eq(1)]
        with m.Elif(self.rq_valid):
            m.d.comb += [wp.addr.eq(rq_row), wp.data.eq(0), wp.en.eq(1)]
        with m.Elif(self.clr_en):
            m.d.comb += [wp.addr.eq(self.clr_row), wp.data.eq(0), wp.en.eq(1)]
        m.d.comb += self.busy.eq(valid)
        return m


class LnzdNode(wiring.Component):
    """One node of the LNZD tree: the leading valid input of up to four.

    Combinational. Each input carries ``valid``, a ``value`` and the ``index``
    of its own leading nonzero within a span of ``span`` lanes; the output
    index is ``child * span + index`` of the first valid child.
    """

    def __init__(self, *, n_children, span, value_shape):
        if isinstance(n_children, bool) or not isinstance(n_children, int) \
                or not 1 <= n_children <= 4:
            raise ValueError(f"LNZD node children must be 1 to 4, not {n_children!r}")
        self._n = n_children
        self._span = span
        in_bits = max(1, (span - 1).bit_length())
        out_bits = max(1, (span * n_children - 1).bit_length())
        super().__init__({
            "in_valid": In(n_children),
            "in_value": In(data.ArrayLayout(value_shape, n_children)),
            "in_index": In(data.ArrayLayout(unsigned(in_bits), n_children)),
            "valid": Out(1),
            "value": Out(value_shape),
            "index": Out(out_bits),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.valid.eq(self.in_valid.any())
        # Priority from the last child down, so the first valid child wins.
        for k in reversed(range(self._n)):
            with m.If(self.in_valid[k]):
                m.d.comb += [
                    self.value.eq(self.in_value[k]),
                    self.index.eq(k * self._span + self.in_index[k]),
                ]
        return m


class Lnzd(wiring.Component):
    """Leading-nonzero detector over ``n`` lanes, a tree of 4-input nodes.

    Combinational: ``valid`` is high when any ``mask`` bit is set, ``index`` is
    the lowest set lane and ``value`` its value. With one lane per PE this is
    the paper's LNZD tree (four PEs per node).
    """

    def __init__(self, *, n, value_shape):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"LNZD lanes must be a positive integer, not {n!r}")
        self._n = n
        self._value_shape = value_shape
        super().__init__({
            "mask": In(n),
            "values": In(data.ArrayLayout(value_shape, n)),
            "valid": Out(1),
            "index": Out(max(1, (n - 1).bit_length())),
            "value": Out(value_shape),
        })

    @property
    def levels(self):
        """Levels of 4-input nodes in the tree."""
        levels, width = 0, self._n
        while width > 1:
            width = -(-width // 4)
            levels += 1
        return levels

    def elaborate(self, platform):
        m = Module()
        level = [(self.mask[i], self.values[i], Const(0, 1)) for i in range(self._n)]
        span, depth = 1, 0
        while len(level) > 1:
            nxt = []
            for k in range(0, len(level), 4):
                kids = level[k:k + 4]
                node = LnzdNode(n_children=len(kids), span=span, value_shape=self._value_shape)
                m.submodules[f"node_{depth}_{k // 4}"] = node
                for c, (valid, value, index) in enumerate(kids):
                    m.d.comb += [
                        node.in_valid[c].eq(valid),
                        node.in_value[c].eq(value),
                        node.in_index[c].eq(index),
                    ]
                nxt.append((node.valid, node.value, node.index))
            level, span, depth = nxt, span * 4, depth + 1
        valid, value, index = level[0]
        m.d.comb += [self.valid.eq(valid), self.value.eq(value), self.index.eq(index)]
        return m

