"""The EIE PE array: PEs, the LNZD tree and the central control unit (CCU)."""

import enum

from amaranth.hdl import Array, Cat, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_model.config import EieTiming

from .blocks import Lnzd, _bits, check_config
from .pe import COUNTER_BITS, HOST_DATA_BITS, ProcessingElement, pe_addr_bits
from .program import LAYER_STRIDE, Counter, EieProgram, LayerField, Op

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
    """Payload of a response: the command's ``op`` and 64 bits of ``data``."""
    return data.StructLayout({"op": 4, "data": HOST_DATA_BITS})


class _State(enum.Enum):
    CLEAR = 0
    IDLE = 1
    READ = 2
    RESP = 3
    START = 4
    COMPUTE = 5
    REQUANT = 6
    FLUSH = 7
    DONE = 8


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

    Ports
    -----
    cmd : In(stream)
        Host commands (:func:`cmd_layout`, opcodes :class:`~hw.eie.program.Op`).
    resp : Out(stream)
        One response per read or run (:func:`resp_layout`).
    """

    #: Engine name in the design side-car (:data:`hw.generate.ENGINES`).
    ENGINE = "eie"

    def __init__(self, *, config, program=None):
        self._config = check_config(config)
        if program is not None:
            if not isinstance(program, EieProgram):
                raise TypeError(f"program must be an EieProgram or None, not {program!r}")
            if program.config != config:
                raise ValueError(
                    f"program was laid out for {program.config!r}, not for {config!r}")
        self._program = program
        images = program.images() if program is not None else [None] * config.n_pe
        self._pes = [ProcessingElement(config=config, image=image) for image in images]
        super().__init__({
            "cmd": In(stream.Signature(cmd_layout(config))),
            "resp": Out(stream.Signature(resp_layout(config))),
        })

    @property
    def config(self):
        """The :class:`~sw_model.config.EieConfig` the array is built from."""
        return self._config

    #: Cycles from the CCU's group read to the group's values (activation memory port).
    ACT_READ_LATENCY = 1

    @property
    def timing(self):
        """The latencies the cycle model needs (:class:`~sw_model.config.EieTiming`).

        Summed from the blocks that create them; written to the design's
        side-car, from which the cycle model, the testbenches and the reports
        read them.
        """
        pe = self._pes[0]
        return EieTiming(
            # START issues the first group read; its values arrive a read later.
            lnzd_first=1 + self.ACT_READ_LATENCY,
            ptr_latency=pe.ptr_latency,
            ptr_drain=pe.ptr_drain,
            pe_drain=pe.drain_latency,
            # The LNZD's done flag is a register.
            lnzd_done=1,
            # The layer's START cycle, and the FLUSH cycles in which the last
            # accumulator read of the pass is requantized and written.
            requant_extra=1 + pe.readout_latency,
        )

    @property
    def clear_cycles(self):
        """Cycles after reset spent clearing the accumulators (``cmd.ready`` low)."""
        return self._config.act_depth

    def elaborate(self, platform):
        """Central control unit: host I/O, layer sequencing, LNZD scan, requantization.

        Compute mode, per layer (cycle 0 = START)::

            START    read group 0 of the source activations (one address, all PEs)
            COMPUTE  each cycle: the LNZD offers the leading nonzero of the active
                     group; it is broadcast when every PE is ready; the active
                     group's last slot loads the next group (prefetched one cycle
                     ahead); an all-zero group takes one slot
                     ends when the LNZD is done and every PE is idle
            REQUANT  one cycle per local output row: accumulator read, then (next
                     cycle) requantize into the destination bank and clear
            FLUSH    the last requantized write lands
        """
        cfg = self._config
        n_pe = cfg.n_pe
        prog = self._program
        m = Module()

        pes = self._pes
        for k, pe in enumerate(pes):
            m.submodules[f"pe_{k}"] = pe
        m.submodules.lnzd = lnzd = Lnzd(n=n_pe, value_shape=signed(cfg.act_bits))

        # --- Layer table (registers, optionally baked in).
        def table_init(field, i):
            if prog is None or i >= prog.n_layers:
                return 0
            return prog.table[i][field]

        dim = range(cfg.max_dim + 1)
        t_n_in = Array(Signal(dim, name=f"n_in_{i}", init=table_init(LayerField.N_IN, i))
                       for i in range(cfg.max_layers))
        t_n_out = Array(Signal(dim, name=f"n_out_{i}", init=table_init(LayerField.N_OUT, i))
                        for i in range(cfg.max_layers))
        t_ptr = Array(Signal(range(cfg.ptr_depth + 1), name=f"ptr_base_{i}",
                             init=table_init(LayerField.PTR_BASE, i))
                      for i in range(cfg.max_layers))
        t_slot = Array(Signal(_bits(cfg.max_layers), name=f"cb_slot_{i}",
                              init=table_init(LayerField.CB_SLOT, i))
                       for i in range(cfg.max_layers))
        t_relu = Array(Signal(name=f"relu_{i}", init=table_init(LayerField.RELU, i))
                       for i in range(cfg.max_layers))

        layer = Signal(_bits(cfg.max_layers))
        last_layer = Signal(_bits(cfg.max_layers))
        out_bank = Signal()
        n_in = t_n_in[layer]
        n_out = t_n_out[layer]

        state = Signal(_State, init=_State.CLEAR)
        cycles = Signal(COUNTER_BITS)
        clr_row = Signal(_bits(cfg.act_depth))
        resp_op = Signal(4)
        resp_data = Signal(HOST_DATA_BITS)
        rd_pe = Signal(_bits(n_pe))

        # --- LNZD scan state.
        active_mask = Signal(n_pe)
        active_vals = Signal(data.ArrayLayout(signed(cfg.act_bits), n_pe))
        active_base = Signal(dim)
        next_valid = Signal()
        next_addr = Signal(range(cfg.act_depth + 1))
        next_base = Signal(dim)
        lnzd_done = Signal()
        rq_row = Signal(range(cfg.act_depth + 1))
        rq_base = Signal(range(cfg.max_dim + n_pe + 1))

        all_ready = Signal()
        all_idle = Signal()
        m.d.comb += [
            all_ready.eq(_all([pe.ready for pe in pes])),
            all_idle.eq(~_any([pe.busy for pe in pes])),
            lnzd.mask.eq(active_mask),
            lnzd.values.eq(active_vals),
        ]
        computing = state == _State.COMPUTE
        cand = computing & lnzd.valid
        bcast = cand & all_ready
        onehot = Signal(n_pe)
        m.d.comb += onehot.eq(1 << lnzd.index)
        rest = active_mask & ~onehot
        consume = computing & ((active_mask == 0) | (bcast & (rest == 0)))
        last_group = next_base + n_pe >= n_in
        grp_en = Signal()
        grp_addr = Signal(_bits(cfg.act_depth))

        col = Signal(dim)
        half = Signal(range(cfg.ptr_depth + cfg.max_dim + 2))
        m.d.comb += [
            col.eq(active_base + lnzd.index),
            half.eq((t_ptr[layer] >> 1) + (col >> 1)),
        ]

        group_vals = [pe.act_data for pe in pes]
        lanes = Signal(range(cfg.max_dim + 1))
        m.d.comb += lanes.eq(n_in - next_base)
        new_mask = Signal(n_pe)
        for k in range(n_pe):
            m.d.comb += new_mask[k].eq((group_vals[k] != 0) & (k < lanes))

        for pe in pes:
            m.d.comb += [
                pe.layer.eq(layer),
                pe.cb_slot.eq(t_slot[layer]),
                pe.relu.eq(t_relu[layer]),
                pe.src_bank.eq(layer[0]),
                pe.start.eq(state == _State.START),
                pe.bcast.valid.eq(bcast),
                pe.bcast.payload.act.eq(lnzd.value),
                pe.bcast.payload.odd.eq(col[0]),
                pe.bcast.payload.even_addr.eq(half + col[0]),
                pe.bcast.payload.odd_addr.eq(half),
                pe.grp_en.eq(grp_en),
                pe.grp_addr.eq(grp_addr),
                pe.cand.eq(cand),
                pe.clr_row.eq(clr_row),
                pe.clr_en.eq(state == _State.CLEAR),
                pe.rq_en.eq(state == _State.REQUANT),
                pe.rq_row.eq(rq_row),
            ]

        # --- Host commands.
        cmd = self.cmd.payload
        accept = self.cmd.valid & self.cmd.ready
        m.d.comb += self.cmd.ready.eq(state == _State.IDLE)
        for k, pe in enumerate(pes):
            mine = accept & (cmd.pe == k)
            m.d.comb += [
                pe.wr_addr.eq(cmd.addr),
                pe.wr_data.eq(cmd.data),
                pe.cb_we.eq(accept & (cmd.op == Op.WRITE_CODEBOOK)),
                pe.ptr_we.eq(mine & (cmd.op == Op.WRITE_PTR)),
                pe.mat_we.eq(mine & (cmd.op == Op.WRITE_MATRIX)),
                pe.base_we.eq(mine & (cmd.op == Op.WRITE_MAT_BASE)),
                pe.act_we.eq(mine & (cmd.op == Op.WRITE_ACT)),
                pe.hr_en.eq(mine & (cmd.op == Op.READ_ACT)),
                pe.hr_bank.eq(out_bank),
                pe.hr_addr.eq(cmd.addr),
            ]
        m.d.comb += [
            self.resp.payload.op.eq(resp_op),
            self.resp.payload.data.eq(resp_data),
            self.resp.valid.eq((state == _State.RESP) | (state == _State.DONE)),
        ]
        counters = {
            Counter.BUSY: Array(pe.busy_count for pe in pes),
            Counter.STALL: Array(pe.stall_count for pe in pes),
        }
        field_regs = {
            LayerField.N_IN: t_n_in, LayerField.N_OUT: t_n_out, LayerField.PTR_BASE: t_ptr,
            LayerField.CB_SLOT: t_slot, LayerField.RELU: t_relu,
        }
        cnt_clr = Signal()
        for pe in pes:
            m.d.comb += pe.cnt_clr.eq(cnt_clr)

        in_run = (state == _State.START) | computing | (state == _State.REQUANT) \
            | (state == _State.FLUSH)
        with m.If(in_run):
            m.d.sync += cycles.eq(cycles + 1)

        act_datas = Array(pe.act_data for pe in pes)
        stride_bits = _bits(LAYER_STRIDE)
        with m.Switch(state):
            with m.Case(_State.CLEAR):
                # Memories keep their contents across a reset: clear the
                # accumulators so a run interrupted by reset leaves no partial sums.
                m.d.sync += clr_row.eq(clr_row + 1)
                with m.If(clr_row == cfg.act_depth - 1):
                    m.d.sync += state.eq(_State.IDLE)
            with m.Case(_State.IDLE):
                with m.If(accept):
                    m.d.sync += resp_op.eq(cmd.op)
                    with m.Switch(cmd.op):
                        with m.Case(Op.WRITE_LAYER):
                            entry = cmd.addr[stride_bits:]
                            field = cmd.addr[:stride_bits]
                            for f, regs in field_regs.items():
                                with m.If(field == f):
                                    m.d.sync += regs[entry].eq(cmd.data)
                        with m.Case(Op.READ_ACT):
                            m.d.sync += [rd_pe.eq(cmd.pe), state.eq(_State.READ)]
                        with m.Case(Op.READ_COUNTER):
                            with m.If(cmd.addr == Counter.CYCLES):
                                m.d.sync += resp_data.eq(cycles)
                            with m.Elif(cmd.addr == Counter.BUSY):
                                m.d.sync += resp_data.eq(counters[Counter.BUSY][cmd.pe])
                            with m.Else():
                                m.d.sync += resp_data.eq(counters[Counter.STALL][cmd.pe])
                            m.d.sync += state.eq(_State.RESP)
                        with m.Case(Op.RUN):
                            m.d.comb += cnt_clr.eq(1)
                            m.d.sync += [
                                cycles.eq(0),
                                layer.eq(0),
                                last_layer.eq(cmd.data - 1),
                                out_bank.eq(cmd.data[0]),
                            ]
                            with m.If((cmd.data == 0) | (cmd.data > cfg.max_layers)):
                                m.d.sync += [state.eq(_State.DONE), out_bank.eq(0),
                                             resp_data.eq(0)]
                            with m.Else():
                                m.d.sync += state.eq(_State.START)
            with m.Case(_State.READ):
                # The activation memory's data arrives one cycle after the read.
                m.d.sync += [resp_data.eq(act_datas[rd_pe].as_unsigned()),
                             state.eq(_State.RESP)]
            with m.Case(_State.RESP):
                with m.If(self.resp.ready):
                    m.d.sync += state.eq(_State.IDLE)
            with m.Case(_State.START):
                m.d.comb += [grp_en.eq(1), grp_addr.eq(0)]
                m.d.sync += [
                    next_valid.eq(1), next_addr.eq(1), next_base.eq(0),
                    active_mask.eq(0), lnzd_done.eq(0), state.eq(_State.COMPUTE),
                ]
            with m.Case(_State.COMPUTE):
                with m.If(bcast):
                    m.d.sync += active_mask.eq(rest)
                with m.If(consume):
                    with m.If(next_valid):
                        m.d.sync += [
                            active_mask.eq(new_mask),
                            active_vals.eq(Cat(*group_vals)),
                            active_base.eq(next_base),
                        ]
                        with m.If(last_group):
                            m.d.sync += next_valid.eq(0)
                        with m.Else():
                            m.d.comb += [grp_en.eq(1), grp_addr.eq(next_addr)]
                            m.d.sync += [next_addr.eq(next_addr + 1),
                                         next_base.eq(next_base + n_pe)]
                    with m.Else():
                        m.d.sync += lnzd_done.eq(1)
                with m.If(lnzd_done & all_idle):
                    m.d.sync += [state.eq(_State.REQUANT), rq_row.eq(0), rq_base.eq(0)]
            with m.Case(_State.REQUANT):
                m.d.sync += [rq_row.eq(rq_row + 1), rq_base.eq(rq_base + n_pe)]
                with m.If(rq_base + n_pe >= n_out):
                    m.d.sync += state.eq(_State.FLUSH)
            with m.Case(_State.FLUSH):
                with m.If(layer == last_layer):
                    m.d.sync += [state.eq(_State.DONE), resp_data.eq(cycles + 1),
                                 resp_op.eq(Op.RUN)]
                with m.Else():
                    m.d.sync += [layer.eq(layer + 1), state.eq(_State.START)]
            with m.Case(_State.DONE):
                with m.If(self.resp.ready):
                    m.d.sync += state.eq(_State.IDLE)
        return m


def _all(signals):
    result = signals[0]
    for s in signals[1:]:
        result = result & s
    return result


def _any(signals):
    result = signals[0]
    for s in signals[1:]:
        result = result | s
    return result

