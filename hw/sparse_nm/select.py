"""Index decode and activation selection of an N:M MAC unit."""

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from sw_model.config import SparseMacConfig

__all__ = ["NMIndexDecode", "NMSelect", "offset_bits"]


def _check(config):
    if not isinstance(config, SparseMacConfig):
        raise TypeError(f"config must be a SparseMacConfig, not {config!r}")
    return config


def offset_bits(config):
    """Bits of one multiplexer select (``ceil(log2(m - n + 1))``, at least 1)."""
    _check(config)
    return max(1, (config.m - config.n).bit_length())


class NMIndexDecode(wiring.Component):
    """Turn in-group indices into multiplexer selects (combinational).

    Because the indices of a group are strictly ascending, kept entry ``j`` can
    only point at positions ``j`` to ``m - n + j``; its select is the offset
    ``indices[g * n + j] - j``, from 0 to ``m - n``. An index outside the
    reachable range (a group whose indices are not ascending, which
    :func:`sw_model.nm_format.compress` never produces) selects offset 0.

    The MAC registers ``offsets``: one decode per multiplier, shared by all
    ``act_bits`` bit multiplexers of that multiplier, off the path from the
    weight memory.

    Parameters
    ----------
    config : SparseMacConfig
        Pattern and widths; not dense (the dense unit has no indices).

    Members
    -------
    indices : In(ArrayLayout(unsigned(idx_bits), n * groups))
    offsets : Out(ArrayLayout(unsigned(offset_bits), n * groups))
    """

    def __init__(self, *, config):
        _check(config)
        if config.dense:
            raise ValueError(f"config must be sparse (n < m) to have indices, not "
                             f"{config.n}:{config.m}")
        self._config = config
        super().__init__({
            "indices": In(data.ArrayLayout(unsigned(config.idx_bits), config.mults)),
            "offsets": Out(data.ArrayLayout(unsigned(offset_bits(config)), config.mults)),
        })

    @property
    def config(self):
        """The :class:`SparseMacConfig` this block was built from."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        for g in range(cfg.groups):
            for j in range(cfg.n):
                k = g * cfg.n + j
                with m.Switch(self.indices[k]):
                    for pos in range(j + 1, cfg.m - cfg.n + j + 1):
                        with m.Case(pos):
                            m.d.comb += self.offsets[k].eq(pos - j)
                    with m.Default():
                        m.d.comb += self.offsets[k].eq(0)
        return m


class NMSelect(wiring.Component):
    """Activation multiplexers of an N:M MAC unit (combinational).

    For group ``g`` and kept entry ``j``, ``selected[g * n + j] = acts[g * m + j +
    offsets[g * n + j]]`` (see :class:`NMIndexDecode`), so each multiplexer has
    ``m - n + 1`` inputs (3:1 for 2:4) rather than ``m``. In the dense baseline
    (``n == m``) that is a single input: the block is plain wiring and has no
    ``offsets`` port. An offset above ``m - n`` selects offset 0.

    Parameters
    ----------
    config : SparseMacConfig
        Pattern and widths.

    Members
    -------
    acts : In(ArrayLayout(signed(act_bits), m * groups))
    offsets : In(ArrayLayout(unsigned(offset_bits), n * groups)), absent when dense
    selected : Out(ArrayLayout(signed(act_bits), n * groups))
    """

    def __init__(self, *, config):
        self._config = _check(config)
        members = {
            "acts": In(data.ArrayLayout(signed(config.act_bits), config.lanes)),
            "selected": Out(data.ArrayLayout(signed(config.act_bits), config.mults)),
        }
        if not config.dense:
            members["offsets"] = In(data.ArrayLayout(unsigned(offset_bits(config)),
                                                     config.mults))
        super().__init__(members)

    @property
    def config(self):
        """The :class:`SparseMacConfig` this block was built from."""
        return self._config

    @property
    def mux_inputs(self):
        """Inputs of each activation multiplexer (``m - n + 1``)."""
        return self._config.m - self._config.n + 1

    def elaborate(self, platform):
        # Purely combinational: the multipliers register the selected activations.
        m = Module()
        cfg = self._config
        for g in range(cfg.groups):
            for j in range(cfg.n):
                out = self.selected[g * cfg.n + j]
                if cfg.dense:
                    m.d.comb += out.eq(self.acts[g * cfg.m + j])
                    continue
                with m.Switch(self.offsets[g * cfg.n + j]):
                    for off in range(1, cfg.m - cfg.n + 1):
                        with m.Case(off):
                            m.d.comb += out.eq(self.acts[g * cfg.m + j + off])
                    with m.Default():
                        m.d.comb += out.eq(self.acts[g * cfg.m + j])
        return m
