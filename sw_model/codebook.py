"""Weight sharing (Deep Compression, Han et al. 2016): a 16-entry codebook per layer.

:func:`share_weights` turns a pruned float matrix into 4-bit codebook indices
and a codebook of signed 16-bit fixed-point shared weights, the two inputs of
:func:`sw_model.eie_format.encode`. The rules:

* index 0 is reserved for the exact value 0: a weight is 0 if and only if its
  index is 0, and ``codebook[0] == 0``;
* the nonzero weights are clustered by 1-D k-means into ``n_clusters`` (at most
  15) centroids. The centroids start evenly spaced between the smallest and the
  largest nonzero weight (*linear* initialisation, which Deep Compression found
  best because it keeps the rare large weights) and Lloyd iterations run until
  no assignment changes. A cluster that becomes empty keeps its centroid;
* when the nonzero weights take at most ``n_clusters`` distinct values, those
  values are the centroids (sorted), so such a matrix is represented exactly up
  to the fixed-point rounding;
* the centroids are quantized with :func:`sw_model.fixed.to_fixed` (round half
  up, saturate) and every nonzero weight takes the index, 1 .. ``n_clusters``,
  of the nearest *quantized* centroid (ties to the lower index). Two
  centroids may quantize to the same value and a tiny centroid may quantize to
  0; the indices stay nonzero either way;
* codebook entries after the last centroid are 0 and no index refers to them.

Everything is deterministic: the same weights always give the same codebook.
"""

import numpy as np

from .eie_format import CODEBOOK_SIZE
from .fixed import W_BITS, check_int, from_fixed, int_range, to_fixed
from .prune import check_weights

__all__ = ["share_weights", "kmeans_1d"]


def _assign(sorted_x, centroids):
    """Index of the nearest centroid for sorted values (centroids ascending)."""
    # Nearest of sorted centroids = which midpoint interval a value falls in;
    # side="left" sends a value on a midpoint to the lower centroid.
    mids = (centroids[1:] + centroids[:-1]) / 2
    return np.searchsorted(mids, sorted_x, side="left")


def kmeans_1d(x, n_clusters, *, iterations=300):
    """Lloyd's k-means of 1-D data with linear initialisation.

    Returns ``(centroids, n_iterations, converged)``; the centroids are
    ascending floats. Runs on the sorted data with prefix sums, so every
    iteration costs ``O(n_clusters log len(x))`` after one sort. ``x`` holds
    finite real numbers whose sums and differences are finite in ``float64``.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"x must hold real numbers, not an array of dtype {arr.dtype}")
    x = np.sort(arr.astype(np.float64).ravel())
    if x.size == 0:
        raise ValueError("x must hold at least one value")
    # NaN sorts last; -inf first and +inf last.
    if not (np.isfinite(x[0]) and np.isfinite(x[-1])):
        bad = float(x[-1] if not np.isfinite(x[-1]) else x[0])
        raise ValueError(f"x must hold only finite values, but holds {bad!r}")
    n_clusters = check_int("n_clusters", n_clusters, lo=1)
    iterations = check_int("iterations", iterations, lo=1)
    with np.errstate(over="ignore", invalid="ignore"):
        prefix = np.concatenate(([0.0], np.cumsum(x)))
        spread = x[-1] - x[0]
    if not (np.isfinite(spread) and np.all(np.isfinite(prefix))):
        raise ValueError(f"x must hold values whose sums and differences are finite in "
                         f"float64, not values up to {float(max(-x[0], x[-1]))!r} in magnitude")
    centroids = np.linspace(x[0], x[-1], n_clusters)
    bounds = None
    for it in range(1, iterations + 1):
        # Each cluster is a contiguous run of the sorted data.
        new_bounds = np.searchsorted(_assign(x, centroids), np.arange(n_clusters + 1))
        if bounds is not None and np.array_equal(new_bounds, bounds):
            return centroids, it - 1, True
        bounds = new_bounds
        sizes = np.diff(bounds)
        sums = prefix[bounds[1:]] - prefix[bounds[:-1]]
        filled = sizes > 0
        centroids = centroids.copy()
        centroids[filled] = sums[filled] / sizes[filled]
        # Means of ordered contiguous runs stay ordered, but an empty cluster
        # keeping its old centroid could break the order; keep it sorted.
        centroids = np.maximum.accumulate(centroids)
    return centroids, iterations, False


def share_weights(w, *, n_clusters=15, w_frac_bits=12, iterations=300):
    """Quantize ``w`` to codebook indices and a 16-entry fixed-point codebook.

    Parameters
    ----------
    w : array of float, 2-D
        Pruned weights; zeros stay zeros (index 0).
    n_clusters : int
        Shared nonzero weights, 1 .. 15.
    w_frac_bits : int
        Fractional bits of the signed 16-bit shared weights.
    iterations : int
        Most Lloyd iterations; the report says whether k-means converged.

    Returns
    -------
    indices : numpy.ndarray
        ``int64``, the shape of ``w``, values 0 .. ``n_clusters``.
    codebook : numpy.ndarray
        ``int64`` shape ``(16,)``, ``codebook[0] == 0``.
    report : dict
        ``rms_error`` and ``max_error`` of ``from_fixed(codebook[indices])``
        against ``w`` (over all weights), ``relative_error`` (the Frobenius
        norm of the error over that of ``w``; 0 for an all-zero ``w``),
        ``iterations``, ``converged``, ``distinct`` (distinct nonzero values of
        ``w``), ``centroids`` (the float centroids before quantization) and
        ``saturated``: how many nonzero weights lie beyond the range of the
        shared-weight format (``to_fixed`` of the weight would saturate), so
        that no codebook entry can hold them; 0 when ``w_frac_bits`` suits
        the weights.
    """
    w = check_weights(w)
    n_clusters = check_int("n_clusters", n_clusters, lo=1, hi=CODEBOOK_SIZE - 1)
    w_frac_bits = check_int("w_frac_bits", w_frac_bits, lo=0, hi=W_BITS - 1)
    iterations = check_int("iterations", iterations, lo=1)

    indices = np.zeros(w.shape, dtype=np.int64)
    codebook = np.zeros(CODEBOOK_SIZE, dtype=np.int64)
    nonzero = w != 0
    values = w[nonzero]
    distinct = np.unique(values)
    if values.size == 0:
        centroids, n_iter, converged = np.zeros(0), 0, True
    elif distinct.size <= n_clusters:
        centroids, n_iter, converged = distinct, 0, True
    else:
        centroids, n_iter, converged = kmeans_1d(values, n_clusters, iterations=iterations)

    if centroids.size:
        quantized = to_fixed(centroids, w_frac_bits, bits=W_BITS)
        codebook[1:1 + quantized.size] = quantized
        indices[nonzero] = 1 + _assign(values, from_fixed(quantized, w_frac_bits))

    # Quantized one bit wider, a weight beyond the shared-weight range still
    # lands outside it (where the W_BITS format would clip it).
    lo, hi = int_range(W_BITS)
    wide = to_fixed(values, w_frac_bits, bits=W_BITS + 1)
    saturated = int(np.count_nonzero((wide < lo) | (wide > hi)))
    error = from_fixed(codebook[indices], w_frac_bits) - w
    norm = float(np.sqrt(np.sum(w * w)))
    report = {
        "rms_error": float(np.sqrt(np.mean(error * error))) if w.size else 0.0,
        "max_error": float(np.max(np.abs(error))) if w.size else 0.0,
        "relative_error": float(np.sqrt(np.sum(error * error))) / norm if norm else 0.0,
        "iterations": n_iter,
        "converged": converged,
        "distinct": int(distinct.size),
        "centroids": np.asarray(centroids, dtype=np.float64),
        "saturated": saturated,
    }
    return indices, codebook, report
