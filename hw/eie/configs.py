"""Named EIE array configurations (``zeroskip verilog``, ``zeroskip synth``).

Sizes suit FPGA block RAM. Per PE on ECP5: the sparse-matrix memory is 1024
words of 64 bits (8 entries each, four 18-kbit DP16KD), the pointer memory
512 pointer pairs of 2 x 14 bits and an empty-column bit (one DP16KD, 36 bits wide), each of the two
accumulator banks 64 sums of 36 bits (one DP16KD each), the queue (16 deep)
and the codebook LUT RAM: 7 DP16KD per PE, so 8 PEs fit an ECP5-25F.
"""

from sw_model.config import EieConfig

from .array import EieArray

__all__ = ["CONFIGS", "config_for"]

_SIZES = {"eie-1pe": 1, "eie-2pe": 2, "eie-4pe": 4, "eie-8pe": 8, "eie-16pe": 16,
          "eie-32pe": 32, "eie-64pe": 64}


def config_for(name):
    """The :class:`~sw_model.config.EieConfig` of a named configuration."""
    if name not in _SIZES:
        raise ValueError(f"Unknown EIE configuration {name!r}; known: {', '.join(_SIZES)}")
    return EieConfig(n_pe=_SIZES[name], queue_depth=16, entries_per_word=8, acc_bits=36,
                     act_depth=64, ptr_depth=512, matrix_depth=1024, max_layers=4)


def _factory(name):
    def build(*, family=None):
        return EieArray(config=config_for(name), family=family)
    build.__doc__ = f"Build the {name} array."
    return build


#: Name -> factory(family=None) returning the top-level :class:`EieArray`.
CONFIGS = {name: _factory(name) for name in _SIZES}
