"""The demo pipeline (``make demo``): a fast run on a few images, and its input checks."""

import json
import re

import numpy as np
import pytest

from sim.demo import DemoOptions, load_weights, main, run_demo


@pytest.mark.verilator
def test_demo_fast(tmp_path):
    """Few images through the RTL: RTL equals golden, accuracy holds, every output written."""
    opts = DemoOptions(out=str(tmp_path / "demo"), images=12, synth=False)
    report = run_demo(opts)
    acc = report["accuracy"]
    assert report["eie"]["rtl_equals_golden"], report["eie"]
    assert report["eie"]["rtl_cycles_equal_model"], report["eie"]
    assert report["eie"]["images"] == 12
    # The quantized sparse model stays within 2 points of the dense float model.
    assert acc["quantized_golden"] >= acc["dense_float"] - 0.02, acc
    assert acc["rtl"] == acc["quantized_golden_rtl_images"]
    assert 0.08 <= report["pruning"]["density"] <= 0.12
    assert report["compression"]["ratio"] > 10
    tiles = report["nm"]["tiles"]
    assert tiles["nm_tile"]["rtl_equals_golden"] and tiles["dense_tile"]["rtl_equals_golden"]
    assert tiles["nm_tile"]["multipliers"] == tiles["dense_tile"]["multipliers"]
    assert report["nm"]["speedup"] >= 1.95
    out = tmp_path / "demo"
    for name in ("report.md", "report.json", "model.npz", "verilog/demo_eie.v",
                 "plots/pe_load.png", "plots/accuracy_density.png", "plots/cycles.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "report.json").read_text())["eie"]["images"] == 12
    model = np.load(out / "model.npz", allow_pickle=False)
    assert model["layer0_shape"].tolist() == [256, 64]


@pytest.mark.verilator
def test_demo_user_weights(tmp_path):
    """A user's own small network with its own test data runs through the same pipeline."""
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, size=(6, 16))
    path = tmp_path / "net.npz"
    np.savez(path, w0=rng.normal(0, 0.5, size=(12, 16)), w1=rng.normal(0, 0.5, size=(4, 12)),
             x=x, y=rng.integers(0, 4, size=6))
    report = run_demo(DemoOptions(out=str(tmp_path / "demo"), weights=str(path), n_pe=2,
                                  density=0.5, synth=False, nm=False))
    assert report["model"]["sizes"] == [16, 12, 4]
    assert report["eie"]["images"] == 6
    assert report["eie"]["rtl_equals_golden"] and report["eie"]["rtl_cycles_equal_model"]


def _write(tmp_path, **arrays):
    path = tmp_path / f"w{len(list(tmp_path.glob('w*.npz')))}.npz"
    np.savez(path, **arrays)
    return str(path)


def test_load_weights_errors(tmp_path):
    w = np.ones((4, 8))
    cases = [
        (_write(tmp_path, a=w), "has no layer arrays (expected w0, w1, ...; found a)"),
        (_write(tmp_path, w0=w, w1=np.ones((3, 5))),
         "array 'w1' has 5 inputs, but the previous layer has 4 outputs"),
        (_write(tmp_path, w0=np.array([["a", "b"]])),
         "array 'w0' must hold numbers, not dtype <U1"),
        (_write(tmp_path, w0=np.ones(4)),
         "array 'w0' must be a non-empty 2-D (outputs, inputs) matrix, not shape (4,)"),
        (_write(tmp_path, w0=w, w2=w), "has unexpected arrays: w2"),
        (_write(tmp_path, w0=w, b0=np.ones(4)), "has biases (b0)"),
        (_write(tmp_path, w0=w, x=np.ones((2, 3))),
         "array 'x' must be numeric with shape (images, 8), not float64 (2, 3)"),
        (_write(tmp_path, w0=np.full((4, 8), np.nan)), "array 'w0' holds non-finite values"),
        (str(tmp_path / "missing.npz"), "does not exist"),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            load_weights(path)


def test_load_weights_refuses_pickles(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, w0=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        load_weights(str(path))


def test_load_weights_not_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a numpy file")
    with pytest.raises(ValueError, match=re.escape(f"weights file {str(path)!r}")):
        load_weights(str(path))


def test_demo_cli_bad_options(capsys):
    assert main(["--density", "1.5", "--out", "/nonexistent/never"]) == 2
    assert "density must be in (0, 1], not 1.5" in capsys.readouterr().err


@pytest.mark.parametrize("fields, message", [
    ({"density": 0.0}, "density must be in (0, 1], not 0.0"),
    ({"n_pe": 0}, "n_pe must be a positive integer, not 0"),
    ({"queue_depth": 0}, "queue_depth must be a positive integer, not 0"),
    ({"images": -1}, "images must be 0 (all) or positive, not -1"),
])
def test_demo_options_errors(fields, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        DemoOptions(**fields)
