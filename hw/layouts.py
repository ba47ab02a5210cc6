"""Packing of Amaranth data layouts to plain integers and back.

A payload layout (``StructLayout``, ``ArrayLayout`` or a plain shape) is the
one description of its bit positions: the RTL uses it as a signal's shape,
and :func:`pack` / :func:`unpack` read the offsets from the same object to
build or decode the integers a testbench drives onto a stream or a memory is
initialised with. Every engine's testbench packs through these two functions.
"""

from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["pack", "unpack"]


def pack(layout, value):
    """Flatten ``value`` (nested dicts / sequences / ints) into an ``int`` laid out as ``layout``.

    Every field of a ``StructLayout`` and every element of an ``ArrayLayout``
    must be given, or the whole layout as an already packed non-negative
    ``int``; an integer that does not fit its field is an error, never
    truncated.
    """
    if isinstance(layout, data.Layout) and isinstance(value, int):
        if not 0 <= value < 1 << layout.size:
            raise ValueError(f"{value} does not fit in {layout.size} unsigned bits")
        return value
    if isinstance(layout, data.StructLayout):
        if not isinstance(value, dict):
            raise TypeError(f"value for a StructLayout must be a dict, not {value!r}")
        names = [name for name, _ in layout]
        if sorted(value) != sorted(names):
            raise ValueError(f"value must have the fields {names}, not {sorted(value)}")
        return sum(pack(field.shape, value[name]) << field.offset for name, field in layout)
    if isinstance(layout, data.ArrayLayout):
        items = list(value)
        if len(items) != layout.length:
            raise ValueError(
                f"value for an ArrayLayout of {layout.length} elements has {len(items)}")
        width = Shape.cast(layout.elem_shape).width
        return sum(pack(layout.elem_shape, item) << (k * width) for k, item in enumerate(items))
    shape = Shape.cast(layout)
    value = int(value)
    lo, hi = ((-(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1) if shape.signed
              else (0, (1 << shape.width) - 1))
    if not lo <= value <= hi:
        raise ValueError(f"{value} does not fit in {shape!r}")
    return value & ((1 << shape.width) - 1)


def unpack(layout, bits):
    """Inverse of :func:`pack`: decode the integer ``bits`` (signed fields sign-extended)."""
    bits = int(bits)
    if isinstance(layout, data.StructLayout):
        return {name: unpack(field.shape, bits >> field.offset) for name, field in layout}
    if isinstance(layout, data.ArrayLayout):
        width = Shape.cast(layout.elem_shape).width
        return [unpack(layout.elem_shape, bits >> (k * width)) for k in range(layout.length)]
    shape = Shape.cast(layout)
    value = bits & ((1 << shape.width) - 1)
    if shape.signed and value >> (shape.width - 1):
        value -= 1 << shape.width
    return value
