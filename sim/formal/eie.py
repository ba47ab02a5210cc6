"""Formal harnesses of a tiny EIE array (:class:`hw.eie.array.EieArray`).

The host drives ``cmd`` freely (within the stream rules) and takes responses
whenever it likes. Three property sets:

* :func:`eie_host`: the host protocol of ``docs/eie.md``. A reference of the
  documented checks, written here from the table in the docs (with its own
  record of which table entries and inputs were written), says which error a
  command deserves; the array must write exactly the memories an accepted
  write names, change its layer table only on an accepted WRITE_LAYER, and
  change its sticky error status exactly when it rejects a command, recording
  the reference's error. Responses carry the error flag of their command.
* :func:`eie_flow`: the credit scheme. A PE's activation queue never sees a
  push it cannot take, a broadcast only happens when every PE has a credit,
  and per PE ``credits + columns in flight + release == queue_depth`` while
  computing (nothing in flight otherwise).
* :func:`eie_resp_stream`: ``resp`` keeps the stream rules.
"""

import numpy as np
from amaranth.hdl import Assert, Assume, Cat, Const, Cover, Mux, Signal, Value

from hw.eie.array import FANOUT, EieArray, _State, cmd_layout
from hw.eie.program import LAYER_STRIDE, EieProgram, Error, LayerField, Op
from sw_model.config import EieConfig
from sw_model.eie_format import encode

from .harness import Harness, stream_rules

__all__ = ["CONFIG", "FLOW_CONFIG", "FLOW5_CONFIG", "HOST_CONFIG", "eie_host", "eie_flow",
           "eie_resp_stream", "flow_program", "reference_error", "FLOW_COVERS"]

#: The array whose ``resp`` stream is checked: as small as the configuration
#: allows, with two PEs and two table entries (a run of two layers exists).
CONFIG = EieConfig(n_pe=2, queue_depth=2, entries_per_word=1, act_depth=4, ptr_depth=8,
                   matrix_depth=8, max_layers=2, acc_bits=32)
#: The array the credits are checked on: two PEs, a queue of two, and PE
#: columns of up to 8 entries, long enough for a queue to fill.
FLOW_CONFIG = EieConfig(n_pe=2, queue_depth=2, entries_per_word=1, act_depth=8, ptr_depth=8,
                        matrix_depth=32, max_layers=1, acc_bits=32)
#: FLOW_CONFIG with five PEs: two fan-out registers and two group credit flags.
FLOW5_CONFIG = EieConfig(n_pe=5, queue_depth=2, entries_per_word=1, act_depth=8, ptr_depth=8,
                         matrix_depth=32, max_layers=1, acc_bits=32)
#: The array the host protocol is checked on: three PEs, so that the ``pe``
#: field (2 bits) can name a PE that does not exist (error PE).
HOST_CONFIG = EieConfig(n_pe=3, queue_depth=2, entries_per_word=1, act_depth=4, ptr_depth=8,
                        matrix_depth=8, max_layers=2, acc_bits=32)

#: Commands answered with one response (docs/eie.md).
ANSWERED = (Op.READ_ACT, Op.RUN, Op.READ_COUNTER, Op.READ_STATUS)


def _array(h, config, program=None):
    """The array with a free host on ``cmd`` (keeping the stream rules) and ``resp.ready``.

    Asserts that the array is in exactly one state (its state flags are
    one-hot): a fact of every reachable state, which the inductions need.
    """
    dut = EieArray(config=config, program=program)
    frag = h.add("array", dut)
    h.drive(dut.cmd.valid, "cmd_valid")
    h.drive(dut.cmd.payload, "cmd_payload")
    h.drive(dut.resp.ready, "resp_ready")
    stream_rules(h, dut.cmd, name="cmd", role=Assume)
    flags = [h.internal(frag, f"in_{s.name.lower()}") for s in _State]
    h.m.d.comb += Assert(sum(flags) == 1, "the state flags are not one-hot")
    return dut, frag


def _decoded_command(h, frag, cfg):
    """Assert that the command stages' decoded flags are those of their commands.

    Stage A's selected field error and stage B's error, opcode, lane,
    table-entry and RUN flags are registered beside the command they
    describe; the reference decodes the command itself. True from the reset
    on (the flags' reset values are those of the all-zero NOP), so it holds
    in every reachable state, and the host proof's induction needs it.
    """
    m = h.m
    every = Signal(cfg.max_layers, init=(1 << cfg.max_layers) - 1, name="ref_all_written")
    a_cmd = cmd_layout(cfg)(h.internal(frag, "cmd_a"))
    cmd = cmd_layout(cfg)(h.internal(frag, "cmd_q"))
    present = Const(1, 1)
    a_expected = reference_error(m, cfg, a_cmd, written=every, inputs=present)
    expected = reference_error(m, cfg, cmd, written=every, inputs=present)
    run_bits = cfg.max_layers.bit_length()
    runs = cmd.data[:run_bits]
    entry, field = cmd.addr // LAYER_STRIDE, cmd.addr % LAYER_STRIDE
    facts = {
        "cmd_a_error": a_expected,
        "cmd_q_error": expected,
        "cmd_q_ok": expected == Error.NONE,
        "cmd_q_leaves_idle": Cat(cmd.op == op for op in ANSWERED).any(),
        "cmd_q_lane": Cat(cmd.pe == k for k in range(cfg.n_pe)),
        "cmd_q_run_uses": Cat(runs > i for i in range(cfg.max_layers)),
        "cmd_q_run_chain": runs >= 2,
        "cmd_q_data_zero": cmd.data == 0,
        "cmd_q_data_one": cmd.data == 1,
    }
    facts.update({f"cmd_q_is_{op.name.lower()}": cmd.op == op for op in Op})
    facts.update({f"cmd_q_table_{i}_{f.name.lower()}":
                  (cmd.op == Op.WRITE_LAYER) & (entry == i) & (field == f)
                  for i in range(cfg.max_layers) for f in LayerField})
    for name, value in facts.items():
        m.d.comb += Assert(h.internal(frag, name) == value, f"{name} differs from its command")
    for i in range(cfg.max_layers):
        groups = h.internal(frag, f"n_groups_{i}")
        m.d.comb += [Assert(h.internal(frag, f"groups_zero_{i}") == (groups == 0),
                            f"groups_zero_{i} differs from n_groups_{i}"),
                     Assert(h.internal(frag, f"groups_one_{i}") == (groups == 1),
                            f"groups_one_{i} differs from n_groups_{i}")]


def reference_error(m, cfg, cmd, *, written, inputs):
    """The :class:`Error` that ``docs/eie.md``'s checks give command ``cmd``.

    ``written`` (a bit per table entry) and ``inputs`` are the state the RUN
    checks read. Written from the docs' table, not from the array's code.
    """
    err = Signal(Error, name="expected_error")
    op, pe, addr, value = cmd.op, cmd.pe, cmd.addr, cmd.data
    entry, field = addr // LAYER_STRIDE, addr % LAYER_STRIDE
    bad_pe = pe >= cfg.n_pe

    def first(*rules):
        # (condition that rejects, error), first match wins.
        for k, (bad, error) in enumerate(rules):
            with (m.If if k == 0 else m.Elif)(bad):
                m.d.comb += err.eq(error)

    with m.Switch(op):
        with m.Case(Op.NOP, Op.READ_STATUS, Op.CLEAR_STATUS):
            pass
        with m.Case(Op.WRITE_CODEBOOK):
            first((addr >= cfg.max_layers * cfg.codebook_size, Error.ADDRESS),
                  (value >= 1 << cfg.w_bits, Error.DATA),
                  ((addr % cfg.codebook_size == 0) & (value != 0), Error.DATA))
        with m.Case(Op.WRITE_PTR):
            start = value % (1 << cfg.ptr_bits)
            end = (value >> cfg.ptr_bits) % (1 << cfg.ptr_bits)
            first((bad_pe, Error.PE),
                  (addr >= cfg.ptr_depth, Error.ADDRESS),
                  ((value >= 1 << (2 * cfg.ptr_bits)) | (start > end)
                   | (end > cfg.max_entries), Error.DATA))
        with m.Case(Op.WRITE_MATRIX):
            first((bad_pe, Error.PE),
                  (addr >= cfg.matrix_depth, Error.ADDRESS),
                  (value >= 1 << cfg.word_bits, Error.DATA))
        with m.Case(Op.WRITE_LAYER):
            limits = {
                LayerField.N_GROUPS: value > cfg.act_depth,
                LayerField.LAST_LANES: (value == 0) | (value > cfg.n_pe),
                LayerField.PTR_BASE: value > cfg.ptr_depth,
                LayerField.CB_SLOT: value >= cfg.max_layers,
                LayerField.RELU: value > 1,
                LayerField.BIAS: value > 1,
            }
            bad_value = Signal(name="expected_bad_value")
            with m.Switch(field):
                for f, bad in limits.items():
                    with m.Case(f):
                        m.d.comb += bad_value.eq(bad)
            first((entry >= cfg.max_layers, Error.LAYER),
                  (field > max(LayerField), Error.ADDRESS),
                  (bad_value, Error.DATA))
        with m.Case(Op.WRITE_ACT):
            first((bad_pe, Error.PE),
                  (addr >= cfg.act_depth, Error.ADDRESS),
                  (value >= 1 << cfg.act_bits, Error.DATA))
        with m.Case(Op.READ_ACT):
            first((bad_pe, Error.PE),
                  (addr >= cfg.act_depth, Error.ADDRESS))
        with m.Case(Op.RUN):
            unwritten = Cat(~written[i] & (value > i) for i in range(cfg.max_layers)).any()
            first(((value == 0) | (value > cfg.max_layers), Error.RUN_COUNT),
                  (unwritten, Error.EMPTY_LAYER),
                  (~inputs, Error.NO_INPUTS))
        with m.Case(Op.READ_COUNTER):
            first((addr > 2, Error.ADDRESS),
                  ((addr != 0) & bad_pe, Error.PE))
        with m.Default():
            m.d.comb += err.eq(Error.OPCODE)
    return err


def eie_host(config=HOST_CONFIG):
    """Host protocol: checks as documented, rejected commands change only the status.

    Covers: every error code is given (and recorded in the status), every
    memory is written, a rejected and an accepted command are answered.
    """
    h = Harness()
    m = h.m
    dut, frag = _array(h, config)
    cfg = config
    _decoded_command(h, frag, cfg)

    def internal(name, path=()):
        return h.internal(frag, name, path)

    state = internal("state")
    cmd = cmd_layout(cfg)(internal("cmd_q"))
    cmd_valid = internal("cmd_q_valid")
    status = [internal("status_error"), internal("status_op"), internal("status_count")]
    status_error, status_op, status_count = status
    table = [internal(f"{name}_{i}") for name in ("n_groups", "last_lanes", "ptr_base",
                                                  "cb_slot", "relu", "bias")
             for i in range(cfg.max_layers)]
    entry_written = internal("entry_written")
    inputs_ok = internal("inputs_ok")
    rst = h.reset

    # The reference's record of the RUN checks' state.
    written = Signal(cfg.max_layers, name="ref_written")
    inputs = Signal(name="ref_inputs")
    expected = reference_error(m, cfg, cmd, written=written, inputs=inputs)
    # A RUN executes in its second cycle in IDLE (its state checks take one).
    run_checked = internal("cmd_q_run_checked")
    executes = Signal(name="executes")
    m.d.comb += executes.eq(cmd_valid & (state == _State.IDLE)
                            & ((cmd.op != Op.RUN) | run_checked))
    ok = executes & (expected == Error.NONE)
    rejected = executes & (expected != Error.NONE)
    with m.If(ok & (cmd.op == Op.WRITE_LAYER) & (cmd.addr % LAYER_STRIDE == LayerField.N_GROUPS)):
        m.d.sync += written.bit_select(cmd.addr // LAYER_STRIDE, 1).eq(1)
    with m.If(ok & (cmd.op == Op.WRITE_ACT)):
        m.d.sync += inputs.eq(1)
    with m.If(ok & (cmd.op == Op.RUN) & (cmd.data >= 2)):
        m.d.sync += inputs.eq(0)

    m.d.comb += [
        Assert(~cmd_valid | (state == _State.IDLE), "a registered command waits outside IDLE"),
        Assert(entry_written == written, "table entries written differ from the reference"),
        Assert(inputs_ok == inputs, "inputs present differs from the reference"),
    ]

    # Memory writes: exactly those of the accepted write commands, WRITE_LATENCY
    # cycles after they execute (a reset in between drops them, as it does
    # the array's registers).
    for k in range(cfg.n_pe):
        pe = (f"pe_{k}",)
        mine = ok & (cmd.pe == k)
        for port, op, wanted in (("ptr_we", Op.WRITE_PTR, mine), ("mat_we", Op.WRITE_MATRIX, mine),
                                 ("act_we", Op.WRITE_ACT, mine), ("cb_we", Op.WRITE_CODEBOOK, ok)):
            wanted = wanted & (cmd.op == op)
            for lag in range(EieArray.WRITE_LATENCY):
                wanted = h.past(wanted, f"pe_{k}_{port}_wanted_{lag}")
            we = internal(port, pe)
            m.d.comb += Assert(we == wanted, f"PE {k} {port} differs from the accepted writes")
            m.d.comb += Cover(we)

    # The layer table changes only on an accepted WRITE_LAYER (or a reset).
    was_rst = h.past(rst, "was_rst")
    was_layer_write = h.past(ok & (cmd.op == Op.WRITE_LAYER), "was_layer_write")
    first_cycle = Signal(init=1, name="first_cycle")
    m.d.sync += first_cycle.eq(0)
    steady = ~first_cycle & ~was_rst
    for reg in table:
        held = h.past(reg, f"{reg.name}_was")
        with m.If(steady & ~was_layer_write):
            m.d.comb += Assert(reg == held, f"{reg.name} changed without an accepted WRITE_LAYER")

    # The sticky status: changes exactly when a command is rejected (or cleared).
    was = [h.past(s, f"{s.name}_was") for s in status]
    was_rejected = h.past(rejected, "was_rejected")
    was_expected = h.past(expected, "was_expected")
    was_op = h.past(cmd.op, "was_op")
    was_clear = h.past(executes & (cmd.op == Op.CLEAR_STATUS), "was_clear")
    with m.If(steady):
        with m.If(was_rejected):
            m.d.comb += Assert(status_count == Mux(was[2].all(), was[2], was[2] + 1),
                               "rejection not counted")
            with m.If(was[0] == Error.NONE):
                m.d.comb += Assert((status_error == was_expected) & (status_op == was_op),
                                   "status does not record the first rejection")
            with m.Else():
                m.d.comb += Assert((status_error == was[0]) & (status_op == was[1]),
                                   "status lost the first rejection")
        with m.Elif(was_clear):
            m.d.comb += Assert((status_error == 0) & (status_op == 0) & (status_count == 0),
                               "CLEAR_STATUS did not clear the status")
        with m.Else():
            m.d.comb += Assert(Cat(status) == Cat(was), "status changed without a rejection")

    # Responses carry their command's opcode and error flag; a rejected one has data 0.
    answer_op = Signal(4, name="answer_op")
    answer_error = Signal(name="answer_error")
    answered = Cat(cmd.op == op for op in ANSWERED).any()
    with m.If(executes & answered):
        m.d.sync += [answer_op.eq(cmd.op), answer_error.eq(rejected)]
    # Outside IDLE the array works on (or answers) the last answered command;
    # the response registers hold its opcode and flag all the while.
    resp = dut.resp.payload
    m.d.comb += Assert(~dut.resp.valid | (state != _State.IDLE), "a response in IDLE")
    with m.If(state != _State.IDLE):
        m.d.comb += [Assert(resp.op == answer_op, "response to another command"),
                     Assert(resp.error == answer_error, "response error flag")]
        running = (state == _State.START) | (state == _State.COMPUTE) | (state == _State.DONE)
        m.d.comb += [
            Assert(~running | (answer_op == Op.RUN), "a run without a RUN"),
            Assert((state != _State.READ) | (answer_op == Op.READ_ACT),
                   "an activation read without a READ_ACT"),
        ]
        with m.If(resp.error):
            m.d.comb += Assert((state == _State.RESP) & (resp.data == 0),
                               "a rejected command was executed or answered with data")
    with m.If(steady & was_rejected):
        m.d.comb += Assert(state == Mux(Cat(was_op == op for op in ANSWERED).any(),
                                         _State.RESP, _State.IDLE),
                           "a rejected command changed the state")

    for error in Error:
        m.d.comb += Cover(executes & (expected == error))
        if error != Error.NONE:
            m.d.comb += Cover(status_error == error)
    m.d.comb += [Cover(dut.resp.valid & dut.resp.ready & resp.error),
                 Cover(dut.resp.valid & dut.resp.ready & ~resp.error)]
    return h


def _in_flight(h, frag, k):
    """PE ``k``'s columns past the credit counter: ``(terms, queue)``.

    The terms, one per pipeline register, in the order a column passes them:
    the broadcast register, the fan-out register, the pointer read, the
    pointer stage (P), the queue's level, the release register (the credits
    it returns next cycle). ``queue`` is the PE's :class:`ActQueue` ports.
    """
    pe = (f"pe_{k}",)
    terms = [
        h.internal(frag, "bc_valid"),
        h.internal(frag, f"fo_valid_{k // FANOUT}"),
        h.internal(frag, "read_valid", (*pe, "ptr_read")),
        h.internal(frag, "item_valid", (*pe, "ptr_read")),
        h.internal(frag, "level", (*pe, "act_queue")),
        h.internal(frag, "release", pe),
    ]
    queue = {
        "push_valid": h.internal(frag, "w__valid", pe),
        "push_ready": h.internal(frag, "w__ready", (*pe, "act_queue")),
    }
    return terms, queue


def flow_program(config=FLOW_CONFIG):
    """The program and host commands that steer :func:`eie_flow`'s covers.

    One layer of ``n_pe * act_depth`` rows and 3 columns; columns 0 and 2
    are dense (``act_depth`` entries per PE), column 1 is empty for PE 1.
    With inputs 1.0 the long columns keep a PE issuing while the next two
    columns wait in its queue (it fills), and PE 1 drops column 1. Returns
    ``(EieProgram, [(op, pe, addr, data), ...])``.
    """
    rows = config.n_pe * config.act_depth
    indices = np.ones((rows, 3), dtype=np.int64)
    indices[1::config.n_pe, 1] = 0
    codebook = np.zeros(config.codebook_size, dtype=np.int64)
    codebook[1] = 1 << config.w_frac_bits
    program = EieProgram([(encode(indices, codebook, config=config), False)], config=config)
    one = 1 << config.act_frac_bits
    return program, [*program.input_commands([one] * 3), (Op.RUN, 0, 0, 1)]


def _scripted_host(h, dut, config, commands):
    """Assume that the host sends exactly ``commands``, then nothing, and never resets."""
    m = h.m
    layout = cmd_layout(config)
    sent = Signal(range(len(commands) + 1), name="script_sent")
    with m.If(dut.cmd.valid & dut.cmd.ready):
        m.d.sync += sent.eq(sent + 1)
    payload = Value.cast(dut.cmd.payload)
    for k, (op, pe, addr, value) in enumerate(commands):
        word = layout.const({"op": op, "pe": pe, "addr": addr, "data": value}).as_value()
        with m.If(sent == k):
            m.d.comb += Assume(dut.cmd.valid & (payload == word))
    with m.If(sent == len(commands)):
        m.d.comb += Assume(~dut.cmd.valid)
    m.d.comb += Assume(~h.reset)


#: The covers :func:`eie_flow` can have, from the cheapest to the deepest.
FLOW_COVERS = ("broadcast", "dropped", "credit_wait", "queue_full")


def eie_flow(config=FLOW_CONFIG, *, steered=False, covers=FLOW_COVERS):
    """Credits: no PE's queue is offered a push it cannot take; credits are conserved.

    ``covers`` (names from :data:`FLOW_COVERS`): a broadcast, a column
    dropped (empty for a PE), the LNZD waiting for a credit, a PE's queue
    full. ``steered`` bakes :func:`flow_program` into the array and lets the
    host send only its commands: the cover task's harness, which reaches the
    covers (within 28 cycles on :data:`FLOW_CONFIG`) instead of searching
    every host.
    """
    unknown = set(covers) - set(FLOW_COVERS)
    if unknown:
        raise ValueError(f"Unknown covers {sorted(unknown)}; known: {', '.join(FLOW_COVERS)}")
    h = Harness()
    m = h.m
    program, commands = flow_program(config) if steered else (None, None)
    dut, frag = _array(h, config, program=program)
    if steered:
        _scripted_host(h, dut, config, commands)
    cfg = config
    state = h.internal(frag, "state")
    bcast = h.internal(frag, "bcast")
    credit = h.internal(frag, "credit")
    group_credit = h.internal(frag, "group_credit")
    computing = state == _State.COMPUTE
    full, dropped, starved = [], [], []
    for k in range(cfg.n_pe):
        count = h.internal(frag, f"credits_{k}")
        terms, queue = _in_flight(h, frag, k)
        in_flight = sum(terms)
        m.d.comb += [
            Assert(~(queue["push_valid"] & ~queue["push_ready"]),
                   f"PE {k}: a column reached a full queue"),
            Assert(~bcast | (count != 0), f"PE {k}: broadcast without a credit"),
        ]
        with m.If(computing):
            m.d.comb += [
                Assert(count + in_flight == cfg.queue_depth, f"PE {k}: credits not conserved"),
                Assert(credit[k] == (count != 0), f"PE {k}: credit flag differs from counter"),
            ]
        with m.Else():
            m.d.comb += Assert(in_flight == 0, f"PE {k}: a column in flight outside a layer")
        full.append(terms[4] == cfg.queue_depth)
        dropped.append(terms[3] & ~queue["push_valid"])
        starved.append(computing & h.internal(frag, "cur_valid") & ~credit[k])
    with m.If(computing):
        for g in range(len(group_credit)):
            m.d.comb += Assert(group_credit[g] == credit[g * FANOUT:(g + 1) * FANOUT].all(),
                               f"group credit flag {g} differs from its PEs' flags")
    reached = {"broadcast": bcast, "dropped": Cat(dropped).any(),
               "credit_wait": Cat(starved).any(), "queue_full": Cat(full).any()}
    m.d.comb += [Cover(reached[name]) for name in covers]
    return h


def eie_resp_stream(config=CONFIG):
    """``resp`` keeps the stream rules; ``cmd`` is assumed to keep them.

    Covers: a response waits while ``resp.ready`` is low, and is then taken.
    """
    h = Harness()
    dut, frag = _array(h, config)
    _decoded_command(h, frag, config)
    stalled = stream_rules(h, dut.resp, name="resp", role=Assert)
    h.m.d.comb += [Cover(stalled & ~dut.resp.ready), Cover(stalled & dut.resp.ready)]
    return h
