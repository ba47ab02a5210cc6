"""Host-side helpers: lay a compressed layer out in a tile's weight memories.

Row ``r`` of a layer belongs to unit ``r % units`` (row block ``r // units``).
Each row is cut into ``beats = ceil(K / (m * groups))`` beats; the word of row
block ``b`` and beat ``t`` sits at address ``b * beats + t`` of its unit's
memory. A row shorter than ``beats * m * groups`` is padded with zero-weight
groups (indices ``0 .. n-1``), and the last row block with zero rows, so the
padding contributes exactly 0 to every accumulator.
"""

import numpy as np

from sw_model.config import SparseTileConfig
from sw_model.fixed import check_int, check_int_array
from sw_model.nm_format import _check_compressed, compress

from .layouts import act_beat_layout, pack, weight_word_layout

__all__ = ["tile_shape", "tile_weight_image", "tile_weights_from_dense",
           "tile_activation_beats"]


def _check_config(config):
    if not isinstance(config, SparseTileConfig):
        raise TypeError(f"config must be a SparseTileConfig, not {config!r}")


def tile_shape(rows, k, config):
    """``(beats, blocks)`` of a ``rows x k`` layer on the tile; checks that it fits."""
    _check_config(config)
    rows = check_int("rows", rows, lo=1)
    k = check_int("K", k, lo=1)
    lanes = config.mac.lanes
    beats = -(-k // lanes)
    blocks = -(-rows // config.units)
    if beats > config.act_depth:
        raise ValueError(
            f"K = {k} needs {beats} beats of {lanes} activations, more than "
            f"act_depth ({config.act_depth})")
    if beats * blocks > config.weight_depth:
        raise ValueError(
            f"A {rows} x {k} layer needs {beats * blocks} weight words per unit, more "
            f"than weight_depth ({config.weight_depth})")
    return beats, blocks


def tile_weight_image(values, indices, config):
    """Per-unit lists of packed weight words for a compressed layer.

    ``values`` and ``indices`` come from :func:`sw_model.nm_format.compress`
    (shape ``(rows, K // m, n)``; for a tile with ``shared_indices``, with
    ``block_rows=units``, and the rows of every row block must have equal
    indices). Returns ``units`` lists of ``beats * blocks`` integers in
    :func:`weight_word_layout` format, usable as ``Memory`` initial contents
    or as ``word`` fields of host writes.
    """
    _check_config(config)
    mac = config.mac
    values, indices = _check_compressed(values, indices, mac.m)
    if values.ndim != 3 or values.shape[-1] != mac.n:
        raise ValueError(
            f"values must have shape (rows, groups, {mac.n}), not {values.shape}")
    check_int_array("values", values, mac.w_bits)
    rows, groups, _ = values.shape
    beats, blocks = tile_shape(rows, groups * mac.m, config)
    if config.shared_indices:
        for row in range(rows):
            first = row - row % config.units
            if not np.array_equal(indices[row], indices[first]):
                group = int(np.nonzero((indices[row] != indices[first]).any(axis=-1))[0][0])
                raise ValueError(
                    f"shared_indices: row {row} has indices {indices[row, group].tolist()} "
                    f"in group {group}, but row {first}, the first of its row block, has "
                    f"{indices[first, group].tolist()}")
    total_groups = beats * mac.groups
    pad_v = np.zeros((blocks * config.units, total_groups, mac.n), dtype=np.int64)
    pad_i = np.broadcast_to(np.arange(mac.n, dtype=np.int64), pad_v.shape).copy()
    pad_v[:rows, :groups] = values
    pad_i[:rows, :groups] = indices
    if config.shared_indices and rows % config.units:
        # Zero rows padding the last row block take its indices (they add 0).
        pad_i[rows:] = pad_i[rows - rows % config.units]
    layout = weight_word_layout(mac)
    image = []
    for unit in range(config.units):
        words = []
        for block in range(blocks):
            row = block * config.units + unit
            for beat in range(beats):
                sl = slice(beat * mac.groups, (beat + 1) * mac.groups)
                word = {"weights": pad_v[row, sl].reshape(-1).tolist()}
                if not mac.dense:
                    word["indices"] = pad_i[row, sl].reshape(-1).tolist()
                words.append(pack(layout, word))
        image.append(words)
    return image


def tile_weights_from_dense(w, config):
    """:func:`tile_weight_image` of a dense integer matrix that must be N:M sparse.

    With ``shared_indices`` the matrix must be vector-wise N:M sparse in row
    blocks of ``units`` rows. Raises :class:`ValueError` naming the row (or row
    block) and group of any group with too many nonzeros (via
    :func:`sw_model.nm_format.compress`).
    """
    _check_config(config)
    block_rows = config.units if config.shared_indices else 1
    values, indices = compress(w, config.mac.n, config.mac.m, bits=config.mac.w_bits,
                               block_rows=block_rows)
    return tile_weight_image(values, indices, config)


def tile_activation_beats(x, config):
    """Packed activation beats (``m * groups`` each, zero-padded) of the vector ``x``."""
    _check_config(config)
    mac = config.mac
    x = check_int_array("x", x, mac.act_bits, ndim=1)
    beats = -(-x.shape[0] // mac.lanes)
    if beats > config.act_depth:
        raise ValueError(
            f"x needs {beats} beats of {mac.lanes} activations, more than "
            f"act_depth ({config.act_depth})")
    padded = np.zeros(beats * mac.lanes, dtype=np.int64)
    padded[:x.shape[0]] = x
    layout = act_beat_layout(mac)
    return [pack(layout, padded[beat * mac.lanes:(beat + 1) * mac.lanes].tolist())
            for beat in range(beats)]
