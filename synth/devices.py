"""The FPGA targets of the synthesis flow and what each of them holds.

A :class:`Device` says how yosys and nextpnr are told about the part and how
many of each placeable resource it has. The capacities are the numbers nextpnr
itself reports as ``available`` in its ``--report`` JSON for that part and
package; the flow uses them to refuse a design that cannot fit before spending
minutes in placement, and to explain a nextpnr failure in resource terms.

ECP5 parts come in speed grades 6, 7 and 8; nextpnr-ecp5 assumes grade 6 when
not told, so every ECP5 entry names its grade and the flow passes it as
``--speed``, and the results say which grade the Fmax is for. iCE40 parts have
no speed grade in nextpnr.
"""

from dataclasses import dataclass, field

__all__ = ["Device", "DEVICES", "get_device", "BLOCK_RAM_CELLS", "LUT_RAM_CELLS"]

#: Cell types (after ``synth_*``) that are dedicated block memories.
BLOCK_RAM_CELLS = frozenset({"SB_RAM40_4K", "SB_SPRAM256KA", "DP16KD", "PDPW16KD"})
#: Cell types that are memories built from logic-cell LUTs (ECP5 distributed RAM).
LUT_RAM_CELLS = frozenset({"TRELLIS_DPR16X4"})

#: Speed grades nextpnr knows per family (iCE40: none to choose).
_SPEED_GRADES = {"ice40": (None,), "ecp5": (6, 7, 8)}


@dataclass(frozen=True)
class Device:
    """One FPGA part and package that the flow can target.

    Parameters
    ----------
    name : str
        Target name used on the command line (``ice40-up5k``).
    family : str
        ``"ice40"`` or ``"ecp5"``; selects the yosys script and nextpnr binary.
    part : str
        The vendor part name, for reports.
    speed : int or None
        ECP5 speed grade (6, 7 or 8), passed to nextpnr as ``--speed``; ``None``
        for iCE40, which nextpnr models with one grade per part.
    nextpnr_args : tuple of str
        Device and package options for nextpnr (the speed grade is added from
        ``speed``; see :attr:`nextpnr_options`).
    synth_args : tuple of str
        Extra options for ``synth_ice40`` / ``synth_ecp5``.
    default_freq : float
        Frequency target in MHz when the user gives none.
    capacity : dict
        ``{nextpnr resource: count}`` for the resources the fit check knows.
    primitives : str or None
        The :mod:`hw.primitives` family a design for this part instantiates
        (``None``: the generic version). The iCE40 HX parts have neither the
        SPRAMs nor the DSPs of the UltraPlus parts, so they get the generic one.
    """

    name: str
    family: str
    part: str
    speed: int | None
    nextpnr_args: tuple
    synth_args: tuple
    default_freq: float
    capacity: dict = field(hash=False)
    primitives: str | None = None

    def __post_init__(self):
        if self.family not in _SPEED_GRADES:
            raise ValueError(f"family must be 'ice40' or 'ecp5', not {self.family!r}")
        grades = _SPEED_GRADES[self.family]
        if self.speed not in grades:
            expected = " or ".join(filter(None, [", ".join(map(repr, grades[:-1])),
                                                 repr(grades[-1])]))
            raise ValueError(f"speed of an {self.family} device must be {expected}, "
                             f"not {self.speed!r}")
        if self.primitives not in (None, self.family):
            raise ValueError(f"primitives of an {self.family} device must be None or "
                             f"{self.family!r}, not {self.primitives!r}")

    @property
    def nextpnr_options(self):
        """Everything nextpnr is told about the part: device, package and speed grade."""
        speed = () if self.speed is None else ("--speed", str(self.speed))
        return self.nextpnr_args + speed

    @property
    def nextpnr_tool(self):
        """Command name of the place-and-route tool for this family."""
        return f"yowasp-nextpnr-{self.family}"

    @property
    def pack_tool(self):
        """Command name of the bitstream packer for this family."""
        return {"ice40": "yowasp-icepack", "ecp5": "yowasp-ecppack"}[self.family]

    @property
    def primitive_family(self):
        """The family of :mod:`hw.primitives` to build for this device (``None``: generic)."""
        return self.primitives

    @property
    def synth_command(self):
        """The yosys synthesis command (without ``-top`` or ``-run``)."""
        return " ".join((f"synth_{self.family}",) + self.synth_args)


DEVICES = {
    device.name: device for device in [
        Device(
            name="ice40-up5k", family="ice40", part="iCE40UP5K-SG48", speed=None,
            nextpnr_args=("--up5k", "--package", "sg48", "--pcf-allow-unconstrained"),
            # -device u: abc9 maps logic with the UltraPlus delays (default:
            # HX; a two-PE trial reached 42.8 MHz with it, 35.1 without).
            # -spram would let yosys put single-port memories in the SPRAMs;
            # it never takes Amaranth's (docs/synth.md), so the designs
            # instantiate them (hw.primitives).
            synth_args=("-device", "u", "-dsp", "-spram"), default_freq=50.0,
            capacity={"ICESTORM_LC": 5280, "ICESTORM_RAM": 30, "ICESTORM_SPRAM": 4,
                      "ICESTORM_DSP": 8, "SB_IO": 39},
            primitives="ice40",
        ),
        Device(
            name="ice40-hx8k", family="ice40", part="iCE40HX8K-CT256", speed=None,
            nextpnr_args=("--hx8k", "--package", "ct256", "--pcf-allow-unconstrained"),
            # The HX family has no DSP blocks: multipliers are built from LCs.
            synth_args=(), default_freq=50.0,
            capacity={"ICESTORM_LC": 7680, "ICESTORM_RAM": 32, "ICESTORM_SPRAM": 0,
                      "ICESTORM_DSP": 0, "SB_IO": 206},
        ),
    ] + [
        # One target per part and speed grade, named after both; nextpnr is
        # always told the grade (``--speed``), so no figure is for an unknown one.
        Device(
            name=f"ecp5-{size}f-{speed}", family="ecp5", part=f"LFE5U-{size}F-CABGA381",
            speed=speed, nextpnr_args=(f"--{size}k", "--package", "CABGA381"),
            synth_args=(), default_freq=125.0, capacity=capacity, primitives="ecp5",
        )
        for size, capacity in (
            ("25", {"TRELLIS_COMB": 24288, "TRELLIS_FF": 24288, "DP16KD": 56,
                    "MULT18X18D": 28, "TRELLIS_IO": 197}),
            ("85", {"TRELLIS_COMB": 83640, "TRELLIS_FF": 83640, "DP16KD": 208,
                    "MULT18X18D": 156, "TRELLIS_IO": 365}),
        )
        for speed in (6, 8)
    ]
}


def get_device(name):
    """The :class:`Device` called ``name``; ``ValueError`` naming the known targets if none."""
    if name not in DEVICES:
        raise ValueError(f"Unknown target {name!r}; known: {', '.join(DEVICES)}")
    return DEVICES[name]
