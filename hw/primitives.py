"""FPGA primitives behind small family-independent components.

A design asks for the block it needs (a registered multiplier) and names the
FPGA family it is built for; ``family=None`` is the generic version that any
tool and every simulator understands, and every family version has exactly the
same cycle behaviour, so the simulations of the generic version hold for all.

Families: ``"ecp5"`` (``MULT18X18D`` and ``DP16KD`` with their registers) and
``"ice40"``, the iCE40 UltraPlus parts, whose single-port RAMs
(``SB_SPRAM256KA``) hold a :class:`BlockRam` that allows one
(``single_port=True``); everything else there is the generic version.
"""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Mux, Shape, Signal, signed
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["FAMILIES", "KEEP", "Multiplier", "BlockRam"]

#: Attributes of a register that is one of several copies of the same value
#: (a fan-out copy near its loads): the synthesis flow keeps each copy as a
#: flip-flop of its own instead of letting yosys merge them (docs/synth.md).
KEEP = {"keep": 1}

#: Families with a primitive version (``None``, the generic version, is always allowed).
FAMILIES = ("ecp5", "ice40")

#: Operand width of the ECP5 ``MULT18X18D`` (two's complement when SIGNEDA/B is set).
_ECP5_WIDTH = 18


def _check_family(family):
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be None or one of {', '.join(map(repr, FAMILIES))}, "
                         f"not {family!r}")


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
    uses, and what any other target gets. ``"ice40"`` gets it too: yosys maps
    the ``*`` to an ``SB_MAC16``, and an operand register may become the read
    register of the block RAM that feeds it (the EIE PE's codebook), which an
    instance with the DSP's own input registers would prevent.

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
        _check_family(family)
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


#: iCE40 ``SB_SPRAM256KA``: 16384 words of 16 bits.
_SPRAM_BITS = 16
_SPRAM_ADDR_BITS = 14
_SPRAM_WORDS = 1 << _SPRAM_ADDR_BITS

#: ECP5 ``DP16KD`` geometries the :class:`BlockRam` uses: (data bits, words).
#: 18 bits is one true port each way (port A writes, port B reads); 36 bits is
#: the pseudo dual-port mode (``PDPW16KD``): A and B together carry one word.
_DP16KD_MODES = ((18, 1024), (36, 512))
#: Bits of one ``INITVAL_xx`` parameter: 16 rows of 18 data bits in 20-bit slots.
_DP16KD_INIT_ROWS = 16
_DP16KD_INIT_SLOT = 20


def _dp16kd_mode(width, depth):
    """The ``DP16KD`` mode that builds a ``width`` x ``depth`` memory from the fewest blocks.

    Returns ``(bits, words, columns, banks)``; a tie goes to the mode with fewer
    banks (no multiplexer after the output registers).
    """
    def cost(mode):
        bits, words = mode
        columns, banks = -(-width // bits), -(-depth // words)
        return (columns * banks, banks)
    bits, words = min(_DP16KD_MODES, key=cost)
    return bits, words, -(-width // bits), -(-depth // words)


class BlockRam(wiring.Component):
    """A simple dual-port block RAM whose read data leaves through an output register.

    One write port and one read port on the ``sync`` clock::

        c     w_en, w_addr, w_data: the word is written at the end of the cycle
        c     r_en, r_addr: the read (the RAM's own read register loads when r_en)
        c+2   r_data: the word, from the output register (``latency`` = 2)

    The output register loads every cycle, so ``r_data`` in ``c + 2`` is what
    the read register held in ``c + 1``: a read with ``r_en`` low repeats the
    previous one. A read of the address written in the same cycle returns
    either word (the design must not depend on which); ``r_addr`` at or past
    ``depth`` reads an unspecified word.

    ``family="ecp5"`` instantiates ``DP16KD`` blocks with their output register
    (``REGMODE = "OUTREG"``), which yosys does not infer: the block's long
    clock-to-output delay then ends inside the block, and ``r_data`` leaves a
    register. Wide memories take blocks side by side; deep ones take banks,
    whose outputs a multiplexer selects after the output registers with the
    read address delayed alongside. ``family=None`` is an Amaranth
    :class:`~amaranth.lib.memory.Memory` and a register: what simulation uses
    and what any other target gets.

    ``single_port=True`` lets the memory share one address between reads and
    writes, and the contract changes in one point: a cycle with ``w_en`` high
    does not read, and leaves an unspecified word in the read register (on
    ``r_data`` two cycles later, and after that until the next read). The
    design must never use such a word. ``family="ice40"`` then instantiates
    ``SB_SPRAM256KA`` blocks (16384 words of 16 bits, side by side for wider
    words; the address is ``w_addr`` while writing, else ``r_addr``) read
    through an output register in logic cells. An SPRAM has no initial
    contents: with ``init`` all zeros, the words read before the first write
    are unspecified on the device; with a nonzero ``init`` the iCE40 version
    is the generic one (yosys infers EBR). The other versions are those of a
    dual-port memory, which keeps the contract.

    Parameters
    ----------
    width : int
        Bits of a word.
    depth : int
        Words.
    init : iterable of int
        Initial words (the rest are 0).
    family : str or None
        ``None`` (generic) or a member of :data:`FAMILIES`.
    single_port : bool
        The design never uses a read made in a write cycle (see above).
    """

    def __init__(self, *, width, depth, init=(), family=None, single_port=False):
        for name, value in (("width", width), ("depth", depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        _check_family(family)
        init = [int(x) for x in init]
        if len(init) > depth:
            raise ValueError(f"init has {len(init)} words, more than the depth {depth}")
        for k, word in enumerate(init):
            if not 0 <= word < 1 << width:
                raise ValueError(f"init word {k} is {word}, not a {width}-bit unsigned value")
        spram = family == "ice40" and single_port and not any(init)
        if spram and depth > _SPRAM_WORDS:
            raise ValueError(f"depth must be at most {_SPRAM_WORDS} for the iCE40 "
                             f"SB_SPRAM256KA, not {depth}")
        self._width = width
        self._depth = depth
        self._init = init
        self._family = family
        self._spram = spram
        addr_bits = max(1, (depth - 1).bit_length())
        super().__init__({
            "w_en": In(1),
            "w_addr": In(addr_bits),
            "w_data": In(width),
            "r_en": In(1, init=1),
            "r_addr": In(addr_bits),
            "r_data": Out(width),
        })

    @property
    def family(self):
        """The FPGA family this memory is built for (``None``: generic)."""
        return self._family

    @property
    def latency(self):
        """Cycles from a read address to its word on ``r_data`` (2)."""
        return 2

    @property
    def blocks(self):
        """Block RAMs the family version instantiates: ``DP16KD`` on ECP5, ``SB_SPRAM256KA``
        on iCE40 (0 where yosys infers the memory)."""
        if self._spram:
            return -(-self._width // _SPRAM_BITS)
        if self._family != "ecp5":
            return 0
        _, _, columns, banks = _dp16kd_mode(self._width, self._depth)
        return columns * banks

    def elaborate(self, platform):
        m = Module()
        if self._family == "ecp5":
            self._elaborate_ecp5(m)
            return m
        if self._spram:
            self._elaborate_spram(m)
            return m
        # No read needs a defined result when it meets a write to the same
        # word (the contract above), so yosys builds no logic for that case.
        m.submodules.storage = mem = memory.Memory(shape=self._width, depth=self._depth,
                                                   init=self._init, attrs={"no_rw_check": 1})
        wp = mem.write_port()
        rp = mem.read_port()
        m.d.comb += [
            wp.en.eq(self.w_en), wp.addr.eq(self.w_addr), wp.data.eq(self.w_data),
            rp.en.eq(self.r_en), rp.addr.eq(self.r_addr),
        ]
        self._output_register(m, rp.data)
        return m

    def _output_register(self, m, read_data):
        # The register in logic cells after a read (where the block has none).
        out = Signal(self._width, name="out_reg")
        m.d.sync += out.eq(read_data)
        m.d.comb += self.r_data.eq(out)

    def _elaborate_spram(self, m):
        # One address: the write's in a write cycle, else the read's. The
        # block reads when selected and not writing, so with r_en low (and no
        # write) DATAOUT holds the previous read, as the read register does.
        addr = Signal(_SPRAM_ADDR_BITS, name="spram_addr")
        m.d.comb += addr.eq(Mux(self.w_en, self.w_addr, self.r_addr))
        padded = self.blocks * _SPRAM_BITS
        w_data = Signal(padded)
        r_data = Signal(padded, name="spram_data")
        m.d.comb += w_data.eq(self.w_data)
        for c in range(self.blocks):
            lo = c * _SPRAM_BITS
            m.submodules[f"spram_{c}"] = Instance(
                "SB_SPRAM256KA",
                i_ADDRESS=addr, i_DATAIN=w_data[lo:lo + _SPRAM_BITS],
                i_MASKWREN=Const(0b1111, 4), i_WREN=self.w_en,
                i_CHIPSELECT=self.w_en | self.r_en, i_CLOCK=ClockSignal("sync"),
                i_STANDBY=Const(0, 1), i_SLEEP=Const(0, 1), i_POWEROFF=Const(1, 1),
                o_DATAOUT=r_data[lo:lo + _SPRAM_BITS])
        self._output_register(m, r_data)

    def _elaborate_ecp5(self, m):
        bits, words, columns, banks = _dp16kd_mode(self._width, self._depth)
        row_bits = (words - 1).bit_length()
        # The bank select travels with the read: registered with the read
        # register (r_en) and again with the output register.
        bank_bits = max(1, (banks - 1).bit_length())
        bank_r = Signal(bank_bits, name="bank_r")
        bank_q = Signal(bank_bits, name="bank_q")
        r_bank = self.r_addr[row_bits:] if banks > 1 else Const(0, 1)
        w_bank = self.w_addr[row_bits:] if banks > 1 else Const(0, 1)
        with m.If(self.r_en):
            m.d.sync += bank_r.eq(r_bank)
        m.d.sync += bank_q.eq(bank_r)
        padded = columns * bits
        bank_data = []
        for b in range(banks):
            w_data = Signal(padded)
            r_data = Signal(padded, name=f"bank_{b}_data")
            m.d.comb += w_data.eq(self.w_data)
            for c in range(columns):
                lo = c * bits
                words_init = [(self._init[a] >> lo) & ((1 << bits) - 1) if a < len(self._init)
                              else 0 for a in range(b * words, (b + 1) * words)]
                m.submodules[f"ram_{b}_{c}"] = self._dp16kd(
                    bits=bits, row_bits=row_bits, init=words_init,
                    w_en=self.w_en & (w_bank == b), w_addr=self.w_addr[:row_bits],
                    w_data=w_data[lo:lo + bits], r_en=self.r_en,
                    r_addr=self.r_addr[:row_bits], r_data=r_data[lo:lo + bits])
            bank_data.append(r_data)
        if banks == 1:
            m.d.comb += self.r_data.eq(bank_data[0])
        else:
            with m.Switch(bank_q):
                for b, data in enumerate(bank_data):
                    with m.Case(b):
                        m.d.comb += self.r_data.eq(data)

    @staticmethod
    def _dp16kd(*, bits, row_bits, init, w_en, w_addr, w_data, r_en, r_addr, r_data):
        # Port A writes, port B reads through its output register. In the
        # 36-bit (pseudo dual-port) mode the word's low half is on the A data
        # pins and its high half on the B pins, its address on AD[13:5] with
        # the four byte enables on ADA[3:0]; in the 18-bit mode the address is
        # on AD[13:4] and the two byte enables on ADA[1:0].
        wide = bits == 36
        low = 5 if wide else 4
        ad_a = Cat(Const(0, low), w_addr, Const(0, 14))[:14]
        ad_b = Cat(Const(0, low), r_addr, Const(0, 14))[:14]
        be = w_en.replicate(4) if wide else Cat(Const(1, 1), Const(1, 1))
        ports = {
            "i_CLKA": ClockSignal("sync"), "i_CLKB": ClockSignal("sync"),
            "i_CEA": w_en, "i_OCEA": Const(1, 1), "i_RSTA": Const(0, 1),
            "i_WEA": Const(1, 1) if wide else w_en,
            "i_CEB": r_en, "i_OCEB": Const(1, 1), "i_RSTB": Const(0, 1),
            "i_WEB": Const(0, 1),
        }
        for k in range(3):
            ports[f"i_CSA{k}"] = Const(0, 1)
            ports[f"i_CSB{k}"] = Const(0, 1)
        for k in range(14):
            ports[f"i_ADA{k}"] = be[k] if k < len(be) else ad_a[k]
            ports[f"i_ADB{k}"] = ad_b[k]
        for k in range(18):
            ports[f"i_DIA{k}"] = w_data[k]
            ports[f"i_DIB{k}"] = w_data[18 + k] if wide else Const(0, 1)
            # In the 18-bit mode port A's read data is unused.
            ports[f"o_DOA{k}"] = r_data[k] if wide else Signal(name=f"unused_doa_{k}")
            ports[f"o_DOB{k}"] = r_data[18 + k] if wide else r_data[k]
        # INITVAL_xx holds rows 16 xx .. 16 xx + 15 of the block seen as 1024 x 18
        # (a 36-bit word is two rows, its low half first), 18 bits in 20-bit slots.
        rows = []
        for word in init:
            rows += [word & 0x3FFFF, word >> 18] if wide else [word]
        params = {}
        for k in range(len(rows) // _DP16KD_INIT_ROWS):
            chunk = rows[k * _DP16KD_INIT_ROWS:(k + 1) * _DP16KD_INIT_ROWS]
            value = sum(row << (i * _DP16KD_INIT_SLOT) for i, row in enumerate(chunk))
            if value:
                params[f"p_INITVAL_{k:02X}"] = Const(value, _DP16KD_INIT_ROWS * _DP16KD_INIT_SLOT)
        return Instance(
            "DP16KD",
            p_DATA_WIDTH_A=bits, p_DATA_WIDTH_B=bits,
            p_REGMODE_A="OUTREG" if wide else "NOREG", p_REGMODE_B="OUTREG",
            p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
            p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
            p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL",
            p_GSR="DISABLED",
            **params, **ports,
        )
