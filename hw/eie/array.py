"""The EIE PE array: PEs, the LNZD tree and the central control unit (CCU)."""

import enum

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_model.config import EieTiming

from ..primitives import KEEP
from .blocks import _bits, bcast_layout, check_config
from .pe import (
    COUNTER_BITS,
    GROUP_SLOTS,
    HOST_DATA_BITS,
    ProcessingElement,
    pe_addr_bits,
)
from .program import LAYER_STRIDE, STATUS_COUNT_BITS, Counter, EieProgram, Error, LayerField, Op

__all__ = ["EieArray", "cmd_layout", "resp_layout"]


def _addr_bits(config):
    return max(pe_addr_bits(config), _bits(config.max_layers) + _bits(LAYER_STRIDE), 2)


def cmd_layout(config):
    """Payload of a host command: ``op``, ``pe``, ``addr``, ``data`` (LSB first)."""
    return data.StructLayout({
        "op": 4,
        "pe": _bits(config.n_pe),
        "addr": _addr_bits(config),
        "data": HOST_DATA_BITS,
    })


def resp_layout(config):
    """Payload of a response: the command's ``op``, 64 bits of ``data``, ``error``.

    ``error`` is set when the array rejected the command (``data`` is then 0;
    READ_STATUS says why).
    """
    return data.StructLayout({"op": 4, "data": HOST_DATA_BITS, "error": 1})


#: Opcodes answered with one response.
_ANSWERED = (Op.READ_ACT, Op.READ_COUNTER, Op.RUN, Op.READ_STATUS)


def _below(value, limit):
    """``value < limit``; a constant 1 where the field cannot reach ``limit``.

    A wide value is compared in two parts: its bits above ``limit``'s width
    are zero (a tree) and the low bits are below ``limit`` (a short carry
    chain), not one carry chain over every bit.
    """
    if limit >= 1 << len(value):
        return Const(1, 1)
    bits = max(1, limit.bit_length())
    if bits >= len(value):
        return value < limit
    return (value[bits:] == 0) & (value[:bits] < limit)


def _fits(value, bits):
    """No bit of ``value`` at or above ``bits`` is set."""
    return value[bits:] == 0 if bits < len(value) else Const(1, 1)


class _State(enum.Enum):
    IDLE = 0
    READ = 1
    RESP = 2
    START = 3
    COMPUTE = 4
    DONE = 5


#: PEs that share one register of the broadcast fan-out.
FANOUT = 4


def _lowest(bits):
    """The lowest set bit of ``bits`` alone (a carry chain: ``bits & -bits``)."""
    return (bits & (~bits + 1))[:len(bits)]


def _without_lowest(bits):
    """``bits`` without its lowest set bit (``bits & (bits - 1)``)."""
    return (bits & (bits - 1))[:len(bits)]


def _at_most_one(bits):
    """No two bits of ``bits`` are set (``_without_lowest(bits) == 0``), as a tree.

    Each half gives (any bit set, two bits set); no carry chain.
    """
    def tree(lo, hi):
        if hi - lo == 1:
            return bits[lo], Const(0, 1)
        mid = (lo + hi) // 2
        any_l, two_l = tree(lo, mid)
        any_r, two_r = tree(mid, hi)
        return any_l | any_r, two_l | two_r | (any_l & any_r)
    return ~tree(0, len(bits))[1]


class EieArray(wiring.Component):
    """An EIE array of ``config.n_pe`` PEs with its host interface.

    Parameters
    ----------
    config : EieConfig
        The array's parameters.
    program : EieProgram or None
        Layers to bake into the memories and layer table at elaboration time
        (as a deployed bitstream would hold them); the host may still
        overwrite them. ``None`` leaves everything zero.
    family : str or None
        FPGA family whose primitives the PEs instantiate (:mod:`hw.primitives`);
        ``None`` is the generic version that simulates. The cycle behaviour is
        the same for all.

    Ports
    -----
    cmd : In(stream)
        Host commands (:func:`cmd_layout`, opcodes :class:`~hw.eie.program.Op`).
    resp : Out(stream)
        One response per read or run (:func:`resp_layout`).
    """

    #: Engine name in the design side-car (:data:`hw.generate.ENGINES`).
    ENGINE = "eie"

    def __init__(self, *, config, program=None, family=None):
        self._config = check_config(config)
        if program is not None:
            if not isinstance(program, EieProgram):
                raise TypeError(f"program must be an EieProgram or None, not {program!r}")
            if program.config != config:
                raise ValueError(
                    f"program was laid out for {program.config!r}, not for {config!r}")
        self._program = program
        images = program.images() if program is not None else [None] * config.n_pe
        self._pes = [ProcessingElement(config=config, lane=k, image=image, family=family)
                     for k, image in enumerate(images)]
        self._family = family
        super().__init__({
            "cmd": In(stream.Signature(cmd_layout(config))),
            "resp": Out(stream.Signature(resp_layout(config))),
        })

    @property
    def config(self):
        """The :class:`~sw_model.config.EieConfig` the array is built from."""
        return self._config

    @property
    def family(self):
        """FPGA family of the instantiated primitives (``None``: generic)."""
        return self._family

    #: Cycles from a broadcast decision to its arrival in the PEs: the
    #: broadcast register (value and address), then the fan-out register.
    BCAST_LATENCY = 2
    #: Cycles of the central unit's mask stage (lowest bit, rest, nonzero) before
    #: a group can be taken.
    MASK_LATENCY = 1
    #: Cycles from a PE's release to a usable credit: the PE's release register,
    #: then the credit counter.
    CREDIT_LATENCY = 2
    #: Cycles from a write command's execution to the PEs' write enables: the
    #: decoded enables, the address and the data are registered once more.
    WRITE_LATENCY = 1

    @property
    def timing(self):
        """The latencies the cycle model needs (:class:`~sw_model.config.EieTiming`).

        Summed from the blocks that create them; written to the design's
        side-car, from which the cycle model, the testbenches and the reports
        read them.
        """
        pe = self._pes[0]
        return EieTiming(
            # START resets the reader; the first COMPUTE cycle reads group 0.
            read_first=1,
            group_latency=pe.group_latency + self.MASK_LATENCY,
            # One slot of the group buffer belongs to the LNZD's current group.
            group_slots=GROUP_SLOTS - 1,
            ptr_latency=self.BCAST_LATENCY + pe.ptr_latency,
            credit_return=self.CREDIT_LATENCY,
            pe_drain=pe.drain_latency,
            # The PEs' busy flags are registers.
            idle_latency=1,
        )

    def _op_rules(self, m, cmd):
        """Each opcode's field rules for the fields of ``cmd``.

        A dictionary from :class:`Op` to a list of ``(ok, error)`` pairs in
        priority order: ``ok`` holds when the rule is met, ``error`` is the
        :class:`Error` of the first rule that is not. The opcodes absent
        from it have no field rules (NOP, READ_STATUS, CLEAR_STATUS) or are
        unknown (``OPCODE``). :meth:`elaborate` registers every rule's flag
        and makes the priority encoding and the opcode's selection a stage
        later, so no path runs from the port through both. The checks that
        depend on the array's state (a RUN's layer-table entries and inputs)
        are made when the command executes.
        """
        cfg = self._config
        addr, value = cmd.addr, cmd.data
        pe_ok = _below(cmd.pe, cfg.n_pe)
        rules = {}

        def check(op, *op_rules):
            # (condition that must hold, error otherwise), in priority order.
            rules[op] = list(op_rules)

        stride_bits = _bits(LAYER_STRIDE)
        entry, field = addr[stride_bits:], addr[:stride_bits]
        run_bits = cfg.max_layers.bit_length()
        index = addr[:cfg.index_bits]
        check(Op.WRITE_CODEBOOK,
              (_below(addr, cfg.max_layers << cfg.index_bits), Error.ADDRESS),
              (_fits(value, cfg.w_bits), Error.DATA),
              ((index != 0) | (value == 0), Error.DATA))
        start, end = value[:cfg.ptr_bits], value[cfg.ptr_bits:2 * cfg.ptr_bits]
        check(Op.WRITE_PTR,
              (pe_ok, Error.PE),
              (_below(addr, cfg.ptr_depth), Error.ADDRESS),
              (_fits(value, 2 * cfg.ptr_bits), Error.DATA),
              (start <= end, Error.DATA),
              (_below(end, cfg.max_entries + 1), Error.DATA))
        check(Op.WRITE_MATRIX,
              (pe_ok, Error.PE),
              (_below(addr, cfg.matrix_depth), Error.ADDRESS),
              (_fits(value, cfg.word_bits), Error.DATA))
        limits = {
            LayerField.N_GROUPS: _below(value, cfg.act_depth + 1),
            LayerField.LAST_LANES: (value != 0) & _below(value, cfg.n_pe + 1),
            LayerField.PTR_BASE: _below(value, cfg.ptr_depth + 1),
            LayerField.CB_SLOT: _below(value, cfg.max_layers),
            LayerField.RELU: _below(value, 2),
            LayerField.BIAS: _below(value, 2),
        }
        value_ok = Signal()
        with m.Switch(field):
            for f, ok in limits.items():
                with m.Case(f):
                    m.d.comb += value_ok.eq(ok)
        check(Op.WRITE_LAYER,
              (_below(entry, cfg.max_layers), Error.LAYER),
              (field < len(LayerField), Error.ADDRESS),
              (value_ok, Error.DATA))
        check(Op.WRITE_ACT,
              (pe_ok, Error.PE),
              (_below(addr, cfg.act_depth), Error.ADDRESS),
              (_fits(value, cfg.act_bits), Error.DATA))
        check(Op.READ_ACT,
              (pe_ok, Error.PE),
              (_below(addr, cfg.act_depth), Error.ADDRESS))
        n_run = value[:run_bits]
        check(Op.RUN,
              (_fits(value, run_bits) & (n_run != 0)
               & _below(n_run, cfg.max_layers + 1), Error.RUN_COUNT))
        check(Op.READ_COUNTER,
              (addr < len(Counter), Error.ADDRESS),
              (pe_ok | (addr == Counter.CYCLES), Error.PE))
        return rules

    def elaborate(self, platform):
        """Central control unit: host I/O, layer sequencing, group reads, LNZD, credits.

        Compute mode, per layer (cycle 0 = START)::

            START    clear the destination bank's valid flags, reset the credits
            COMPUTE  group reads: one local address in every PE per cycle, while
                     fewer than group_slots groups are read ahead of the LNZD
                     LNZD: takes a group (an all-zero group takes one cycle),
                     offers its nonzero columns lowest first; a column is
                     broadcast when every PE has a credit
                     ends when the LNZD is done and every PE is idle
        """
        cfg = self._config
        n_pe = cfg.n_pe
        prog = self._program
        m = Module()
        pes = self._pes
        for k, pe in enumerate(pes):
            m.submodules[f"pe_{k}"] = pe
        n_slots = GROUP_SLOTS
        assert n_slots & (n_slots - 1) == 0
        slot_bits = (n_slots - 1).bit_length()
        ptr_addr = range(cfg.ptr_depth + cfg.max_dim + 1)

        # --- Layer table (registers, optionally baked in).
        def table(field, shape, name, value=lambda x: x):
            def init(i):
                return value(0 if prog is None or i >= prog.n_layers else prog.table[i][field])
            return Array(Signal(shape, name=f"{name}_{i}", init=init(i))
                         for i in range(cfg.max_layers))

        groups_range = range(cfg.act_depth + 1)
        t_groups = table(LayerField.N_GROUPS, groups_range, "n_groups")
        # Whether an entry's group count is 0 or 1, kept beside it: START
        # reads these flags rather than comparing the count it selects.
        t_zero = table(LayerField.N_GROUPS, 1, "groups_zero", lambda x: int(x == 0))
        t_one = table(LayerField.N_GROUPS, 1, "groups_one", lambda x: int(x == 1))
        t_lanes = table(LayerField.LAST_LANES, range(n_pe + 1), "last_lanes")
        t_ptr = table(LayerField.PTR_BASE, range(cfg.ptr_depth + 1), "ptr_base")
        t_slot = table(LayerField.CB_SLOT, _bits(cfg.max_layers), "cb_slot")
        t_relu = table(LayerField.RELU, 1, "relu")
        t_bias = table(LayerField.BIAS, 1, "bias")
        field_regs = {
            LayerField.N_GROUPS: t_groups, LayerField.LAST_LANES: t_lanes,
            LayerField.PTR_BASE: t_ptr, LayerField.CB_SLOT: t_slot,
            LayerField.RELU: t_relu, LayerField.BIAS: t_bias,
        }

        layer = Signal(_bits(cfg.max_layers))
        last_layer = Signal(_bits(cfg.max_layers))
        out_bank = Signal()
        # ReLU applied by group reads: the previous layer's (none for the inputs).
        rd_relu = Signal()
        n_groups = t_groups[layer]
        # The current layer's fields that the PEs read while computing, copied
        # from the table every cycle: `layer` only changes when entering START,
        # so in COMPUTE they are the layer's, and no table multiplexer lies on
        # a path to the PEs.
        cur_bias = Signal()
        cur_lanes = Signal(range(n_pe + 1))
        cur_cb_slot = Signal(_bits(cfg.max_layers))
        m.d.sync += [cur_bias.eq(t_bias[layer]), cur_lanes.eq(t_lanes[layer]),
                     cur_cb_slot.eq(t_slot[layer])]

        # The state: one flag register per _State (one-hot), so no decode of
        # an encoded state lies in front of any decision; `state` is their
        # encoding (for the formal harnesses and the waves).
        in_state = {s: Signal(name=f"in_{s.name.lower()}", init=int(s == _State.IDLE))
                    for s in _State}
        state = Signal(_State)
        for s, flag in in_state.items():
            with m.If(flag):
                m.d.comb += state.eq(s)

        def goto(target):
            return [flag.eq(s == target) for s, flag in in_state.items()]

        computing = in_state[_State.COMPUTE]
        cycles = Signal(COUNTER_BITS)
        resp_op = Signal(4)
        resp_data = Signal(HOST_DATA_BITS)
        rd_pe = Signal(_bits(n_pe))
        host_addr = Signal(_bits(cfg.act_depth))
        wait = Signal(range(8))

        # --- Group reader. It reads while fewer than n_slots - 1 groups are
        # read and not yet taken by the LNZD; `ahead` (= g_read - taken) and
        # `g_all` (= g_read == n_groups) are kept as registers, so the read
        # enable of every PE's accumulator bank is one gate from registers;
        # so is `g_last` (= g_read + 1 == n_groups: the next read is the
        # layer's last group), which every PE's last-group flag follows.
        # START sets them from the table (its count and its flags for counts
        # 0 and 1).
        g_read = Signal(groups_range)
        g_ptr = Signal(ptr_addr)
        g_all = Signal()
        g_last = Signal()
        ahead = Signal(range(n_slots))
        taken = Signal(groups_range)
        # Groups in the mask queue (arrived, not yet taken), and whether there
        # is one, as registers: the LNZD's take reads the flag.
        queued = Signal(range(n_slots + 1), name="queued")
        head_valid = Signal(name="head_valid")
        can_read = Signal()
        take = Signal()
        m.d.comb += can_read.eq(computing & ~g_all & (ahead != n_slots - 1))
        m.d.sync += ahead.eq(ahead + can_read - take)
        host_read = in_state[_State.READ] & (wait == 0)
        for pe in pes:
            m.d.comb += [
                pe.rd_en.eq(can_read | host_read),
                pe.rd_bank.eq(Mux(computing, layer[0], out_bank)),
                pe.rd_addr.eq(Mux(computing, g_read, host_addr)),
                pe.rd_last.eq(computing & g_last),
                pe.rd_slot.eq(g_read[:slot_bits]),
                pe.relu.eq(rd_relu),
                pe.bias.eq(cur_bias),
                pe.last_lanes.eq(cur_lanes),
            ]
        # The groups not yet read, counted down: `g_last` follows from it
        # without an adder.
        unread = Signal(groups_range, name="unread")
        with m.If(can_read):
            m.d.sync += [g_read.eq(g_read + 1), g_ptr.eq(g_ptr + n_pe), unread.eq(unread - 1),
                         g_all.eq(g_last), g_last.eq(unread == 2)]
        # The group's pointer base and slot travel with the read to the mask stage.
        depth = pes[0].group_latency
        pipe_valid = [Signal(name=f"grp_valid_{k}") for k in range(depth)]
        pipe_ptr = [Signal(ptr_addr, name=f"grp_ptr_{k}") for k in range(depth)]
        pipe_slot = [Signal(slot_bits, name=f"grp_slot_{k}") for k in range(depth)]
        m.d.sync += [pipe_valid[0].eq(can_read), pipe_ptr[0].eq(g_ptr),
                     pipe_slot[0].eq(g_read[:slot_bits])]
        for k in range(1, depth):
            m.d.sync += [pipe_valid[k].eq(pipe_valid[k - 1]), pipe_ptr[k].eq(pipe_ptr[k - 1]),
                         pipe_slot[k].eq(pipe_slot[k - 1])]

        # --- Mask stage: the group's lowest nonzero, the rest, into the mask queue.
        entry = data.StructLayout({
            "first": n_pe, "rest": n_pe, "single": 1, "nonzero": 1, "ptr": ptr_addr,
        })
        nz = Signal(n_pe)
        m.d.comb += nz.eq(Cat(pe.g_nz for pe in pes))
        new = Signal(entry)
        m.d.comb += [
            new.first.eq(_lowest(nz)),
            new.rest.eq(_without_lowest(nz)),
            new.single.eq(_at_most_one(nz)),
            new.nonzero.eq(nz != 0),
            new.ptr.eq(pipe_ptr[-1]),
        ]
        m.submodules.mask_queue = masks = memory.Memory(shape=entry, depth=n_slots, init=[])
        mq_w = masks.write_port()
        mq_r = masks.read_port(domain="comb")
        m.d.comb += [mq_w.addr.eq(pipe_slot[-1]), mq_w.data.eq(new),
                     mq_w.en.eq(pipe_valid[-1]), mq_r.addr.eq(taken[:slot_bits])]
        arrive = pipe_valid[-1]
        m.d.sync += [queued.eq(queued + arrive - take),
                     head_valid.eq(arrive | (queued >= 2) | ((queued == 1) & ~take))]
        head = mq_r.data

        # --- LNZD: the current group's columns, lowest first.
        cur_valid = Signal()
        cur_onehot = Signal(n_pe)
        cur_rest = Signal(n_pe)
        cur_last = Signal()
        cur_slot = Signal(slot_bits)
        cur_ptr = Signal(ptr_addr)
        credit = Signal(n_pe)
        # One flag per FANOUT PEs: every PE of the group has a credit. It is
        # the AND of the group's credit flags, kept as a register of its own
        # (the AND of their next values), so the broadcast decision is an AND
        # of n_pe / FANOUT registers rather than of n_pe.
        n_groups_fo = -(-n_pe // FANOUT)
        group_credit = Signal(n_groups_fo)
        bcast = Signal()
        m.d.comb += bcast.eq(computing & cur_valid & group_credit.all())
        m.d.comb += take.eq(
            computing & (bcast | ~cur_valid) & (~cur_valid | cur_last) & head_valid)
        # Observed by the testbench's coverage: the group taken is all zero.
        take_zero = Signal(name="take_zero")
        m.d.comb += take_zero.eq(take & ~head.nonzero)
        with m.If(take):
            m.d.sync += [
                cur_valid.eq(head.nonzero), cur_onehot.eq(head.first), cur_rest.eq(head.rest),
                cur_last.eq(head.single), cur_slot.eq(taken[:slot_bits]), cur_ptr.eq(head.ptr),
                taken.eq(taken + 1),
            ]
        with m.Elif(bcast):
            with m.If(cur_last):
                m.d.sync += cur_valid.eq(0)
            with m.Else():
                m.d.sync += [
                    cur_onehot.eq(_lowest(cur_rest)),
                    cur_rest.eq(_without_lowest(cur_rest)),
                    cur_last.eq(_at_most_one(cur_rest)),
                ]
        # `all_taken` (= taken == n_groups) kept as a register, from a count
        # of the groups not yet taken.
        all_taken = Signal(name="all_taken")
        untaken = Signal(groups_range, name="untaken")
        with m.If(take):
            m.d.sync += [all_taken.eq(untaken == 1), untaken.eq(untaken - 1)]
        lnzd_done = all_taken & ~cur_valid

        # --- Broadcast register: the value (one-hot select of the group
        # buffers) and the column's pointer address.
        bc_valid = Signal()
        bc_valid_q = Signal()
        bc_act = Signal(signed(cfg.act_bits))
        bc_addr = Signal(_bits(cfg.ptr_depth))
        index = Signal(_bits(n_pe))
        value = Signal(cfg.act_bits)
        for pe in pes:
            m.d.comb += pe.gb_slot.eq(cur_slot)
        m.d.comb += [
            index.eq(_or(Mux(cur_onehot[k], k, 0) for k in range(n_pe))),
            value.eq(_or(Mux(cur_onehot[k], pe.gb_data.as_unsigned(), 0)
                         for k, pe in enumerate(pes))),
        ]
        m.d.sync += [bc_valid.eq(bcast), bc_valid_q.eq(bc_valid),
                     bc_act.eq(value.as_signed()), bc_addr.eq(cur_ptr + index)]
        # Fan-out registers, one per FANOUT PEs.
        for g in range(0, n_pe, FANOUT):
            # `keep`: the copies are identical, and only kept apart do they
            # shorten the broadcast's wires (see docs/synth.md).
            fo_valid = Signal(name=f"fo_valid_{g // FANOUT}", attrs=KEEP)
            fo = Signal(bcast_layout(cfg), name=f"fo_{g // FANOUT}", attrs=KEEP)
            m.d.sync += [fo_valid.eq(bc_valid), fo.act.eq(bc_act), fo.addr.eq(bc_addr)]
            for pe in pes[g:g + FANOUT]:
                m.d.comb += [pe.bcast.valid.eq(fo_valid), pe.bcast.payload.eq(fo)]

        # --- Credits: one counter per PE and a flag that it is not zero.
        credits = cfg.queue_depth
        credit_next = Signal(n_pe)
        for k, pe in enumerate(pes):
            count = Signal(range(credits + 1), name=f"credits_{k}")
            with m.If(in_state[_State.START]):
                m.d.sync += count.eq(credits)
                m.d.comb += credit_next[k].eq(1)
            with m.Else():
                m.d.sync += count.eq(count - bcast + pe.release)
                m.d.comb += credit_next[k].eq(
                    (count >= 2) | (credit[k] & ~bcast) | (pe.release != 0))
            m.d.comb += pe.stall_inc.eq(computing & cur_valid & ~credit[k])
        m.d.sync += credit.eq(credit_next)
        for g in range(n_groups_fo):
            m.d.sync += group_credit[g].eq(credit_next[g * FANOUT:(g + 1) * FANOUT].all())

        all_idle = Signal()
        m.d.comb += all_idle.eq(~_or(pe.busy for pe in pes))
        layer_done = computing & lnzd_done & ~bc_valid & ~bc_valid_q & all_idle
        # The layer is the last: a register (layer and last_layer hold from START on).
        is_last = Signal(name="is_last")
        m.d.sync += is_last.eq(layer == last_layer)

        for pe in pes:
            m.d.comb += [
                pe.src.eq(layer[0]),
                pe.cb_slot.eq(cur_cb_slot),
                pe.start.eq(in_state[_State.START]),
            ]

        # --- Host commands: two stages before the command executes, so the
        # execution reads single flags from registers.
        #
        # Stage A registers the port's command with the pass flag of every
        # field rule of every opcode (:meth:`_op_rules`, from the port's
        # fields); each opcode's error is the first of its flags that is low.
        # Stage B (`cmd_q`) registers the command with its own field error
        # (`cmd_q_error`, `cmd_q_ok`) and its decoded fields: the opcode one-hot, the PE's lane, the
        # layer-table entry and field, the counter. A write leaves the array
        # IDLE and the next command can follow in the next cycle; a read or a
        # run leaves IDLE, and stage B then takes no command in its cycle
        # (nor does stage A or the port, which advance with it).
        #
        # Every command is checked (docs/eie.md lists the checks): the checks
        # of its fields on the way through the two stages, those of the
        # array's state (a RUN's table entries and inputs) when it executes.
        # A rejected command changes nothing but the sticky error status, and
        # a rejected read or RUN still answers, flagged `error`.
        stride_bits = _bits(LAYER_STRIDE)
        run_bits = cfg.max_layers.bit_length()
        idle = in_state[_State.IDLE]
        a_cmd = Signal.like(self.cmd.payload, name="cmd_a")
        a_valid = Signal(name="cmd_a_valid")
        # Each rule as (its stage-A flag, its condition, its error).
        a_rules = {op: [(Signal(name=f"cmd_a_ok_{op.name.lower()}_{k}", init=1), ok, error)
                        for k, (ok, error) in enumerate(rules)]
                   for op, rules in self._op_rules(m, self.cmd.payload).items()}
        a_errors = {op: Signal(Error, name=f"cmd_a_error_{op.name.lower()}")
                    for op in a_rules}
        for op, rules in a_rules.items():
            for k, (flag, _, error) in enumerate(rules):
                with (m.If if k == 0 else m.Elif)(~flag):
                    m.d.comb += a_errors[op].eq(error)
        cmd = Signal.like(self.cmd.payload, name="cmd_q")
        cmd_valid = Signal(name="cmd_q_valid")
        cmd_error = Signal(Error, name="cmd_q_error")
        cmd_ok = Signal(name="cmd_q_ok", init=1)
        # The decoded flags' reset values are those of the reset command
        # register's all-zero NOP.
        is_op = {op: Signal(name=f"cmd_q_is_{op.name.lower()}", init=int(op == Op.NOP))
                 for op in Op}
        leaves_idle = Signal(name="cmd_q_leaves_idle")
        lane = Signal(n_pe, name="cmd_q_lane", init=1)
        # Layer-table writes: entry i, field f.
        table_write = [{f: Signal(name=f"cmd_q_table_{i}_{f.name.lower()}") for f in LayerField}
                       for i in range(cfg.max_layers)]
        # A READ_COUNTER's counter, selected from stage A's command every
        # cycle: when B loads that command, the array is IDLE and stays so
        # the next cycle, in which B's command executes, and every counter
        # holds still while the array is IDLE.
        counter = Signal(COUNTER_BITS, name="cmd_q_counter")
        counters = {
            Counter.BUSY: Array(pe.busy_count for pe in pes),
            Counter.STALL: Array(pe.stall_count for pe in pes),
        }
        # Which table entries a RUN uses, and whether it overwrites bank 0 (two or more layers).
        run_uses = Signal(cfg.max_layers, name="cmd_q_run_uses")
        run_chain = Signal(name="cmd_q_run_chain")
        data_zero = Signal(name="cmd_q_data_zero", init=1)
        data_one = Signal(name="cmd_q_data_one")
        # A RUN waits one cycle in the command register while its state
        # checks (table entries written, inputs present) are made and
        # registered (`run_checked`): no command can change that state in
        # the meantime, and the execution then reads only registers.
        run_checked = Signal(name="cmd_q_run_checked")

        # The command executes (`accept`: a RUN in its second cycle).
        accept = Signal()
        b_load = Signal()
        m.d.comb += [
            accept.eq(cmd_valid & idle & (~is_op[Op.RUN] | run_checked)),
            b_load.eq(idle & ~(cmd_valid & leaves_idle)),
            self.cmd.ready.eq(b_load),
        ]
        with m.If(b_load):
            m.d.sync += [a_cmd.eq(self.cmd.payload), a_valid.eq(self.cmd.valid)]
            m.d.sync += [flag.eq(ok) for rules in a_rules.values() for flag, ok, _ in rules]
        a_error = Signal(Error, name="cmd_a_error")
        with m.Switch(a_cmd.op):
            for op, err in a_errors.items():
                with m.Case(op):
                    m.d.comb += a_error.eq(err)
            with m.Case(Op.NOP, Op.READ_STATUS, Op.CLEAR_STATUS):
                pass
            with m.Default():
                m.d.comb += a_error.eq(Error.OPCODE)
        a_entry, a_field = a_cmd.addr[stride_bits:], a_cmd.addr[:stride_bits]
        a_runs = a_cmd.data[:run_bits]
        with m.If(a_valid & b_load):
            m.d.sync += [
                cmd.eq(a_cmd), cmd_valid.eq(1), run_checked.eq(0),
                cmd_error.eq(a_error), cmd_ok.eq(a_error == Error.NONE),
                leaves_idle.eq(_or(a_cmd.op == op for op in _ANSWERED)),
                lane.eq(Cat(a_cmd.pe == k for k in range(n_pe))),
                run_uses.eq(Cat(a_runs > i for i in range(cfg.max_layers))),
                run_chain.eq(a_runs[1:] != 0),
                data_zero.eq(a_cmd.data == 0), data_one.eq(a_cmd.data == 1),
            ]
            m.d.sync += [flag.eq(a_cmd.op == op) for op, flag in is_op.items()]
            m.d.sync += [flag.eq((a_cmd.op == Op.WRITE_LAYER) & (a_entry == i) & (a_field == f))
                         for i, fields in enumerate(table_write) for f, flag in fields.items()]
        with m.Elif(accept):
            m.d.sync += [cmd_valid.eq(0), run_checked.eq(0)]
        with m.Elif(cmd_valid & idle):
            m.d.sync += run_checked.eq(1)
        with m.If(a_cmd.addr == Counter.CYCLES):
            m.d.sync += counter.eq(cycles)
        with m.Elif(a_cmd.addr == Counter.BUSY):
            m.d.sync += counter.eq(counters[Counter.BUSY][a_cmd.pe])
        with m.Else():
            m.d.sync += counter.eq(counters[Counter.STALL][a_cmd.pe])

        # State the RUN checks read: which table entries were written since
        # the reset (a baked program's are), and whether the first layer's
        # inputs are there (written since the reset and not overwritten by a
        # run of two or more layers, whose layer 1 accumulates into bank 0).
        baked = 0 if prog is None else (1 << prog.n_layers) - 1
        written = Signal(cfg.max_layers, init=baked, name="entry_written")
        inputs_ok = Signal(name="inputs_ok")
        run_error = Signal(Error, name="run_error")
        run_bad = Signal(name="run_bad")
        entries_ok = (written | ~run_uses).all()
        with m.If(~entries_ok):
            m.d.sync += [run_error.eq(Error.EMPTY_LAYER), run_bad.eq(1)]
        with m.Elif(~inputs_ok):
            m.d.sync += [run_error.eq(Error.NO_INPUTS), run_bad.eq(1)]
        with m.Else():
            m.d.sync += [run_error.eq(Error.NONE), run_bad.eq(0)]

        # An executing command passes every check (`go`) or is rejected
        # (its error: `error`).
        go = Signal()
        rejected = Signal()
        m.d.comb += [
            go.eq(accept & cmd_ok & ~(is_op[Op.RUN] & run_bad)),
            rejected.eq(accept & ~(cmd_ok & ~(is_op[Op.RUN] & run_bad))),
        ]
        error = Mux(cmd_ok, run_error, cmd_error)
        # The other opcodes' execution: no RUN check applies.
        write = cmd_valid & idle & cmd_ok

        # Writes: the decoded write enables, the address and the data are
        # registered once more before they reach the PEs (the write lands a
        # cycle after the command executes, still before any later command
        # can read what it wrote), so the route to every PE starts at a
        # register.
        wr_addr = Signal.like(cmd.addr, name="wr_addr_q")
        wr_data = Signal.like(cmd.data, name="wr_data_q")
        m.d.sync += [wr_addr.eq(cmd.addr), wr_data.eq(cmd.data)]
        for k, pe in enumerate(pes):
            mine = write & lane[k]
            m.d.comb += [pe.wr_addr.eq(wr_addr), pe.wr_data.eq(wr_data)]
            m.d.sync += [
                pe.cb_we.eq(write & is_op[Op.WRITE_CODEBOOK]),
                pe.ptr_we.eq(mine & is_op[Op.WRITE_PTR]),
                pe.mat_we.eq(mine & is_op[Op.WRITE_MATRIX]),
                pe.act_we.eq(mine & is_op[Op.WRITE_ACT]),
            ]
        for i, fields in enumerate(table_write):
            for f, flag in fields.items():
                with m.If(write & flag):
                    m.d.sync += field_regs[f][i].eq(cmd.data)
            with m.If(write & fields[LayerField.N_GROUPS]):
                m.d.sync += [written[i].eq(1), t_zero[i].eq(data_zero), t_one[i].eq(data_one)]

        # A response carries `resp_data`, or the run's cycle count in DONE
        # (`cycles` stops counting when the last layer ends), or 0 when the
        # command was rejected.
        resp_error = Signal()
        m.d.comb += [
            self.resp.payload.op.eq(resp_op),
            self.resp.payload.data.eq(
                Mux(resp_error, 0, Mux(in_state[_State.DONE], cycles, resp_data))),
            self.resp.payload.error.eq(resp_error),
            self.resp.valid.eq(in_state[_State.RESP] | in_state[_State.DONE]),
        ]

        # The sticky error status: the first rejected command's error and
        # opcode since the last CLEAR_STATUS, and how many were rejected.
        status_error = Signal(Error, name="status_error")
        status_op = Signal(4, name="status_op")
        status_count = Signal(STATUS_COUNT_BITS, name="status_count")
        with m.If(rejected):
            with m.If(status_error == Error.NONE):
                m.d.sync += [status_error.eq(error), status_op.eq(cmd.op)]
            with m.If(~status_count.all()):
                m.d.sync += status_count.eq(status_count + 1)
        with m.If(write & is_op[Op.CLEAR_STATUS]):
            m.d.sync += [status_error.eq(Error.NONE), status_op.eq(0), status_count.eq(0)]

        # Reads answer from registers; their own checks are all field checks.
        # The data's source follows from the command register alone (which
        # still holds a READ_ACT while the array reads its group), so the
        # registered opcode flags select it and only the load enable depends
        # on the state.
        group_vals = Array(pe.g_val for pe in pes)
        read_done = in_state[_State.READ] & (wait == pes[0].group_latency)
        with m.If((write & (is_op[Op.READ_STATUS] | is_op[Op.READ_COUNTER])) | read_done):
            with m.If(is_op[Op.READ_STATUS]):
                m.d.sync += resp_data.eq(Cat(status_error, status_op, status_count))
            with m.Elif(is_op[Op.READ_COUNTER]):
                m.d.sync += resp_data.eq(counter)
            with m.Else():
                # A group read of the output bank, requantized like any other.
                m.d.sync += resp_data.eq(group_vals[rd_pe].as_unsigned())
        with m.If(accept):
            m.d.sync += [resp_op.eq(cmd.op), resp_error.eq(rejected)]
        with m.If(write & is_op[Op.WRITE_ACT]):
            m.d.sync += inputs_ok.eq(1)
        with m.If(write & is_op[Op.READ_ACT]):
            m.d.sync += [rd_pe.eq(cmd.pe), host_addr.eq(cmd.addr), wait.eq(0)]

        # A RUN: the PEs' busy and stall counters clear in START, the cycle
        # after the RUN executes (they count nothing before COMPUTE): the
        # clear leaves a register, not the RUN checks.
        run_go = go & is_op[Op.RUN]
        cnt_clr_q = Signal(name="cnt_clr_q")
        m.d.sync += cnt_clr_q.eq(run_go)
        for pe in pes:
            m.d.comb += pe.cnt_clr.eq(cnt_clr_q)
        with m.If(run_go):
            m.d.sync += [
                cycles.eq(0),
                layer.eq(0),
                rd_relu.eq(0),
                last_layer.eq(cmd.data[:run_bits] - 1),
                out_bank.eq(cmd.data[0]),
            ]
            # Layer 1 (if any) accumulates into bank 0, the inputs' bank.
            with m.If(run_chain):
                m.d.sync += inputs_ok.eq(0)
        with m.Elif(in_state[_State.START] | computing):
            m.d.sync += cycles.eq(cycles + 1)

        with m.If(in_state[_State.IDLE] & accept & leaves_idle):
            with m.If(rejected):
                m.d.sync += goto(_State.RESP)
            with m.Elif(is_op[Op.READ_ACT]):
                m.d.sync += goto(_State.READ)
            with m.Elif(is_op[Op.RUN]):
                m.d.sync += goto(_State.START)
            with m.Else():
                m.d.sync += goto(_State.RESP)
        with m.If(in_state[_State.READ]):
            m.d.sync += wait.eq(wait + 1)
            with m.If(read_done):
                m.d.sync += goto(_State.RESP)
        with m.If((in_state[_State.RESP] | in_state[_State.DONE]) & self.resp.ready):
            m.d.sync += goto(_State.IDLE)
        with m.If(in_state[_State.START]):
            m.d.sync += [
                g_read.eq(0), g_ptr.eq(t_ptr[layer]), g_all.eq(t_zero[layer]),
                g_last.eq(t_one[layer]), ahead.eq(0), all_taken.eq(t_zero[layer]),
                untaken.eq(n_groups), unread.eq(n_groups),
                taken.eq(0), queued.eq(0), head_valid.eq(0), cur_valid.eq(0), *goto(_State.COMPUTE),
            ]
        with m.If(computing & layer_done):
            m.d.sync += rd_relu.eq(t_relu[layer])
            with m.If(is_last):
                m.d.sync += goto(_State.DONE)
            with m.Else():
                m.d.sync += [layer.eq(layer + 1), *goto(_State.START)]
        return m


def _or(values):
    values = list(values)
    result = values[0]
    for value in values[1:]:
        result = result | value
    return result
