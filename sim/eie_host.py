"""The one host driver of the EIE array, for every testbench that talks to one.

:class:`EieHost` sends :class:`~hw.eie.program.EieProgram`'s commands through a
:class:`~sim.streams.StreamSource` on ``cmd`` and takes the responses from a
:class:`~sim.streams.StreamSink` on ``resp``; both are packed and unpacked with
the array's own payload layouts (:func:`hw.layouts.pack`), so a field that does
not fit is an error rather than a silent wrap, and an activation read back is
sign-extended from the configuration's ``act_bits`` in one place.

The array ignores the fields a command does not use (``docs/eie.md``); a host
given a ``junk`` generator fills them with random values, so a testbench
checks that too.
"""

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Shape, signed

from hw.eie.array import cmd_layout, resp_layout
from hw.eie.program import Counter, Op, decode_status
from hw.layouts import pack, unpack

from .streams import StreamSink, StreamSource

__all__ = ["EieHost", "EieResult", "USED_FIELDS", "command_payload"]

#: The command fields each opcode uses, as ``docs/eie.md`` lists them (the
#: pe of READ_COUNTER only for the per-PE counters, see :func:`_used`); an
#: opcode not listed uses every field.
USED_FIELDS = {
    Op.NOP: (),
    Op.WRITE_CODEBOOK: ("addr", "data"),
    Op.WRITE_PTR: ("pe", "addr", "data"),
    Op.WRITE_MATRIX: ("pe", "addr", "data"),
    Op.WRITE_LAYER: ("addr", "data"),
    Op.WRITE_ACT: ("pe", "addr", "data"),
    Op.READ_ACT: ("pe", "addr"),
    Op.RUN: ("data",),
    Op.READ_COUNTER: ("pe", "addr"),
    Op.READ_STATUS: (),
    Op.CLEAR_STATUS: (),
}


def _used(op, addr):
    """The fields command ``op`` uses; READ_COUNTER of CYCLES does not use ``pe``."""
    if op == Op.READ_COUNTER and addr == Counter.CYCLES:
        return ("addr",)
    return USED_FIELDS.get(op, ("pe", "addr", "data"))


def command_payload(layout, op, pe, addr, data, *, junk=None):
    """A command packed with ``layout`` (:func:`hw.eie.array.cmd_layout`).

    With ``junk`` (a NumPy generator), the fields ``op`` does not use carry
    random values; they must be 0 in the call (nothing is dropped silently).
    """
    fields = {"op": int(op), "pe": pe, "addr": addr, "data": data}
    if junk is not None:
        for name in ("pe", "addr", "data"):
            if name in _used(op, addr):
                continue
            if fields[name]:
                raise ValueError(f"{Op(op).name} does not use its {name} field, "
                                 f"which holds {fields[name]}")
            width = Shape.cast(layout[name].shape).width
            fields[name] = int(junk.integers(0, 1 << width, dtype=np.uint64))
    return pack(layout, fields)


@dataclass(frozen=True)
class EieResult:
    """What one run of a chain returned: last-layer outputs, cycles and PE counters."""

    outputs: np.ndarray
    cycles: int
    busy: list
    stall: list


class EieHost:
    """Host side of an EIE array: commands in on ``cmd``, responses out on ``resp``.

    Parameters
    ----------
    tb : sim.streams.TB
        The testbench of an EIE design (its ``config`` is the array's).
    idle, backpressure : generator or None
        Idle cycles of the command source and backpressure of the response
        sink (see :func:`sim.streams.randomly`); ``None`` for none.
    junk : numpy.random.Generator or None
        If given, every command's unused fields (:data:`USED_FIELDS`) carry
        random values from it instead of 0.
    """

    def __init__(self, tb, *, idle=None, backpressure=None, junk=None):
        self.tb = tb
        self.config = tb.config
        self._cmd_layout = cmd_layout(self.config)
        self._resp_layout = resp_layout(self.config)
        self._act_shape = signed(self.config.act_bits)
        self.cmd = tb.start_driver(StreamSource(tb, "cmd", idle=idle))
        self.resp = tb.start_driver(StreamSink(tb, "resp", backpressure=backpressure))
        self._junk = junk
        self._taken = 0

    def send(self, commands):
        """Queue host commands ``(op, pe, addr, data)``.

        With ``junk``, the fields the opcode does not use are replaced by
        random values (they must be 0 in ``commands``: nothing is dropped
        silently).
        """
        self.cmd.send(self._payload(*command) for command in commands)

    def _payload(self, op, pe, addr, data):
        return command_payload(self._cmd_layout, op, pe, addr, data, junk=self._junk)

    def clear(self):
        """Forget queued commands and pending responses (around a reset)."""
        self.cmd.clear()
        self._taken = len(self.resp.items)

    async def responses(self, ops, *, timeout_cycles):
        """The data of the next responses, which must answer commands ``ops`` in order."""
        ops = list(ops)
        got = await self.answers(ops, timeout_cycles=timeout_cycles)
        for k, (op, (_, error)) in enumerate(zip(ops, got, strict=True)):
            assert not error, (
                f"response {k}: the array rejected the {Op(op).name} command "
                f"(READ_STATUS says why)")
        return [data for data, _ in got]

    async def answers(self, ops, *, timeout_cycles=1_000_000):
        """The next responses as ``(data, error)`` pairs, rejected commands' included.

        Each must answer the command of ``ops`` in its place.
        """
        ops = list(ops)
        await self.resp.wait_for(self._taken + len(ops), timeout_cycles=timeout_cycles)
        got = [unpack(self._resp_layout, payload)
               for _, payload in self.resp.items[self._taken:self._taken + len(ops)]]
        self._taken += len(ops)
        for k, (op, response) in enumerate(zip(ops, got, strict=True)):
            assert response["op"] == op, (
                f"response {k} answers op {response['op']}, expected {Op(op).name}")
        return [(response["data"], bool(response["error"])) for response in got]

    async def status(self, *, clear=True, timeout_cycles=1_000_000):
        """The error status ``(Error, opcode, rejected count)``; then clear it if ``clear``."""
        self.send([(Op.READ_STATUS, 0, 0, 0)] + ([(Op.CLEAR_STATUS, 0, 0, 0)] if clear else []))
        data = await self.responses([Op.READ_STATUS], timeout_cycles=timeout_cycles)
        return decode_status(data[0])

    def load(self, program):
        """Queue the commands that load ``program`` (layers, codebooks, table)."""
        self.send(program.load_commands())

    async def run(self, program, acts, *, counters=True, timeout_cycles=10_000_000):
        """Write ``acts``, run ``program``'s chain, read its outputs (and the PE counters)."""
        n_pe = self.config.n_pe
        outputs = program.output_commands()
        reads = [(Op.READ_COUNTER, pe, counter, 0)
                 for pe in range(n_pe) for counter in (Counter.BUSY, Counter.STALL)]
        self.send(program.input_commands(acts))
        self.send([(Op.RUN, 0, 0, program.n_layers)])
        self.send(outputs + (reads if counters else []))
        ops = [Op.RUN] + [Op.READ_ACT] * len(outputs) + [Op.READ_COUNTER] * (
            len(reads) if counters else 0)
        data = await self.responses(ops, timeout_cycles=timeout_cycles)
        outs = np.array([unpack(self._act_shape, d) for d in data[1:1 + len(outputs)]],
                        dtype=np.int64)
        counts = data[1 + len(outputs):]
        return EieResult(outputs=outs, cycles=data[0], busy=counts[0::2], stall=counts[1::2])

    async def read_cycles(self, *, timeout_cycles=1000):
        """The cycle counter of the last run."""
        self.send([(Op.READ_COUNTER, 0, Counter.CYCLES, 0)])
        return (await self.responses([Op.READ_COUNTER], timeout_cycles=timeout_cycles))[0]
