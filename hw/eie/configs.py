"""Named EIE array configurations (``zeroskip verilog``, ``zeroskip synth``).

Sizes suit FPGA block RAM: each PE's sparse-matrix memory is 1024 words of 64
bits (8 entries each, two 36-kbit or four 18-kbit blocks), its pointer banks
hold 1024 pointers, its activation and accumulator memories 64 words.
"""

from sw_model.config import EieConfig

from .array import EieArray

__all__ = ["CONFIGS", "config_for"]

_SIZES = {"eie-1pe": 1, "eie-4pe": 4, "eie-8pe": 8, "eie-16pe": 16, "eie-64pe": 64}


def config_for(name):
    """The :class:`~sw_model.config.EieConfig` of a named configuration."""
    if name not in _SIZES:
        raise ValueError(f"Unknown EIE configuration {name!r}; known: {', '.join(_SIZES)}")
    return EieConfig(n_pe=_SIZES[name], queue_depth=8, entries_per_word=8, act_depth=64,
                     ptr_depth=1024, matrix_depth=1024, max_layers=4)


def _factory(name):
    def build():
        return EieArray(config=config_for(name))
    build.__doc__ = f"Build the {name} array."
    return build


#: Name -> zero-argument factory returning the top-level :class:`EieArray`.
CONFIGS = {name: _factory(name) for name in _SIZES}
