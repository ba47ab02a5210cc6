"""EIE jobs: chains of encoded layers with their input vectors, made and stored by the caller.

A :class:`Job` is built outside the simulator (by a test from a seed, by the
flow from a user's network) and written with :func:`save_jobs`; the testbench
reads exactly those layers and vectors back with :func:`load_jobs`. The stimulus
sets here are lists of jobs for one :class:`~sw_model.config.EieConfig` from a
NumPy generator, so a seed reproduces them.
"""

from dataclasses import dataclass

import numpy as np

from sw_model.config import EieConfig
from sw_model.eie_format import check_fits, encode, layers_from_arrays, layers_to_arrays
from sw_model.fixed import int_range

__all__ = ["Job", "STIMULUS_SETS", "small_config", "build_jobs", "save_jobs", "load_jobs"]


def small_config(n_pe, queue_depth, **kw):
    """A configuration small enough to simulate quickly, big enough for the stimulus sets.

    The regression's design points (``tests/test_eie_rtl.py``) and the mutation
    subjects (:mod:`sim.mutation`) are built from it; ``kw`` overrides fields.
    """
    args = dict(n_pe=n_pe, queue_depth=queue_depth, entries_per_word=4, act_depth=48,
                ptr_depth=512, matrix_depth=512, max_layers=4)
    args.update(kw)
    return EieConfig(**args)


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


def _wide(rng, size):
    """Random signed 16-bit values whose magnitudes spread evenly over 1 to 2**15."""
    lo, hi = int_range(16)
    mags = np.exp2(rng.uniform(0, 15, size=size)).astype(np.int64)
    return np.clip(rng.choice([-1, 1], size=size) * mags, lo, hi)


def _codebook(rng, *, extreme=False, wide=False):
    cb = np.zeros(16, dtype=np.int64)
    if extreme:
        lo, hi = int_range(16)
        cb[1:] = rng.choice([lo, hi, hi - 1, lo + 1], size=15)
    elif wide:
        cb[1:] = _wide(rng, 15)
    else:
        cb[1:] = rng.integers(-2048, 2048, size=15)
    return cb


def _indices(rng, n_out, n_in, density):
    idx = rng.integers(1, 16, size=(n_out, n_in))
    keep = rng.random((n_out, n_in)) < density
    return np.where(keep, idx, 0)


def _acts(rng, n_in, density, *, extreme=False, wide=False):
    if extreme:
        lo, hi = int_range(16)
        vals = rng.choice([lo, hi], size=n_in)
    elif wide:
        vals = _wide(rng, n_in)
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


def _fits(layers, config):
    """Whether ``layers`` fit the memories and the layer table of ``config``."""
    try:
        check_fits(layers, config)
    except ValueError:
        return False
    return True


def _hazards(rng, config, per_pe):
    """``per_pe`` rows per PE, every weight nonzero, operands of every magnitude."""
    n_out, n_in = min(config.max_dim, per_pe * config.n_pe), min(config.max_dim, 12)
    layer = encode(_indices(rng, n_out, n_in, 1.0), _codebook(rng, wide=True), config=config)
    return Job(f"hazards_{per_pe}", [(layer, False)], _acts(rng, n_in, 1.0, wide=True))


def _magnitudes(rng, config):
    """Operands of every magnitude over max_dim rows, half the weights nonzero."""
    n_in = min(config.max_dim, 12)
    layer = encode(_indices(rng, config.max_dim, n_in, 0.5), _codebook(rng, wide=True),
                   config=config)
    return Job("magnitudes", [(layer, False)], _acts(rng, n_in, 1.0, wide=True))


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
    # Every row of both accumulator banks of every PE, each written by one
    # layer and accumulated into again by a later one (whose first update of
    # a row must not see the older value): max_dim inputs (the host fills
    # bank 0), then three layers of max_dim -> max_dim (banks 1, 0, 1), all
    # max_dim outputs read back. Where the pointer and matrix memories do not
    # hold that, one layer of max_dim outputs.
    # Layers 2 and 3 leave about a third of their rows empty: an empty row
    # must read 0 although its bank holds an older value there.
    dim = config.max_dim
    chain = []
    for k, relu in enumerate((True, True, False)):
        idx = _indices(rng, dim, dim, 0.1)
        if k:
            idx[rng.random(dim) < 0.3, :] = 0
        chain.append((encode(idx, _codebook(rng), config=config), relu))
    acts = _acts(rng, dim, 1.0)
    if not _fits(chain, config):
        n_in = int(rng.integers(1, min(config.max_dim, 9) + 1))
        chain, acts = [(_layer(rng, config, dim, n_in, 0.3), False)], _acts(rng, n_in, 1.0)
    jobs.append(Job("full_depth", chain, acts))
    # Accumulator hazards with values over the whole range: 1, 2 and 3 rows
    # per PE and every weight nonzero, so updates meet the row of the update
    # 1, 2 or 3 cycles before (the bypasses), with magnitudes from 1 to
    # 2**15 in both operands, so every accumulator bit is exercised.
    jobs += [_hazards(rng, config, per_pe) for per_pe in (1, 2, 3)]
    # The same magnitudes over max_dim rows: sums of every size, from zero to
    # past saturation, in every PE.
    jobs.append(_magnitudes(rng, config))
    # Accumulators one below, at and one above every rounding and saturation
    # edge of the output stage, with and without ReLU.
    jobs += _requantization_edges(config)
    jobs += _powers(config)
    # Sums past the accumulator both ways (it wraps), where max_dim inputs
    # of the largest products reach that.
    lo, hi = int_range(16)
    n_in = (1 << (config.acc_bits - 1)) // (hi * hi) + 1
    if n_in <= config.max_dim:
        cb = np.zeros(16, dtype=np.int64)
        cb[1:3] = hi, lo
        idx = np.array([[1] * n_in, [2] * n_in] * config.n_pe, dtype=np.int64)
        wrap = encode(idx, cb, config=config)
        if _fits([wrap], config):
            jobs.append(Job("wrap", [(wrap, False)], np.full(n_in, hi, dtype=np.int64)))
    # Extreme weights and activations: outputs saturate both ways.
    n_out, n_in = _dims(rng, config)
    jobs.append(Job("saturate",
                    [(_layer(rng, config, n_out, n_in, 0.8, extreme=True), False)],
                    _acts(rng, n_in, 1.0, extreme=True)))
    return jobs


def _requantization_edges(config):
    """Rows whose sums sit on each side of the output stage's steps.

    The output (``sw_model.fixed.requantize``, shift ``w_frac_bits``) steps
    where the sum crosses ``(k << shift) - half`` = ``(2k - 1) * half``: for
    the outputs ``k`` next to zero and at both saturation limits. Three
    inputs of activation ``half`` carry the ``2k - 1`` and a fourth of
    activation 1 the offset -1, 0 or +1.
    """
    shift = config.w_frac_bits
    half = (1 << shift) >> 1
    lo, hi = int_range(16)
    cb = np.array([0, 1, -1, 3, -3, hi, lo] + [0] * 9, dtype=np.int64)
    code = {int(v): i for i, v in enumerate(cb[:7])}
    # 2k - 1 as three codebook values, for k = lo, lo + 1, -1, 0, 1, 2, hi, hi + 1.
    odd = {lo: (lo, lo, -1), lo + 1: (lo, lo, 1), -1: (-3, 0, 0), 0: (-1, 0, 0),
           1: (1, 0, 0), 2: (3, 0, 0), hi: (hi, hi, -1), hi + 1: (hi, hi, 1)}
    rows = [[code[w] for w in (*weights, delta)]
            for weights in odd.values() for delta in (-1, 0, 1)]
    idx = np.array(rows, dtype=np.int64)
    if half == 0 or idx.shape[0] > config.max_dim:
        return []
    layer = encode(idx, cb, config=config)
    acts = np.array([half, half, half, 1], dtype=np.int64)
    return [Job(f"requantization_edges_relu{int(relu)}", [(layer, relu)], acts)
            for relu in (False, True)]


def _powers(config):
    """Rows whose sums are +2**j and -2**j for every j the products reach (2**28).

    The codebook holds 2**m (m = 0..14); inputs 0..14 are 2**c and 15..29
    are -2**c, so each row has one nonzero weight. Every bit of an
    accumulator, and of the value the output stage saturates or passes, is
    the only one set (or clear) in some row.
    """
    if config.max_dim < 31:
        return []
    cb = np.array([0] + [1 << m for m in range(15)], dtype=np.int64)
    acts = np.array([1 << c for c in range(15)] + [-(1 << c) for c in range(15)],
                    dtype=np.int64)
    rows = []
    for j in range(29):
        c = min(j, 14)
        for negative in (False, True):
            row = np.zeros(30, dtype=np.int64)
            row[c + 15 * negative] = 1 + (j - c)
            rows.append(row)
    # The second job moves every row and every input by one, so each row and
    # each input (2**c as a layer input) lands on the neighbouring PE too.
    jobs = []
    for shift in (0, 1):
        idx = np.pad(np.array(rows), ((shift, 0), (shift, 0)))[:config.max_dim]
        jobs.append(Job(f"powers_{shift}", [(encode(idx, cb, config=config), False)],
                        np.pad(acts, (shift, 0))))
    return jobs


def _chains(rng, config):
    jobs = []
    # Up to four layers: every entry of a four-entry layer table in use.
    n_layers = min(4, config.max_layers)
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


def _fitting(make, config, densities):
    """``make(density)`` for the first of ``densities`` whose layers fit ``config``; or None."""
    for density in densities:
        layers = make(density)
        if _fits(layers, config):
            return layers
    return None


def _unit(config, idx):
    """The layer whose nonzero ``idx`` entries are all weight 1.0."""
    cb = np.zeros(16, dtype=np.int64)
    cb[1] = 1 << config.w_frac_bits
    return encode(np.asarray(idx, dtype=np.int64), cb, config=config)


def _identity(config, n):
    """An ``n -> n`` layer of weight 1.0: it passes its inputs through unchanged."""
    return _unit(config, np.eye(n, dtype=np.int64))


def _banks(rng, config):
    """Both accumulator banks of every PE as destination, source and output, run after run.

    The other sets mostly run one layer once, so bank 0 only holds inputs.
    Here every job runs several vectors through one loaded chain, so each run
    meets the valid flags and sums the run before it left in both banks.
    """
    jobs = []
    dim = config.max_dim
    n_layers = min(4, config.max_layers)
    # Four square layers of max_dim rows, or fewer where their pointers would
    # not fit ptr_depth (banks 1, 0, 1, 0; outputs read from bank 0), three
    # vectors. "deep_dense": every row of every layer written; "deep_empty":
    # a third of the rows of layers 2 to 4 empty, where a row must read 0
    # although its bank holds an older sum.
    relus = [k % 2 == 0 for k in range(n_layers)]
    deep = min(dim, (config.ptr_depth // n_layers - 2) // config.n_pe * config.n_pe)
    for name, empty in (("deep_dense", 0.0), ("deep_empty", 0.3)):
        # A fixed draw per layer, scaled down by the density until it fits.
        draws = [(rng.random((deep, deep)), rng.integers(1, 16, size=(deep, deep)),
                  rng.random(deep) < empty * (k > 0), _codebook(rng)) for k in range(n_layers)]

        def make(density, draws=draws):
            chain = []
            for (keep, idx, empty_rows, cb), relu in zip(draws, relus, strict=True):
                idx = np.where(keep < density, idx, 0)
                idx[empty_rows, :] = 0
                chain.append((encode(idx, cb, config=config), relu))
            return chain

        chain = _fitting(make, config, (0.15, 0.08, 0.04, 0.02, 0.01))
        if chain is not None:
            acts = np.stack([_acts(rng, deep, d) for d in (1.0, 0.5, 1.0)])
            jobs.append(Job(name, chain, acts))
    # The output-stage edges, the powers, the hazards and the magnitudes as
    # the second layer, behind a layer of weight 1.0: their sums accumulate
    # in bank 0 and are read from it.
    if config.max_layers >= 2:
        singles = (_requantization_edges(config) + _powers(config)
                   + [_hazards(rng, config, per_pe) for per_pe in (1, 3)]
                   + [_magnitudes(rng, config)])
        for job in singles:
            chain = [(_identity(config, job.layers[0][0].n_inputs), False)] + job.layers
            if _fits(chain, config):
                jobs.append(Job(f"{job.name}_bank0", chain, job.acts))
    # A row written in no cycle of a layer reads 0, however the row before
    # the layer ended: one run per local row k, whose inputs are nonzero
    # only on row k of every PE. Layer 1 (weight 1.0) accumulates row k into
    # bank 1, layer 2 moves it one row down into bank 0; each layer starts
    # while its PEs' last update was to another row of its bank (the other
    # layer's k or k - 1), which the last run wrote.
    if config.max_layers >= 2:
        rows = np.arange(dim)
        down = np.zeros((dim, dim), dtype=np.int64)
        down[(rows - config.n_pe) % dim, rows] = 1
        chain = [(_identity(config, dim), False), (_unit(config, down), False)]
        if _fits(chain, config):
            acts = np.where((rows // config.n_pe)[None, :] == np.arange(config.act_depth)[:, None],
                            _acts(rng, dim, 1.0)[None, :], 0)
            jobs.append(Job("last_rows", chain, acts))
    # A row's valid flag set by an update of the other bank: in a layer whose
    # first columns update every row of its bank early, the source bank's
    # rows past the first groups are read after those updates, and must
    # read 0 where the layer before wrote nothing (its inputs were zero),
    # although the run before left a value there. Layers of weight 1.0 carry
    # the first 2 * n_pe inputs only (vectors B) or every input (vectors A)
    # into bank 1 (two layers) or bank 0 (three).
    if config.max_layers >= 3:
        first = np.arange(dim) < 2 * config.n_pe
        dense = rng.integers(1, 16, size=(dim, dim))
        keep = rng.random((dim, dim))
        cb = _codebook(rng)
        full = _acts(rng, dim, 1.0)
        vectors = np.stack([full, np.where(first, full, 0)] * 2)
        for n_pass in (1, 2):
            def spread(density, n_pass=n_pass):
                idx = np.where(first[None, :] | (keep < density), dense, 0)
                return ([(_identity(config, dim), False)] * n_pass
                        + [(encode(idx, cb, config=config), False)])

            chain = _fitting(spread, config, (0.5, 0.2, 0.1, 0.05))
            if chain is not None:
                jobs.append(Job(f"early_rows_{n_pass}", chain, vectors))
    # Bursts: nonzero columns of many entries between runs of all-zero
    # groups of every length, so the LNZD alternates between taking a group
    # every cycle and holding one while the PEs' queues fill.
    heavy = rng.random(dim) < 0.3

    def bursty(density):
        idx = _indices(rng, dim, dim, 0.05)
        idx[:, heavy] = _indices(rng, dim, int(heavy.sum()), density)
        return [(encode(idx, _codebook(rng), config=config), False)]

    layers = _fitting(bursty, config, (0.8, 0.4, 0.2, 0.1))
    if layers is not None:
        acts = []
        for _ in range(3):
            a = np.zeros(dim, dtype=np.int64)
            col = 0
            while col < dim:
                col += int(rng.geometric(1 / 8)) * config.n_pe
                width = int(rng.integers(1, 4))
                a[col:col + width] = _acts(rng, dim, 1.0)[col:col + width]
                col += width
            acts.append(a)
        jobs.append(Job("bursts", layers, np.stack(acts)))
    return jobs


def _steps(rng, config):
    """Every row's sum one step of the output stage away from the next output.

    The output is ``(sum + half) >> w_frac_bits``: a sum with ``sum + half``
    a multiple of ``2**w_frac_bits`` gives a different output if anything
    takes from it, one a unit below such a multiple if anything adds to it.
    Here every weight is +1 or -1 (in units of ``2**-w_frac_bits``) and the
    inputs random (both signs of partial sum, every low bit pattern), the last
    input chosen so every row's sum sits at one of these two places. So an
    error in any partial sum, even in its lowest bit, changes an output. With
    1, 2 and 3 rows per PE and every weight nonzero, the partial sums pass
    through the bypasses of the update 1, 2 and 3 cycles before.
    """
    shift = config.w_frac_bits
    if shift == 0:
        return []
    step, half = 1 << shift, 1 << (shift - 1)
    n_in = min(config.max_dim, 12)
    jobs = []
    for per_pe in (1, 2, 3):
        n_out = min(config.max_dim, per_pe * config.n_pe)
        for sign in (1, -1):
            cb = np.zeros(16, dtype=np.int64)
            cb[1] = sign
            layer = encode(np.ones((n_out, n_in), dtype=np.int64), cb, config=config)
            vectors = []
            for below in (0, 1):
                # sign * sum + half = -below (mod step)
                want = (sign * (-below - half)) % step
                acts = rng.integers(1, 1 << 15, size=n_in)
                last = (want - int(acts[:-1].sum())) % step
                acts[-1] = last or step
                vectors.append(acts)
            name = f"steps_{per_pe}_{'pos' if sign > 0 else 'neg'}"
            jobs.append(Job(name, [(layer, False)], np.stack(vectors)))
    return jobs


def _deep_bias(rng, config):
    """A chain of up to four layers with a bias column in each: every table entry's bias."""
    n_layers = min(4, config.max_layers)
    top = min(config.max_dim, 2 * config.n_pe + 6)
    dims = [int(rng.integers(1, top)) for _ in range(n_layers + 1)]
    layers = [(_layer(rng, config, dims[i + 1], dims[i], 0.5, bias=True), i % 2 == 0)
              for i in range(n_layers)]
    return [Job("deep_bias", layers, _acts(rng, dims[0], 0.7))]


#: Named stimulus sets; ``full`` is all of them, in this order (a set added
#: last leaves the draws of the others as they were).
STIMULUS_SETS = {
    "basic": _basic,
    "densities": _densities,
    "special": _special,
    "chains": _chains,
    "banks": _banks,
    "steps": _steps,
    "deep_bias": _deep_bias,
}


def build_jobs(name, config, rng):
    """The jobs of stimulus set ``name`` (or ``full``: every set) for ``config``."""
    if name == "full":
        return [job for build in STIMULUS_SETS.values() for job in build(rng, config)]
    if name not in STIMULUS_SETS:
        raise ValueError(f"Unknown stimulus set {name!r}; known: full, "
                         f"{', '.join(STIMULUS_SETS)}")
    return STIMULUS_SETS[name](rng, config)
