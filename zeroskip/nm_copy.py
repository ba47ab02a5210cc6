"""The 2:4 copy: the dense network pruned to N:M, its golden model, and its first layer on the tile.

N:M groups run along a layer's inputs, so a layer whose input width is not a
multiple of ``M`` is zero-padded to the next multiple: the extra columns hold
zero weights and meet zero activations, so the results do not change. The
float copy keeps the real widths (so it can be fine-tuned like the original);
the padding happens when the weights are quantized for the format.

The first layer then runs on two Verilated tiles with equal multiplier counts:
the 2:4 tile, ``NM_UNITS`` units of ``N * NM_GROUPS`` multipliers taking
``M * NM_GROUPS`` activations a beat, and a dense (2:2) tile taking half as
many. Both must give the golden model's outputs bit for bit.
"""

from dataclasses import dataclass

import numpy as np

from sw_model.config import SparseMacConfig, SparseTileConfig
from sw_model.fixed import to_fixed
from sw_model.nm_format import compress as nm_compress
from sw_model.nm_model import nm_matvec
from sw_model.prune import prune_nm
from sw_model.train import Mlp, train

from .training import FINETUNE_EPOCHS

__all__ = [
    "N", "M", "NM_UNITS", "NM_GROUPS", "NmCopy", "padded_width", "pad_columns", "nm_prune",
    "nm_finetune", "nm_copy", "nm_golden", "tile_configs", "run_tiles",
]

#: The pattern: at most ``N`` nonzeros in every ``M`` consecutive inputs.
N, M = 2, 4
#: Units (rows in parallel) and groups per beat of the demo's tiles.
NM_UNITS = 8
NM_GROUPS = 2


def padded_width(k, m=M):
    """``k`` rounded up to a multiple of ``m``."""
    return -(-int(k) // m) * m


def pad_columns(a, width):
    """``a`` (a matrix, or a batch of vectors) with zero columns appended up to ``width``."""
    a = np.asarray(a)
    return np.pad(a, ((0, 0), (0, width - a.shape[1])))


def nm_prune(w, n=N, m=M, *, block_rows=1):
    """``w`` pruned to ``n:m`` along its inputs, as if zero-padded to a multiple of ``m``.

    ``block_rows`` > 1 prunes vector-wise (:func:`sw_model.prune.prune_nm`).
    """
    k = w.shape[1]
    return prune_nm(pad_columns(w, padded_width(k, m)), n, m, block_rows=block_rows)[:, :k]


def nm_finetune(weights, data, *, seed, epochs=FINETUNE_EPOCHS):
    """``weights`` (no biases) fine-tuned on ``data`` with their zeros held; a new list."""
    mlp = Mlp([np.array(w, dtype=np.float64) for w in weights],
              masks=[np.asarray(w) != 0 for w in weights])
    train(mlp, data, epochs=epochs, lr=2e-3, seed=seed)
    return mlp.weights


@dataclass(frozen=True)
class NmCopy:
    """The N:M copy of a network.

    ``weights``: float, real widths; ``quantized``: the integer weights in the
    tile's format, inputs zero-padded to a multiple of ``M``; ``padded``:
    ``[(layer, inputs, padded inputs)]`` for the layers that needed it;
    ``steps``: what was done, for the report.
    """

    weights: tuple
    quantized: tuple
    padded: tuple
    steps: tuple

    def mac(self, layer):
        """The MAC configuration of ``layer`` (ReLU after all but the last)."""
        return SparseMacConfig(n=N, m=M, groups=NM_GROUPS, relu=layer < len(self.weights) - 1)


def nm_copy(dense, *, finetune_data, seed, finetune_epochs=FINETUNE_EPOCHS):
    """Prune a copy of ``dense`` to ``N:M``; fine-tune it on ``finetune_data`` if given."""
    weights = [nm_prune(w) for w in dense]
    steps = [f"a copy of the network before pruning, pruned to {N}:{M} along every layer's "
             f"inputs"]
    if finetune_data is not None:
        weights = nm_finetune(weights, finetune_data, seed=seed, epochs=finetune_epochs)
        steps.append(f"the {N}:{M} copy fine-tuned on the digits training set for "
                     f"{finetune_epochs} epochs")
    else:
        steps.append(f"the {N}:{M} copy not fine-tuned")
    mac = SparseMacConfig(n=N, m=M, groups=NM_GROUPS)
    padded = tuple((i, w.shape[1], padded_width(w.shape[1])) for i, w in enumerate(weights)
                   if w.shape[1] % M)
    if padded:
        listing = ", ".join(f"layer {i} from {k} to {kp}" for i, k, kp in padded)
        steps.append(f"inputs zero-padded to a multiple of {M} for the {N}:{M} format: "
                     f"{listing}")
    quantized = tuple(
        to_fixed(pad_columns(w, padded_width(w.shape[1])), mac.w_frac_bits, bits=mac.w_bits)
        for w in weights)
    return NmCopy(weights=tuple(weights), quantized=quantized, padded=padded,
                  steps=tuple(steps))


def nm_golden(copy, acts):
    """The whole N:M network on fixed-point ``acts`` (one vector per row): the last outputs."""
    h = np.asarray(acts, dtype=np.int64)
    for i, w in enumerate(copy.quantized):
        mac = copy.mac(i)
        values, indices = nm_compress(w, N, M, bits=mac.w_bits)
        h = pad_columns(h, w.shape[1])
        h = np.stack([nm_matvec(values, indices, x, mac) for x in h])
    return h


def tile_configs(rows, k, relu):
    """``{"nm_tile": ..., "dense_tile": ...}``: the two tiles, sized for a ``rows x k`` layer."""
    configs = {}
    for name, m in (("nm_tile", M), ("dense_tile", N)):
        mac = SparseMacConfig(n=N, m=m, groups=NM_GROUPS, relu=relu)
        beats = -(-k // mac.lanes)
        blocks = -(-rows // NM_UNITS)
        configs[name] = SparseTileConfig(mac=mac, units=NM_UNITS, act_depth=beats,
                                         weight_depth=beats * blocks)
    return configs


def run_tiles(copy, acts, *, out_dir, progress):
    """Layer 0 of ``copy`` for every row of ``acts`` on both tiles; a ``dict`` per tile.

    The RTL's outputs are compared with :func:`sw_model.nm_model.nm_matvec`
    here as well as in the testbench; a testbench that fails is recorded as
    a failed check with its message, not raised.
    """
    from hw.generate import Design
    from hw.sparse_nm import NMTile

    from .rtl import run_nm_tile

    w0 = copy.quantized[0]
    rows, k = w0.shape
    real_k = copy.weights[0].shape[1]
    acts = pad_columns(np.asarray(acts, dtype=np.int64), k)
    mac = copy.mac(0)
    values, indices = nm_compress(w0, N, M, bits=mac.w_bits)
    golden = np.stack([nm_matvec(values, indices, x, mac) for x in acts])
    results = {}
    for name, config in tile_configs(rows, k, mac.relu).items():
        _, sidecar = Design(name=name, top=NMTile(config=config)).write(out_dir / name)
        result = {"multipliers": NM_UNITS * config.mac.mults, "vectors": len(acts)}
        try:
            run = run_nm_tile(sidecar, w0, acts, build_dir=out_dir / name)
        except AssertionError as exc:
            result.update(rtl_equals_golden=False, error=str(exc))
            progress.note(f"{name}: the testbench failed: {exc}")
        else:
            result.update(
                beats_per_row_block=run.beats, row_blocks=run.blocks, cycles=run.cycles,
                cycles_per_vector=run.beats * run.blocks,
                rtl_equals_golden=bool(np.array_equal(run.outputs, golden)),
                dense_equivalent_macs_per_cycle=rows * real_k * len(acts) / run.cycles)
            progress.note(f"{name}: {result['multipliers']} multipliers, {run.cycles} cycles "
                          f"for {len(acts)} vectors, RTL = golden model: "
                          f"{'yes' if result['rtl_equals_golden'] else 'NO'}")
        results[name] = result
    return results
