"""Validation messages and derived properties of the engine configurations."""

import dataclasses
import re

import pytest

from sw_model.config import EieConfig, SparseMacConfig


def test_eie_defaults_and_derived():
    cfg = EieConfig()
    assert cfg.n_pe == 8 and cfg.entries_per_word == 8 and cfg.acc_bits == 40
    assert cfg.word_bits == 64
    assert cfg.max_entries == 1024 * 8
    # Pointers must reach max_entries = 8192 = 2**13 inclusive: 14 bits.
    assert cfg.ptr_bits == 14
    assert cfg.max_dim == 64 * 8
    assert (cfg.codebook_size, cfg.index_bits, cfg.entry_bits) == (16, 4, 8)
    assert (cfg.act_bits, cfg.w_bits) == (16, 16)


def test_eie_derived_small():
    cfg = EieConfig(n_pe=2, entries_per_word=1, matrix_depth=7, act_depth=3)
    assert cfg.word_bits == 8
    assert cfg.max_entries == 7
    assert cfg.ptr_bits == 3
    assert cfg.max_dim == 6


def test_eie_frozen_and_round_trip():
    cfg = EieConfig(n_pe=4, queue_depth=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_pe = 2
    assert EieConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=re.escape("Unknown EieConfig field(s): bogus, zz")):
        EieConfig.from_dict({**cfg.to_dict(), "zz": 1, "bogus": 2})


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"n_pe": 0}, ValueError, "n_pe must be in the range [1, 1024], not 0"),
    ({"n_pe": 1025}, ValueError, "n_pe must be in the range [1, 1024], not 1025"),
    ({"n_pe": 2.0}, TypeError, "n_pe must be an integer, not 2.0"),
    ({"queue_depth": 0}, ValueError, "queue_depth must be in the range [1, 1024], not 0"),
    ({"entries_per_word": 0}, ValueError,
     "entries_per_word must be in the range [1, 8], not 0"),
    ({"entries_per_word": 16}, ValueError,
     "entries_per_word must be in the range [1, 8], not 16"),
    ({"entries_per_word": 3}, ValueError,
     "entries_per_word must be a power of two (1, 2, 4 or 8), not 3"),
    ({"act_frac_bits": -1}, ValueError, "act_frac_bits must be in the range [0, 15], not -1"),
    ({"act_frac_bits": 16}, ValueError, "act_frac_bits must be in the range [0, 15], not 16"),
    ({"w_frac_bits": 16}, ValueError, "w_frac_bits must be in the range [0, 15], not 16"),
    ({"acc_bits": 31}, ValueError, "acc_bits must be in the range [32, 62], not 31"),
    ({"acc_bits": 63}, ValueError, "acc_bits must be in the range [32, 62], not 63"),
    ({"act_depth": 0}, ValueError, "act_depth must be in the range [1, 1048576], not 0"),
    ({"ptr_depth": 1}, ValueError, "ptr_depth must be in the range [2, 16777216], not 1"),
    ({"matrix_depth": 0}, ValueError, "matrix_depth must be in the range [1, 16777216], not 0"),
    ({"max_layers": 0}, ValueError, "max_layers must be in the range [1, 256], not 0"),
    ({"max_layers": 257}, ValueError, "max_layers must be in the range [1, 256], not 257"),
])
def test_eie_validation_messages(kwargs, exc, message):
    with pytest.raises(exc) as info:
        EieConfig(**kwargs)
    assert str(info.value) == message


def test_sparse_mac_defaults_and_derived():
    cfg = SparseMacConfig()
    assert (cfg.n, cfg.m, cfg.groups) == (2, 4, 1)
    assert not cfg.dense
    assert cfg.idx_bits == 2
    assert cfg.lanes == 4 and cfg.mults == 2
    assert cfg.prod_bits == 32 and cfg.out_bits == 16
    wide = SparseMacConfig(n=4, m=8, groups=3, act_bits=8, w_bits=8, acc_bits=24, w_frac_bits=6)
    assert wide.idx_bits == 3 and wide.lanes == 24 and wide.mults == 12
    assert wide.prod_bits == 16 and wide.out_bits == 8
    dense = SparseMacConfig(n=4, m=4)
    assert dense.dense
    # m = 1 still needs a 1-bit index port.
    assert SparseMacConfig(n=1, m=1).idx_bits == 1
    assert SparseMacConfig.from_dict(wide.to_dict()) == wide


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"m": 0}, ValueError, "m must be in the range [1, 64], not 0"),
    ({"m": 128}, ValueError, "m must be in the range [1, 64], not 128"),
    ({"m": 6, "n": 2}, ValueError, "m must be a power of two, not 6"),
    ({"n": 0}, ValueError, "n must be at least 1, not 0"),
    ({"n": 5, "m": 4}, ValueError, "n must not exceed m (4), not 5"),
    ({"groups": 0}, ValueError, "groups must be in the range [1, 256], not 0"),
    ({"act_bits": 1}, ValueError, "act_bits must be in the range [2, 32], not 1"),
    ({"w_bits": 33}, ValueError, "w_bits must be in the range [2, 32], not 33"),
    ({"acc_bits": 31}, ValueError, "acc_bits must be in the range [32, 62], not 31"),
    ({"act_bits": 8, "w_bits": 8, "acc_bits": 15}, ValueError,
     "acc_bits must be in the range [16, 62], not 15"),
    ({"w_frac_bits": 16}, ValueError, "w_frac_bits must be in the range [0, 15], not 16"),
    ({"w_bits": 8, "acc_bits": 24, "w_frac_bits": 8}, ValueError,
     "w_frac_bits must be in the range [0, 7], not 8"),
    ({"relu": 1}, TypeError, "relu must be a bool, not 1"),
    ({"n": "2"}, TypeError, "n must be an integer, not '2'"),
])
def test_sparse_mac_validation_messages(kwargs, exc, message):
    with pytest.raises(exc) as info:
        SparseMacConfig(**kwargs)
    assert str(info.value) == message


def test_sparse_tile_defaults_and_round_trip():
    from sw_model.config import SparseTileConfig

    tile = SparseTileConfig(mac=SparseMacConfig(n=1, m=4, groups=2), units=3, weight_depth=17)
    assert tile.max_blocks == 17
    assert SparseTileConfig().mac == SparseMacConfig()
    assert SparseTileConfig.from_dict(tile.to_dict()) == tile


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"mac": {"n": 2}}, TypeError, "mac must be a SparseMacConfig, not {'n': 2}"),
    ({"units": 0}, ValueError, "units must be in the range [1, 256], not 0"),
    ({"act_depth": 0}, ValueError, "act_depth must be in the range [1, 1048576], not 0"),
    ({"weight_depth": 0}, ValueError, "weight_depth must be in the range [1, 16777216], not 0"),
])
def test_sparse_tile_validation_messages(kwargs, exc, message):
    from sw_model.config import SparseTileConfig

    with pytest.raises(exc) as info:
        SparseTileConfig(**kwargs)
    assert str(info.value) == message
