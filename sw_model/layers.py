"""Benchmark layers: the EIE paper's Table III and random layers at an exact density.

The golden-model, cycle-model and RTL benchmarks all draw their workloads from
here, so they measure the same layers.
"""

from dataclasses import dataclass

import numpy as np

from .eie_format import CODEBOOK_SIZE
from .fixed import check_int

__all__ = ["BenchLayer", "table3_layers", "random_layer"]


@dataclass(frozen=True)
class BenchLayer:
    """One row of Table III of the EIE paper (Han et al., ISCA 2016).

    ``n_in`` x ``n_out`` is the paper's "size" column (inputs x outputs; the
    weight matrix is ``n_out`` x ``n_in``). ``load_balance`` is the paper's
    load-balance efficiency with a FIFO depth of 8 (its Figure 8), as a
    fraction.
    """

    name: str
    n_in: int
    n_out: int
    w_density: float
    act_density: float
    load_balance: float


def table3_layers():
    """The nine benchmark layers of the EIE paper, in the paper's order."""
    return [
        BenchLayer("Alex-6", 9216, 4096, 0.09, 0.351, 0.93),
        BenchLayer("Alex-7", 4096, 4096, 0.09, 0.353, 0.96),
        BenchLayer("Alex-8", 4096, 1000, 0.25, 0.375, 0.90),
        BenchLayer("VGG-6", 25088, 4096, 0.04, 0.183, 0.82),
        BenchLayer("VGG-7", 4096, 4096, 0.04, 0.375, 0.91),
        BenchLayer("VGG-8", 4096, 1000, 0.23, 0.411, 0.87),
        BenchLayer("NT-We", 4096, 600, 0.10, 1.00, 0.65),
        BenchLayer("NT-Wd", 600, 8791, 0.11, 1.00, 0.94),
        BenchLayer("NT-LSTM", 1201, 2400, 0.10, 1.00, 0.87),
    ]


def _check_density(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in the range [0, 1], not {value!r}")
    return float(value)


def _exact_positions(rng, size, density):
    """``round(density * size)`` distinct positions out of ``size``, sorted."""
    count = int(round(density * size))
    return np.sort(rng.choice(size, size=count, replace=False))


def random_layer(n_in, n_out, w_density, act_density, seed):
    """A random layer at exactly the given densities.

    Returns ``(indices, codebook, acts)``: ``indices`` is an ``int64`` matrix
    ``(n_out, n_in)`` with ``round(w_density * n_in * n_out)`` nonzero entries
    at positions drawn uniformly without replacement, each a uniform codebook
    index 1..15; ``codebook`` holds 0 and 15 distinct nonzero shared weights in
    ``[-2048, 2047]`` (up to +-0.5 with 12 fractional bits); ``acts`` has
    ``round(act_density * n_in)`` nonzero activations in ``[-1024, 1023]``
    (up to +-4.0 with 8 fractional bits) at uniform positions. The same
    arguments always give the same layer.
    """
    n_in = check_int("n_in", n_in, lo=1)
    n_out = check_int("n_out", n_out, lo=1)
    w_density = _check_density("w_density", w_density)
    act_density = _check_density("act_density", act_density)
    seed = check_int("seed", seed, lo=0)
    rng = np.random.default_rng(seed)

    nonzero_weights = np.concatenate((np.arange(-2048, 0), np.arange(1, 2048)))
    codebook = np.zeros(CODEBOOK_SIZE, dtype=np.int64)
    codebook[1:] = np.sort(rng.choice(nonzero_weights, size=CODEBOOK_SIZE - 1, replace=False))

    indices = np.zeros(n_out * n_in, dtype=np.int64)
    pos = _exact_positions(rng, n_out * n_in, w_density)
    indices[pos] = rng.integers(1, CODEBOOK_SIZE, size=pos.shape[0])
    indices = indices.reshape(n_out, n_in)

    nonzero_acts = np.concatenate((np.arange(-1024, 0), np.arange(1, 1024)))
    acts = np.zeros(n_in, dtype=np.int64)
    pos = _exact_positions(rng, n_in, act_density)
    acts[pos] = rng.choice(nonzero_acts, size=pos.shape[0])
    return indices, codebook, acts
