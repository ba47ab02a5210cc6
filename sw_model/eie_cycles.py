"""Cycle model of the EIE PE array RTL (``hw/eie``): exact cycle counts.

This is part of the golden model: for a configuration, a chain of encoded
layers and the input activations it predicts the RTL's run time and its per-PE
counters *exactly*, from the named latencies that the RTL reports as
``EieArray.timing`` (an :class:`~sw_model.config.EieTiming`, also written to the
design's side-car). ``docs/eie.md`` derives the formula; per layer (cycle 0 is
the layer's START cycle, ``C`` the queue depth, which is also the credits):

* **Group reads.** The input activations are read in groups of ``n_pe``
  columns (one local address in every PE), requantized on the fly from the
  previous layer's accumulators. Group ``g`` is read at
  ``R_g = max(R_{g-1} + 1, Q_{g - group_slots} + 1)`` (``R_0 = read_first``)
  and the LNZD can take it from ``R_g + group_latency``.
* **LNZD.** It takes group ``g`` at ``Q_g = max(free, R_g + group_latency)``.
  An all-zero group takes that one cycle (``free = Q_g + 1``); otherwise its
  nonzero columns are offered one after the other, the first at ``Q_g + 1``,
  each next one the cycle after the previous broadcast, and the next group
  can be taken in the cycle of the last broadcast (``free = b_last``).
* **Credits.** Column ``k`` (the ``k``-th broadcast of the layer) is broadcast
  at ``b_k = max(a_k, max_p t_p)``, where ``t_p`` is, once ``k >= C``, the
  ``(k - C + 1)``-th earliest cycle at which one of PE ``p``'s credits came
  back (``credit_return`` after the PE released the slot: popped the item, or
  dropped an empty column in its pointer stage).
* **PEs.** A column reaches PE ``p``'s pointer stage at ``U = b + ptr_latency``.
  With no entries for the PE it is dropped there (released at ``U``);
  otherwise it is queued and starts issuing at ``S = max(U + 1, F + 1)``
  (released at ``S``), ``F`` the previous column's last issue, and issues one
  entry per cycle until ``S + n - 1``. Credits guarantee the queue has room.
* **End.** The layer's last cycle is ``E = max(T, I + idle_latency)``: ``T``
  the first cycle after the LNZD's last group or broadcast, ``I`` the first
  cycle every PE is idle (``pe_drain`` after its last issue, one after the
  last column's pointer stage). The layer takes ``E + 1`` cycles; there is no
  requantization or clear pass (the next layer requantizes as it reads).

Counters: ``busy[p]`` counts cycles PE ``p`` issues an entry; ``stall[p]``
counts cycles the LNZD offered a column while PE ``p`` had no credit;
``idle[p] = cycles - busy[p]``.
"""

from dataclasses import dataclass

import numpy as np

from .config import EieConfig, EieTiming
from .eie_format import EieLayer
from .eie_model import check_acts, eie_chain

__all__ = ["LayerCycles", "column_acts", "layer_cycles", "chain_cycles"]

_NEVER = -(1 << 40)
_FAR = 1 << 62


@dataclass(frozen=True)
class LayerCycles:
    """Predicted cycles of one layer or of a chain of layers.

    ``busy``, ``stall`` and ``idle`` are ``int64`` arrays with one value per PE;
    ``entries`` is the number of entries (padding included) the PEs process,
    i.e. those in columns with a nonzero input activation.
    """

    cycles: int
    busy: np.ndarray
    stall: np.ndarray
    entries: int
    n_pe: int

    @property
    def idle(self):
        """Cycles each PE issues nothing."""
        return self.cycles - self.busy

    @property
    def ideal(self):
        """Cycles with perfect load balance and no overhead: entries / n_pe."""
        return self.entries / self.n_pe

    @property
    def efficiency(self):
        """Load-balance efficiency ``ideal / cycles``."""
        return self.ideal / self.cycles if self.cycles else 1.0

    def __add__(self, other):
        return LayerCycles(self.cycles + other.cycles, self.busy + other.busy,
                           self.stall + other.stall, self.entries + other.entries, self.n_pe)


def _check_config(config):
    if not isinstance(config, EieConfig):
        raise TypeError(f"config must be an EieConfig, not {config!r}")
    return config


def _check_layer(layer, config):
    if not isinstance(layer, EieLayer):
        raise TypeError(f"layer must be an EieLayer, not {layer!r}")
    if layer.n_pe != config.n_pe:
        raise ValueError(f"layer is encoded for n_pe = {layer.n_pe}, "
                         f"but the configuration has n_pe = {config.n_pe}")


def _check_timing(timing):
    if not isinstance(timing, EieTiming):
        raise TypeError(f"timing must be an EieTiming (from EieArray.timing or the design's "
                        f"side-car), not {timing!r}")
    return timing


def column_acts(layer, acts, *, config):
    """The activation of every column a layer scans: the inputs, then 1.0 for a bias column."""
    _check_config(config)
    if not isinstance(layer, EieLayer):
        raise TypeError(f"layer must be an EieLayer, not {layer!r}")
    acts = check_acts(acts, layer.n_inputs)
    if layer.bias:
        acts = np.concatenate([acts, [1 << config.act_frac_bits]])
    return acts


def layer_cycles(layer, acts, *, config, timing):
    """Predict the RTL's cycles and per-PE counters for one layer.

    ``acts`` are the layer's input activations (only which are nonzero
    matters; a bias column counts as one more nonzero); ``config`` an
    :class:`~sw_model.config.EieConfig`; ``timing`` the
    :class:`~sw_model.config.EieTiming` of the array (``EieArray.timing``, or
    the design's side-car).
    """
    _check_config(config)
    _check_layer(layer, config)
    _check_timing(timing)
    nonzero = column_acts(layer, acts, config=config) != 0
    n_pe, credits = config.n_pe, config.queue_depth
    lanes = np.arange(n_pe)
    lengths = np.diff(layer.ptr, axis=1)
    n_groups = -(-layer.n_cols // n_pe)

    # pending[p, :] holds the cycles from which PE p's outstanding credits
    # count again; once C broadcasts are out, each broadcast waits for (and
    # uses up) the earliest of them.
    pending = np.full((n_pe, credits), _FAR, dtype=np.int64)
    last_issue = np.full(n_pe, _NEVER, dtype=np.int64)
    busy = np.zeros(n_pe, dtype=np.int64)
    stall = np.zeros(n_pe, dtype=np.int64)
    reads, takes = [], []
    free, broadcasts, b = 0, 0, _NEVER
    for g in range(n_groups):
        read = timing.read_first if g == 0 else reads[-1] + 1
        if g >= timing.group_slots:
            read = max(read, takes[g - timing.group_slots] + 1)
        reads.append(read)
        take = max(free, read + timing.group_latency)
        takes.append(take)
        cols = g * n_pe + np.flatnonzero(nonzero[g * n_pe:(g + 1) * n_pe])
        if cols.size == 0:
            free = end_scan = take + 1
            continue
        offer = take + 1
        for col in cols:
            if broadcasts >= credits:
                slot = pending.argmin(axis=1)
                ready = pending[lanes, slot]
                b = max(offer, int(ready.max()))
                stall += np.clip(np.minimum(ready, b) - offer, 0, None)
            else:
                slot = np.full(n_pe, broadcasts)
                b = offer
            n = lengths[:, col]
            has = n > 0
            stage_p = b + timing.ptr_latency
            start = np.maximum(stage_p + 1, last_issue + 1)
            pending[lanes, slot] = np.where(has, start, stage_p) + timing.credit_return
            last_issue = np.where(has, start + n - 1, last_issue)
            busy += n
            broadcasts += 1
            offer = b + 1
        free, end_scan = b, b + 1
    idle = _NEVER
    if broadcasts:
        idle = max(b + timing.ptr_latency + 1, int(last_issue.max()) + timing.pe_drain)
    last = max(end_scan, idle + timing.idle_latency)
    return LayerCycles(last + 1, busy, stall, int(busy.sum()), n_pe)


def chain_cycles(layers_relus, acts, *, config, timing):
    """Predict the cycles of a chain of ``(EieLayer, relu)`` layers run back to back.

    Each layer's input is the previous layer's output from
    :func:`sw_model.eie_model.eie_chain`, so zero outputs (after ReLU, say)
    cost no broadcast in the next layer. Returns ``(total, per_layer)``.
    """
    _check_config(config)
    _check_timing(timing)
    layers_relus = list(layers_relus)
    outputs = eie_chain(layers_relus, acts, config=config)
    inputs = [np.asarray(acts)] + outputs[:-1]
    per_layer = [layer_cycles(layer, x, config=config, timing=timing)
                 for (layer, _), x in zip(layers_relus, inputs, strict=True)]
    total = per_layer[0]
    for item in per_layer[1:]:
        total = total + item
    return total, per_layer
