"""The pieces every formal harness is built from.

A :class:`Harness` is a top-level module holding the design under test and
its properties (:class:`~amaranth.hdl.Assert`, :class:`~amaranth.hdl.Assume`,
:class:`~amaranth.hdl.Cover`), with the inputs the solver chooses freely in
every cycle. The design is elaborated into a :class:`~amaranth.hdl.Fragment`
once, so that the harness can observe the registers a block keeps to itself
(:meth:`Harness.internal`) and read its memories (:meth:`Harness.peek`)
without a change to ``hw/``. ``clk`` and ``rst`` are free inputs too: every
property holds across a reset in any cycle.
"""

from amaranth.back import rtlil
from amaranth.hdl import (
    Assert,
    Assume,
    Const,
    Fragment,
    Module,
    ResetSignal,
    Shape,
    Signal,
    Value,
)
from amaranth.hdl._mem import MemoryInstance

__all__ = ["Harness", "stream_rules"]


class Harness:
    """A formal harness: a top module, the designs it holds, and its free inputs."""

    def __init__(self):
        self.m = Module()
        self._free = []
        self._fragments = {}

    def add(self, name, dut):
        """Elaborate ``dut`` as submodule ``name``; return its fragment (for :meth:`internal`)."""
        fragment = Fragment.get(dut, None)
        self.m.submodules[name] = fragment
        self._fragments[name] = fragment
        return fragment

    def free(self, shape, name):
        """A new input of the harness, chosen by the solver in every cycle."""
        sig = Signal(shape, name=name)
        self._free.append(sig)
        return sig

    def drive(self, port, name):
        """Drive ``port`` (an input of the design) from a new free input; return that input."""
        value = Value.cast(port)
        sig = self.free(len(value), name)
        self.m.d.comb += value.eq(sig)
        return sig

    @staticmethod
    def _subfragment(fragment, path):
        for name in path:
            fragment = fragment.find_subfragment(name)
        return fragment

    def internal(self, fragment, name, path=()):
        """The signal ``name`` that the fragment at ``path`` below ``fragment`` assigns or reads.

        A block's own registers are assigned in its fragment; its input ports
        are assigned by the block around it and read in its own, so both are
        searched. Raises :class:`LookupError` when no signal or more than one
        has that name: the harness then no longer matches the design.
        """
        frag = self._subfragment(fragment, path)
        # Signals hash by identity only in a SignalDict; key them by id().
        found = {id(sig): sig for stmts in frag.statements.values() for stmt in stmts
                 for sig in [*stmt._lhs_signals(), *stmt._rhs_signals()] if sig.name == name}
        if len(found) != 1:
            where = "/".join(path) or "the top"
            raise LookupError(f"Expected one signal {name!r} used in {where} of the "
                              f"design, found {len(found)}")
        return next(iter(found.values()))

    def peek(self, fragment, path, addr):
        """The word at ``addr`` of the memory at ``path``, read asynchronously.

        Adds a combinational read port to the memory: it observes, it changes
        no behaviour of the design.
        """
        mem = self._subfragment(fragment, path)
        if not isinstance(mem, MemoryInstance):
            raise LookupError(f"{'/'.join(path)} is not a memory, but {type(mem).__name__}")
        depth = mem._data.depth
        addr_sig = Signal(max(0, (depth - 1).bit_length()), name=f"peek_{path[-1]}_addr")
        data = Signal(Shape.cast(mem._data.shape).width, name=f"peek_{path[-1]}_data")
        self.m.d.comb += addr_sig.eq(addr)
        mem.read_port(domain="comb", addr=addr_sig, data=data, en=Const(1), transparent_for=())
        return data

    def past(self, value, name):
        """``value`` of the previous cycle (its reset value after a reset or in cycle 0)."""
        value = Value.cast(value)
        reg = Signal(len(value), name=name)
        self.m.d.sync += reg.eq(value)
        return reg

    def rtlil(self):
        """The harness as RTLIL text, top module ``top``."""
        return rtlil.convert(self.m, name="top", ports=self._free)

    @property
    def reset(self):
        """The ``sync`` domain's reset, a free input of the harness."""
        return ResetSignal()


def stream_rules(h, stream, *, name, role):
    """The valid/ready rules of ``amaranth.lib.stream`` on ``stream``, assumed or asserted.

    Once ``valid`` is high and ``ready`` low, ``valid`` stays high and
    ``payload`` keeps its value in the next cycle (a reset lifts the rule).
    ``role`` is ``Assume`` for an input of the design, ``Assert`` for an
    output. Returns the register that is high in a cycle following a stall.
    """
    if role not in (Assume, Assert):
        raise ValueError(f"role must be Assume or Assert, not {role!r}")
    payload = Value.cast(stream.payload)
    stalled = h.past(stream.valid & ~stream.ready, f"{name}_stalled")
    held = h.past(payload, f"{name}_held")
    with h.m.If(stalled):
        h.m.d.comb += role(stream.valid, f"{name}: valid dropped before ready")
        h.m.d.comb += role(payload == held, f"{name}: payload changed before ready")
    return stalled
