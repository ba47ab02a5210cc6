"""``zeroskip compile`` without labels: the quantized model's agreement with the float model.

The hand-worked case is a one-layer network whose weights the codebook holds
exactly, so every output of the golden model can be computed by hand.
"""

import json

import numpy as np
import pytest

from sw_model.eie_format import layers_from_arrays
from sw_model.eie_model import eie_chain
from zeroskip.cli import main
from zeroskip.compile import agreement
from zeroskip.report import format_report


def _compile(tmp_path, **arrays):
    np.savez(tmp_path / "net.npz", **arrays)
    out = tmp_path / "out"
    status = main(["compile", str(tmp_path / "net.npz"), "--out", str(out), "--pe", "2",
                   "--density", "1", "-q"])
    assert status == 0
    return out, json.loads((out / "report.json").read_text())


def test_agreement_by_hand(tmp_path, capsys):
    """Weights 1.0 and 0.5 are codebook entries 4096 and 2048 (12 fractional bits).

    Inputs in 8 fractional bits: 0.5 -> 128, 0.75 -> 192, 0.3 -> 77, 0.601 -> 154.
    Vector 1: outputs 4096 * 128 >> 12 = 128 (0.5) and 2048 * 192 >> 12 = 96
    (0.375), exactly the float ones. Vector 2: 4096 * 77 >> 12 = 77 and
    2048 * 154 >> 12 = 77, both 0.30078125, a tie that argmax gives to class 0,
    while the float outputs 0.3 and 0.3005 choose class 1.
    """
    w0 = np.array([[1.0, 0.0], [0.0, 0.5]])
    x = np.array([[0.5, 0.75], [0.3, 0.601]])
    out, report = _compile(tmp_path, w0=w0, x=x)
    agree = report["agreement"]
    assert agree["vectors"] == 2
    assert agree["top1"] == 0.5 and agree["top1_dense"] == 0.5
    # |0.30078125 - 0.3| and |0.30078125 - 0.3005|; the first vector adds nothing. (The
    # float 0.3 is a little below 0.3, so the first prints as 0.0007813 to 4 digits.)
    assert agree["max_abs_diff"] == pytest.approx(0.00078125, abs=1e-12)
    assert agree["mean_abs_diff"] == pytest.approx((0.00078125 + 0.00028125) / 4, abs=1e-12)
    # No labels: nothing is an accuracy, but the agreement is in the report.
    assert all(value is None for value in report["accuracy"].values())
    text = (out / "report.md").read_text()
    assert text == capsys.readouterr().out
    assert ("gives the same top-1 class (argmax of the outputs) as the pruned float model on "
            "1 of 2 vectors (50.00 %), and as the float model before pruning on 1 of 2 vectors "
            "(50.00 %). Its outputs, in real units, differ from the pruned float model's by "
            "0.0007813 at most and 0.0002656 on average over all outputs.") in text


def test_agreement_of_a_pruned_two_layer_network(tmp_path):
    """Against a longhand float forward pass and the golden model run on the saved layers."""
    rng = np.random.default_rng(3)
    w0, w1 = rng.normal(0, 0.5, size=(12, 10)), rng.normal(0, 0.5, size=(4, 12))
    b0 = rng.normal(0, 0.1, size=12)
    x = rng.uniform(0, 1, size=(20, 10))
    np.savez(tmp_path / "net.npz", w0=w0, b0=b0, w1=w1, x=x)
    out = tmp_path / "out"
    assert main(["compile", str(tmp_path / "net.npz"), "--out", str(out), "--pe", "3",
                 "--density", "0.5", "-q"]) == 0
    report = json.loads((out / "report.json").read_text())
    with np.load(out / "model.npz") as arrays:
        layers = layers_from_arrays(arrays)
    config = report["config"]
    acts = np.floor(x * 256 + 0.5).astype(np.int64)          # 8 fractional bits
    golden = np.stack([eie_chain(layers, a, config=_config(config))[-1] for a in acts]) / 256
    # The pruned float model: the kept weights are the golden model's nonzero places.
    kept = [layer.nnz for layer, _ in layers]
    assert kept == [report["compression"]["layers"][i]["nnz"] for i in range(2)]
    pruned0, pruned1 = _pruned(np.column_stack([w0, b0]), 0.5), _pruned(w1, 0.5)
    hidden = np.maximum(x @ pruned0[:, :-1].T + pruned0[:, -1], 0.0)
    logits = hidden @ pruned1.T
    dense_logits = np.maximum(x @ w0.T + b0, 0.0) @ w1.T
    agree = report["agreement"]
    assert agree["vectors"] == 20
    assert agree["top1"] == np.mean(np.argmax(golden, 1) == np.argmax(logits, 1))
    assert agree["top1_dense"] == np.mean(np.argmax(golden, 1) == np.argmax(dense_logits, 1))
    assert agree["max_abs_diff"] == pytest.approx(np.abs(golden - logits).max(), rel=1e-12)
    assert agree["mean_abs_diff"] == pytest.approx(np.abs(golden - logits).mean(), rel=1e-12)
    assert agree["max_abs_diff"] > 0


def _config(data):
    from sw_model.config import EieConfig

    return EieConfig.from_dict(data)


def _pruned(w, density):
    """Magnitude pruning written out: keep the floor(d * size + 0.5) largest, ties to the lower."""
    flat = np.abs(w).ravel()
    order = sorted(range(flat.size), key=lambda i: (-flat[i], i))
    keep = np.zeros(flat.size, dtype=bool)
    keep[order[:int(np.floor(density * flat.size + 0.5))]] = True
    return np.where(keep.reshape(w.shape), w, 0.0)


def test_agreement_function_counts_ties_as_argmax_does():
    golden = np.array([[256, 256], [0, 512]])           # 1.0, 1.0 and 0.0, 2.0
    float_outputs = np.array([[0.5, 1.5], [0.0, 2.25]])
    dense = np.array([[2.0, 1.0], [3.0, 1.0]])
    result = agreement(golden, float_outputs, dense, act_frac_bits=8)
    assert result == {"vectors": 2, "top1": 0.5, "top1_dense": 0.5, "max_abs_diff": 0.5,
                      "mean_abs_diff": (0.5 + 0.5 + 0.0 + 0.25) / 4}


def test_report_without_agreement_has_no_section():
    report = {"title": "t", "command": "c", "accuracy": {}, "network": {
        "source": "s", "sizes": [2, 2], "bias": [False], "weights": 4, "biases": 0,
        "steps": [], "evaluation": None},
        "compression": {"layers": [], "dense_float32_bits": 128, "stored_bits": 64,
                        "ratio": 2.0}, "pruning": {"density": 1.0}}
    assert "Agreement" not in format_report(report)
