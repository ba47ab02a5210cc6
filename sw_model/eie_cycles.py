"""Cycle model of the EIE PE array RTL (``hw/eie``): exact cycle counts.

This is part of the golden model: for a configuration, a chain of encoded
layers and the input activations it predicts the RTL's run time and its per-PE
counters *exactly*, from a handful of named latencies that the RTL reports as
``EieArray.timing`` (an :class:`~sw_model.config.EieTiming`, also written to the
design's side-car). ``docs/eie.md`` derives the formula; in short, per layer
(cycle 0 is the layer's START cycle):

* The leading-nonzero detector (LNZD) scans the input activations in groups of
  ``n_pe`` columns (one local address across all PEs). Its first slot is cycle
  ``lnzd_first``. A group with ``k`` nonzero activations takes ``k`` slots, a
  group with none takes one slot. Nonzero column ``k`` is offered at
  ``a_k = b_{k-1} + 1 + e_k`` (``e_k`` all-zero groups in between) and
  broadcast at ``b_k = max(a_k, max_p U^p)``, ``U^p`` the cycle in which PE
  ``p``'s most recent non-empty column left the pointer stage for its queue.
* A PE ignores columns in which it has no entries. A column with ``n > 0``
  entries is pushed into the queue at ``U = max(b + ptr_latency - 1,
  S_{m - D})`` (the queue, depth ``D``, has room once the PE's ``D``-th most
  recent column started issuing), starts issuing at ``S = max(U + 1, F + 1)``
  and issues one entry per cycle until ``F = S + n - 1``.
* The layer's compute phase ends when the LNZD is done (``lnzd_done`` after its
  last slot), the pointer stage has emptied (``ptr_drain`` after the last
  broadcast) and every PE's pipeline has drained (``pe_drain`` after its last
  issue). Then the requantization pass takes one cycle per local output row,
  ``ceil(n_rows / n_pe)``, plus ``requant_extra``.

Counters: ``busy[p]`` counts cycles PE ``p`` issues an entry; ``stall[p]``
counts cycles the LNZD offered an activation while PE ``p`` was not ready (its
pointer stage held a column its full queue could not take);
``idle[p] = cycles - busy[p]``.
"""

from dataclasses import dataclass

import numpy as np

from .config import EieTiming
from .eie_format import EieLayer
from .eie_model import check_acts, eie_chain

__all__ = ["LayerCycles", "layer_cycles", "chain_cycles"]

_NEVER = -(1 << 40)


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


def layer_cycles(layer, acts, *, config, timing):
    """Predict the RTL's cycles and per-PE counters for one layer.

    ``acts`` are the layer's input activations (only which are nonzero
    matters); ``config`` an :class:`~sw_model.config.EieConfig`; ``timing`` the
    :class:`~sw_model.config.EieTiming` of the array (``EieArray.timing``, or
    the design's side-car).
    """
    _check_layer(layer, config)
    _check_timing(timing)
    acts = check_acts(acts, layer.n_cols)
    n_pe, depth = config.n_pe, config.queue_depth
    lanes = np.arange(n_pe)
    lengths = np.diff(layer.ptr, axis=1)
    n_groups = -(-layer.n_cols // n_pe)

    # ring[p, m % depth] holds the issue start S of PE p's item m - depth
    # (_NEVER until the PE has queued depth items): item m can only be pushed
    # into the queue once that item has been popped.
    ring = np.full((n_pe, depth), _NEVER, dtype=np.int64)
    queued = np.zeros(n_pe, dtype=np.int64)
    last_issue = np.full(n_pe, _NEVER, dtype=np.int64)
    # Cycle in which each PE's most recent non-empty column leaves stage P.
    last_push = np.full(n_pe, _NEVER, dtype=np.int64)
    busy = np.zeros(n_pe, dtype=np.int64)
    stall = np.zeros(n_pe, dtype=np.int64)
    b = timing.lnzd_first - 1
    group = -1
    for col in np.flatnonzero(acts):
        g = col // n_pe
        a = b + 1 + (g - group - 1 if g != group else 0)
        b = max(a, int(last_push.max()))
        stall += np.clip(np.minimum(b, last_push) - a, 0, None)
        n = lengths[:, col]
        has = n > 0
        push = np.maximum(b + timing.ptr_latency - 1, ring[lanes, queued % depth])
        start = np.maximum(push + 1, last_issue + 1)
        ring[lanes[has], queued[has] % depth] = start[has]
        queued += has
        last_push = np.where(has, push, last_push)
        last_issue = np.where(has, start + n - 1, last_issue)
        busy += n
        group = g
    last_slot = b + (n_groups - 1 - group)
    drained = max(last_slot + timing.lnzd_done, b + timing.ptr_drain,
                  int(last_issue.max()) + timing.pe_drain)
    out_rows = -(-layer.n_rows // n_pe)
    cycles = drained + out_rows + timing.requant_extra
    return LayerCycles(cycles, busy, stall, int(busy.sum()), n_pe)


def chain_cycles(layers_relus, acts, *, config, timing):
    """Predict the cycles of a chain of ``(EieLayer, relu)`` layers run back to back.

    Each layer's input is the previous layer's output from
    :func:`sw_model.eie_model.eie_chain`, so zero outputs (after ReLU, say)
    cost no broadcast in the next layer. Returns ``(total, per_layer)``.
    """
    layers_relus = list(layers_relus)
    outputs = eie_chain(layers_relus, acts, config=config)
    inputs = [np.asarray(acts)] + outputs[:-1]
    per_layer = [layer_cycles(layer, x, config=config, timing=timing)
                 for (layer, _), x in zip(layers_relus, inputs, strict=True)]
    total = per_layer[0]
    for item in per_layer[1:]:
        total = total + item
    return total, per_layer
