"""Named EIE array configurations (``zeroskip verilog``, ``zeroskip synth``).

Sizes suit FPGA block RAM. Per PE on ECP5: the sparse-matrix memory is 1024
words of 64 bits (8 entries each, four 18-kbit DP16KD), the pointer memory 512
words of 30 bits (start, tail and two flags of a column; one DP16KD, 36 bits
wide), the accumulators two memories of 2 x 64 sums of 36 bits (both banks,
one DP16KD each), the queue (16 deep) and the codebook LUT RAM: 7 DP16KD per
PE, so 8 PEs fit an ECP5-25F (56) and 16 an ECP5-85F (112 of 208). From 32
PEs on, the matrix memory is 512 words (two DP16KD, 36 bits wide each): 5
DP16KD per PE, so 32 PEs need 160 and fit an ECP5-85F, and the array holds
twice the weights of 8 PEs with the full depth. 64 PEs (320) fit no ECP5 part
here; that configuration is for the cycle and RTL benchmarks.

``eie-2pe-up5k`` is sized for the iCE40 UP5K (``zeroskip synth --target
ice40-up5k``), whose limit is its 5280 logic cells: iCE40 has no LUT RAM, so
the asynchronously read memories (queue, group buffer, mask queue) and the
accumulators' valid flags are flip-flops there. So each PE has 16 rows
(layers of up to 32 outputs and inputs), a one-deep queue and two layer
slots; its matrix memory is one SPRAM (16384 words of two 8-bit entries),
its pointers (256 columns), accumulators (32 bits) and codebook take 8 EBR.
The two PEs use 82 % of the logic cells (4340 of 5280); with 32 rows per PE
(87 %) nextpnr 0.11.1 found no legal placement.
"""

from sw_model.config import EieConfig

from .array import EieArray

__all__ = ["CONFIGS", "config_for"]

_SIZES = {"eie-1pe": 1, "eie-2pe": 2, "eie-4pe": 4, "eie-8pe": 8, "eie-16pe": 16,
          "eie-32pe": 32, "eie-64pe": 64, "eie-2pe-up5k": 2}

#: Configurations sized for the iCE40 UP5K (see above).
_UP5K = ("eie-2pe-up5k",)

#: PE counts from which the matrix memory is half as deep (see above).
_SHALLOW_FROM = 32


def config_for(name):
    """The :class:`~sw_model.config.EieConfig` of a named configuration."""
    if name not in _SIZES:
        raise ValueError(f"Unknown EIE configuration {name!r}; known: {', '.join(_SIZES)}")
    n_pe = _SIZES[name]
    if name in _UP5K:
        return EieConfig(n_pe=n_pe, queue_depth=1, entries_per_word=2, acc_bits=32,
                         act_depth=16, ptr_depth=256, matrix_depth=16384, max_layers=2)
    return EieConfig(n_pe=n_pe, queue_depth=16, entries_per_word=8, acc_bits=36,
                     act_depth=64, ptr_depth=512,
                     matrix_depth=512 if n_pe >= _SHALLOW_FROM else 1024, max_layers=4)


def _factory(name):
    def build(*, family=None):
        return EieArray(config=config_for(name), family=family)
    build.__doc__ = f"Build the {name} array."
    return build


#: Name -> factory(family=None) returning the top-level :class:`EieArray`.
CONFIGS = {name: _factory(name) for name in _SIZES}
