"""Weight sharing: reserved zero index, linear-init k-means, quantized codebook."""

import numpy as np
import pytest

from sw_model.codebook import kmeans_1d, share_weights
from sw_model.prune import prune_magnitude


def pruned_weights(shape=(48, 64), density=0.2, seed=0):
    w = np.random.default_rng(seed).normal(scale=0.1, size=shape)
    return prune_magnitude(w, density)


def test_zero_index_iff_zero_weight():
    w = pruned_weights()
    indices, codebook, report = share_weights(w)
    assert indices.dtype == np.int64 and indices.shape == w.shape
    assert codebook.dtype == np.int64 and codebook.shape == (16,)
    assert codebook[0] == 0
    assert ((indices == 0) == (w == 0)).all()
    assert indices.max() <= 15 and indices.min() >= 0
    assert report["converged"]


def test_nearest_quantized_centroid():
    w = pruned_weights(seed=1)
    indices, codebook, report = share_weights(w, w_frac_bits=12)
    shared = codebook[1:] / 4096.0
    values = w[w != 0]
    distance = np.abs(values[:, None] - shared[None, :])
    chosen = indices[w != 0] - 1
    assert (distance[np.arange(values.size), chosen] <= distance.min(axis=1)).all()
    # The codebook is the rounded float centroids.
    expected = np.floor(report["centroids"] * 4096 + 0.5).astype(np.int64)
    assert codebook[1:].tolist() == expected.tolist()


def test_reconstruction_report():
    w = pruned_weights(seed=2)
    indices, codebook, report = share_weights(w)
    error = codebook[indices] / 4096.0 - w
    assert report["rms_error"] == pytest.approx(np.sqrt(np.mean(error ** 2)))
    assert report["max_error"] == pytest.approx(np.abs(error).max())
    assert report["relative_error"] == pytest.approx(np.linalg.norm(error) / np.linalg.norm(w))
    assert report["relative_error"] < 0.1
    assert report["distinct"] == np.count_nonzero(w)


def test_more_clusters_reduce_error():
    w = pruned_weights(seed=3)
    errors = [share_weights(w, n_clusters=k)[2]["rms_error"] for k in (2, 4, 15)]
    assert errors[0] > errors[1] > errors[2]
    two = share_weights(w, n_clusters=2)[1]
    assert (two[3:] == 0).all()       # entries after the last centroid are 0


def test_linear_init_and_lloyd_by_hand():
    # Init [0, 5, 10]; 0, 1, 2 go to the first centroid, 10 to the last, the
    # middle cluster is empty and keeps 5. The next step changes nothing.
    centroids, iterations, converged = kmeans_1d([10.0, 0.0, 2.0, 1.0], 3)
    assert centroids.tolist() == [1.0, 5.0, 10.0]
    assert (iterations, converged) == (1, True)
    _, iterations, converged = kmeans_1d([10.0, 0.0, 2.0, 1.0], 3, iterations=1)
    assert (iterations, converged) == (1, False)


def test_matches_sklearn_lloyd_with_linear_init():
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    values = np.random.default_rng(4).normal(size=3000)
    ours, _, converged = kmeans_1d(values, 15)
    assert converged
    init = np.linspace(values.min(), values.max(), 15).reshape(-1, 1)
    km = sklearn_cluster.KMeans(n_clusters=15, init=init, n_init=1, max_iter=1000, tol=0.0,
                                algorithm="lloyd").fit(values.reshape(-1, 1))
    assert np.allclose(ours, np.sort(km.cluster_centers_.ravel()), rtol=0, atol=1e-9)


def test_deterministic():
    w = pruned_weights(seed=5)
    a = share_weights(w)
    b = share_weights(w.copy())
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()


def test_few_distinct_values_are_exact():
    w = np.array([[0.0, 0.25, -0.5], [0.5, 0.0, 0.25]])
    indices, codebook, report = share_weights(w)
    assert codebook.tolist() == [0, -2048, 1024, 2048] + [0] * 12
    assert indices.tolist() == [[0, 2, 1], [3, 0, 2]]
    assert report["rms_error"] == 0.0 and report["max_error"] == 0.0
    assert report["distinct"] == 3
    one = share_weights(np.array([[0.0, 1.0], [1.0, 1.0]]))
    assert one[1].tolist() == [0, 4096] + [0] * 14
    assert one[0].tolist() == [[0, 1], [1, 1]]


def test_tiny_weights_keep_a_nonzero_index():
    # 1e-6 quantizes to 0 with 12 fractional bits, but it is not a pruned weight.
    w = np.array([[1e-6, 0.0, 0.5]])
    indices, codebook, _ = share_weights(w)
    assert indices[0, 0] != 0 and codebook[indices[0, 0]] == 0
    assert indices[0, 1] == 0


def test_saturating_centroids():
    w = np.array([[10.0, -10.0, 0.0]])
    _, codebook, report = share_weights(w, w_frac_bits=12)
    assert codebook[1:3].tolist() == [-32768, 32767]
    assert report["max_error"] == pytest.approx(10.0 - 32767 / 4096)


def test_all_zero_matrix():
    indices, codebook, report = share_weights(np.zeros((3, 4)))
    assert (indices == 0).all() and (codebook == 0).all()
    assert report["rms_error"] == 0.0 and report["relative_error"] == 0.0
    assert report["distinct"] == 0


@pytest.mark.parametrize("w, kwargs, exc, message", [
    (np.ones(4), {}, ValueError, "w must be a 2-D matrix, not shape (4,)"),
    (np.ones((2, 2), dtype=bool), {}, TypeError,
     "w must be a real-valued array, not an array of dtype bool"),
    (np.full((2, 2), np.nan), {}, ValueError, "w must hold only finite values"),
    (np.ones((2, 2)), {"n_clusters": 16}, ValueError,
     "n_clusters must be in the range [1, 15], not 16"),
    (np.ones((2, 2)), {"n_clusters": 0}, ValueError,
     "n_clusters must be in the range [1, 15], not 0"),
    (np.ones((2, 2)), {"w_frac_bits": 16}, ValueError,
     "w_frac_bits must be in the range [0, 15], not 16"),
    (np.ones((2, 2)), {"iterations": 0}, ValueError, "iterations must be at least 1, not 0"),
])
def test_error_messages(w, kwargs, exc, message):
    with pytest.raises(exc) as info:
        share_weights(w, **kwargs)
    assert str(info.value) == message


def test_kmeans_error_messages():
    with pytest.raises(ValueError) as info:
        kmeans_1d([], 3)
    assert str(info.value) == "x must hold at least one value"
    with pytest.raises(ValueError) as info:
        kmeans_1d([1.0], 0)
    assert str(info.value) == "n_clusters must be at least 1, not 0"
