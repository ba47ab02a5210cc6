"""Index decode: pick, for every kept weight, the activation its index points at."""

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from sw_model.config import SparseMacConfig

__all__ = ["NMSelect"]


class NMSelect(wiring.Component):
    """Activation multiplexers of an N:M MAC unit (combinational).

    For group ``g`` and kept entry ``j``, ``selected[g * n + j] = acts[g * m +
    indices[g * n + j]]``. Because the indices of a group are strictly
    ascending, entry ``j`` can only point at positions ``j`` to ``m - n + j``, so
    each multiplexer has ``m - n + 1`` inputs (3:1 for 2:4) rather than ``m``.
    In the dense baseline (``n == m``) that is a single input: the unit is plain
    wiring and has no ``indices`` port.

    An index outside its reachable range (a group whose indices are not
    ascending, which :func:`sw_model.nm_format.compress` never produces) selects
    position ``j``.

    Parameters
    ----------
    config : SparseMacConfig
        Pattern and widths.

    Members
    -------
    acts : In(ArrayLayout(signed(act_bits), m * groups))
    indices : In(ArrayLayout(unsigned(idx_bits), n * groups)), absent when dense
    selected : Out(ArrayLayout(signed(act_bits), n * groups))
    """

    def __init__(self, *, config):
        if not isinstance(config, SparseMacConfig):
            raise TypeError(f"config must be a SparseMacConfig, not {config!r}")
        self._config = config
        members = {
            "acts": In(data.ArrayLayout(signed(config.act_bits), config.lanes)),
            "selected": Out(data.ArrayLayout(signed(config.act_bits), config.mults)),
        }
        if not config.dense:
            members["indices"] = In(data.ArrayLayout(unsigned(config.idx_bits), config.mults))
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
        # Purely combinational: the MAC registers the selected activations.
        m = Module()
        cfg = self._config
        for g in range(cfg.groups):
            for j in range(cfg.n):
                out = self.selected[g * cfg.n + j]
                if cfg.dense:
                    m.d.comb += out.eq(self.acts[g * cfg.m + j])
                    continue
                with m.Switch(self.indices[g * cfg.n + j]):
                    for pos in range(j + 1, cfg.m - cfg.n + j + 1):
                        with m.Case(pos):
                            m.d.comb += out.eq(self.acts[g * cfg.m + pos])
                    with m.Default():
                        m.d.comb += out.eq(self.acts[g * cfg.m + j])
        return m
