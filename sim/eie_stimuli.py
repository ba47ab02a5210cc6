"""EIE jobs: chains of encoded layers with their input vectors, made and stored by the caller.

A :class:`Job` is built outside the simulator (by a test from a seed, by the
flow from a user's network) and written with :func:`save_jobs`; the testbench
reads exactly those layers and vectors back with :func:`load_jobs`. The stimulus
sets here are lists of jobs for one :class:`~sw_model.config.EieConfig` from a
NumPy generator, so a seed reproduces them.
"""

from dataclasses import dataclass

import numpy as np

from sw_model.eie_format import encode, layers_from_arrays, layers_to_arrays
from sw_model.fixed import int_range

__all__ = ["Job", "STIMULUS_SETS", "build_jobs", "save_jobs", "load_jobs"]


@dataclass
class Job:
    """``layers`` (a list of ``(EieLayer, relu)``) run on each row of ``acts``.

    ``acts`` is ``(vectors, inputs)``; a single vector is taken as one row.
    """

    name: str
    layers: list
    acts: np.ndarray

    def __post_init__(self):
        self.acts = np.atleast_2d(np.asarray(self.acts, dtype=np.int64))


def save_jobs(path, jobs, *, load):
    """Write ``jobs`` to ``path`` (``.npz``, no pickles) for a testbench.

    ``load`` says whether the testbench loads each job's layers through the
    host port (``False``: they are baked into the design).
    """
    arrays = {"jobs": np.array(len(jobs)), "load": np.array(bool(load))}
    for k, job in enumerate(jobs):
        arrays[f"job{k}_name"] = np.array(job.name)
        arrays[f"job{k}_acts"] = job.acts
        arrays.update(layers_to_arrays(job.layers, prefix=f"job{k}_"))
    np.savez(path, **arrays)


def load_jobs(data):
    """The ``(jobs, load)`` that :func:`save_jobs` wrote, from an opened ``.npz``."""
    jobs = [Job(str(data[f"job{k}_name"]), layers_from_arrays(data, prefix=f"job{k}_"),
                data[f"job{k}_acts"])
            for k in range(int(data["jobs"]))]
    return jobs, bool(data["load"])


def _codebook(rng, *, extreme=False):
    cb = np.zeros(16, dtype=np.int64)
    if extreme:
        lo, hi = int_range(16)
        cb[1:] = rng.choice([lo, hi, hi - 1, lo + 1], size=15)
    else:
        cb[1:] = rng.integers(-2048, 2048, size=15)
    return cb


def _indices(rng, n_out, n_in, density):
    idx = rng.integers(1, 16, size=(n_out, n_in))
    keep = rng.random((n_out, n_in)) < density
    return np.where(keep, idx, 0)


def _acts(rng, n_in, density, *, extreme=False):
    if extreme:
        lo, hi = int_range(16)
        vals = rng.choice([lo, hi], size=n_in)
    else:
        vals = rng.integers(-1024, 1024, size=n_in)
    vals[vals == 0] = 1
    return np.where(rng.random(n_in) < density, vals, 0).astype(np.int64)


def _layer(rng, config, n_out, n_in, density, *, extreme=False, bias=False):
    """A random layer of ``n_in`` inputs; with ``bias``, one more (bias) column."""
    idx = _indices(rng, n_out, n_in + int(bias), density)
    return encode(idx, _codebook(rng, extreme=extreme), config=config, bias=bias)


def _dims(rng, config, lo_rows=1):
    top = min(config.max_dim, 3 * config.n_pe + 5)
    return int(rng.integers(lo_rows, top + 1)), int(rng.integers(1, top + 1))


def _basic(rng, config):
    jobs = []
    for k in range(3):
        n_out, n_in = _dims(rng, config)
        jobs.append(Job(f"random_{k}", [(_layer(rng, config, n_out, n_in, 0.3), False)],
                        _acts(rng, n_in, 0.6)))
    return jobs


def _densities(rng, config):
    jobs = []
    for wd in (0.0, 0.01, 0.1, 0.5, 1.0):
        for ad in (0.0, 0.3, 1.0):
            n_out, n_in = _dims(rng, config)
            jobs.append(Job(f"w{wd}_a{ad}", [(_layer(rng, config, n_out, n_in, wd), False)],
                            _acts(rng, n_in, ad)))
    return jobs


def _special(rng, config):
    jobs = []
    # All-zero rows and columns inside an otherwise dense matrix.
    n_out, n_in = _dims(rng, config, lo_rows=2)
    idx = _indices(rng, n_out, n_in, 0.7)
    idx[rng.random(n_out) < 0.4, :] = 0
    idx[:, rng.random(n_in) < 0.4] = 0
    layer = encode(idx, _codebook(rng), config=config)
    jobs.append(Job("zero_rows_cols", [(layer, False)], _acts(rng, n_in, 0.8)))
    # Zero runs longer than 15 local rows force padding entries.
    n_out = min(config.max_dim, 40 * config.n_pe)
    n_in = int(rng.integers(1, min(config.max_dim, 12) + 1))
    idx = np.zeros((n_out, n_in), dtype=np.int64)
    for j in range(n_in):
        rows = rng.choice(n_out, size=min(n_out, 2), replace=False)
        idx[rows, j] = rng.integers(1, 16, size=rows.shape[0])
    idx[n_out - 1, 0] = 7
    layer = encode(idx, _codebook(rng), config=config)
    jobs.append(Job("padding", [(layer, False)], _acts(rng, n_in, 1.0)))
    # Extreme weights and activations: outputs saturate both ways.
    n_out, n_in = _dims(rng, config)
    jobs.append(Job("saturate",
                    [(_layer(rng, config, n_out, n_in, 0.8, extreme=True), False)],
                    _acts(rng, n_in, 1.0, extreme=True)))
    return jobs


def _chains(rng, config):
    jobs = []
    n_layers = min(3, config.max_layers)
    for k in range(2):
        dims = [int(rng.integers(1, min(config.max_dim, 2 * config.n_pe + 6) + 1))
                for _ in range(n_layers + 1)]
        layers = [(_layer(rng, config, dims[i + 1], dims[i], 0.4), i < n_layers - 1 or k == 0)
                  for i in range(n_layers)]
        jobs.append(Job(f"chain_{k}", layers, _acts(rng, dims[0], 0.7)))
    # A chain with a bias column in every layer (the array feeds it 1.0),
    # the last group of each layer full up to the bias column.
    dims = [int(rng.integers(1, min(config.max_dim, 2 * config.n_pe + 6))) for _ in range(3)]
    dims[1] = max(1, min(config.max_dim - 1, (dims[1] // config.n_pe + 1) * config.n_pe - 1))
    layers = [(_layer(rng, config, dims[i + 1], dims[i], 0.5, bias=True), i == 0)
              for i in range(2)]
    jobs.append(Job("bias_chain", layers, _acts(rng, dims[0], 0.6)))
    return jobs


#: Named stimulus sets; ``full`` is all of them.
STIMULUS_SETS = {
    "basic": _basic,
    "densities": _densities,
    "special": _special,
    "chains": _chains,
}


def build_jobs(name, config, rng):
    """The jobs of stimulus set ``name`` (or ``full``: every set) for ``config``."""
    if name == "full":
        return [job for build in STIMULUS_SETS.values() for job in build(rng, config)]
    if name not in STIMULUS_SETS:
        raise ValueError(f"Unknown stimulus set {name!r}; known: full, "
                         f"{', '.join(STIMULUS_SETS)}")
    return STIMULUS_SETS[name](rng, config)
