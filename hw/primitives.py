"""FPGA primitives behind small family-independent components.

A design asks for the block it needs (a registered multiplier) and names the
FPGA family it is built for; ``family=None`` is the generic version that any
tool and every simulator understands, and every family version has exactly the
same cycle behaviour, so the simulations of the generic version hold for all.
"""

from amaranth.hdl import ClockSignal, Const, Instance, Module, Shape, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["FAMILIES", "KEEP", "Multiplier"]

#: Attributes of a register that is one of several copies of the same value
#: (a fan-out copy near its loads): the synthesis flow keeps each copy as a
#: flip-flop of its own instead of letting yosys merge them (docs/synth.md).
KEEP = {"keep": 1}

#: Families with a primitive version (``None``, the generic version, is always allowed).
FAMILIES = ("ecp5",)

#: Operand width of the ECP5 ``MULT18X18D`` (two's complement when SIGNEDA/B is set).
_ECP5_WIDTH = 18


def _check_shape(name, shape):
    try:
        shape = Shape.cast(shape)
    except TypeError:
        raise TypeError(f"{name} must be a shape, not {shape!r}") from None
    if shape.width < 1:
        raise ValueError(f"{name} must be at least 1 bit wide, not {shape!r}")
    return shape


class Multiplier(wiring.Component):
    """A multiplier with registered inputs and a registered product.

    ``p`` in cycle ``c + latency`` is the exact product of ``a`` and ``b`` in
    cycle ``c`` (with ``en`` high in both cycles of the way); when ``en`` is low
    every register holds. The registers have no reset: they carry data only,
    and the block that owns them keeps the valid flags. ``latency`` is 2: the
    input registers and the product register.

    ``family="ecp5"`` instantiates one ``MULT18X18D`` with its own input
    (``REG_INPUTA``/``REG_INPUTB``) and output (``REG_OUTPUT``) registers on
    clock enable ``CE0``, which yosys does not infer; the product path then
    lies inside the DSP block. It takes signed operands of up to 18 bits and
    unsigned ones of up to 17 (zero-extended into the signed 18-bit input).
    ``family=None`` is plain Amaranth registers around ``*``: what simulation
    uses, and what any other target gets.

    Parameters
    ----------
    a_shape, b_shape : Shape
        Operand shapes.
    family : str or None
        ``None`` (generic) or a member of :data:`FAMILIES`.

    Members
    -------
    a : In(a_shape)
    b : In(b_shape)
    en : In(1, init=1)
        Clock enable of every register.
    p : Out(product shape)
        Full product width, signed if either operand is signed.
    """

    def __init__(self, a_shape, b_shape, *, family=None):
        a_shape = _check_shape("a_shape", a_shape)
        b_shape = _check_shape("b_shape", b_shape)
        if family is not None and family not in FAMILIES:
            raise ValueError(f"family must be None or one of {', '.join(map(repr, FAMILIES))}, "
                             f"not {family!r}")
        if family == "ecp5":
            for name, shape in (("a_shape", a_shape), ("b_shape", b_shape)):
                limit = _ECP5_WIDTH if shape.signed else _ECP5_WIDTH - 1
                if shape.width > limit:
                    raise ValueError(
                        f"{name} must be at most {limit} bits wide for the ECP5 MULT18X18D "
                        f"({'signed' if shape.signed else 'unsigned'}), not {shape!r}")
        self._family = family
        p_shape = (Signal(a_shape) * Signal(b_shape)).shape()
        super().__init__({
            "a": In(a_shape),
            "b": In(b_shape),
            "en": In(1, init=1),
            "p": Out(p_shape),
        })

    @property
    def family(self):
        """The FPGA family this multiplier is built for (``None``: generic)."""
        return self._family

    @property
    def latency(self):
        """Cycles from an operand on ``a``/``b`` to its product on ``p`` (2)."""
        return 2

    def elaborate(self, platform):
        #  a, b --> [input registers] (c+1) --> * --> [product register] p (c+2)
        m = Module()
        if self._family == "ecp5":
            self._elaborate_ecp5(m)
            return m
        a_reg = Signal.like(self.a, reset_less=True, name="a_reg")
        b_reg = Signal.like(self.b, reset_less=True, name="b_reg")
        p_reg = Signal.like(self.p, reset_less=True, name="p_reg")
        with m.If(self.en):
            m.d.sync += [a_reg.eq(self.a), b_reg.eq(self.b), p_reg.eq(a_reg * b_reg)]
        m.d.comb += self.p.eq(p_reg)
        return m

    def _elaborate_ecp5(self, m):
        # Both operands enter the DSP as signed 18-bit numbers (an unsigned one,
        # at most 17 bits, zero-extended), so SIGNEDA = SIGNEDB = 1 and P is the
        # signed 36-bit product; p takes as many bits as it is wide.
        a18 = Signal(signed(_ECP5_WIDTH))
        b18 = Signal(signed(_ECP5_WIDTH))
        p36 = Signal(signed(2 * _ECP5_WIDTH))
        m.d.comb += [a18.eq(self.a), b18.eq(self.b), self.p.eq(p36)]
        ports = {
            "i_CLK0": ClockSignal("sync"),
            "i_CE0": self.en,
            "i_RST0": Const(0, 1),
            "i_SIGNEDA": Const(1, 1),
            "i_SIGNEDB": Const(1, 1),
            "i_SOURCEA": Const(0, 1),
            "i_SOURCEB": Const(0, 1),
        }
        for k in range(_ECP5_WIDTH):
            ports[f"i_A{k}"] = a18[k]
            ports[f"i_B{k}"] = b18[k]
            ports[f"i_C{k}"] = Const(0, 1)
        for k in range(2 * _ECP5_WIDTH):
            ports[f"o_P{k}"] = p36[k]
        m.submodules.mult18 = Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK="CLK0", p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
            p_REG_INPUTB_CLK="CLK0", p_REG_INPUTB_CE="CE0", p_REG_INPUTB_RST="RST0",
            p_REG_INPUTC_CLK="NONE",
            p_REG_PIPELINE_CLK="NONE",
            p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
            p_CLK0_DIV="ENABLED", p_CLK1_DIV="ENABLED", p_CLK2_DIV="ENABLED",
            p_CLK3_DIV="ENABLED", p_HIGHSPEED_CLK="NONE", p_GSR="DISABLED",
            p_CAS_MATCH_REG="FALSE", p_SOURCEB_MODE="B_SHIFT", p_MULT_BYPASS="DISABLED",
            p_RESETMODE="SYNC",
            **ports,
        )
