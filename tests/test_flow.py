"""The steps of the end-to-end flow (``zeroskip.demo``, ``compile``, ``simulate``) on their own.

Options, weights and inputs are checked before any work; pruning and
compression use the configuration they build; the 2:4 copy pads layers whose
input width is not a multiple of 4; the report and plots follow one set of
conventions; a failing run ends its background synthesis.
"""

import os
import re
import time
from types import SimpleNamespace

import numpy as np
import pytest

from sw_model.codebook import share_weights
from sw_model.eie_format import check_fits, decode_weights, fit_config
from sw_model.fixed import requantize, to_fixed, wrap
from sw_model.prune import prune_magnitude
from sw_model.train import load_digits_dataset
from zeroskip import demo as demo_module
from zeroskip.compile import start_report
from zeroskip.compression import compress, load_compiled, write_compiled
from zeroskip.demo import DemoOptions, plan_demo, run_demo
from zeroskip.errors import UserError
from zeroskip.nm_copy import M, N, nm_copy, nm_golden, nm_prune, run_tiles
from zeroskip.plots import write_plots
from zeroskip.progress import Progress
from zeroskip.report import format_report
from zeroskip.simulate import cycle_summary, load_inputs
from zeroskip.synthesis import SynthJob
from zeroskip.training import (
    CLASSIFIER_MIN_DENSITY,
    PrunedNetwork,
    layer_density,
    prune_network,
    pruning_schedule,
)
from zeroskip.weights import load_weights

QUIET = Progress(quiet=True)


def _save(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


@pytest.fixture
def small_net(tmp_path):
    """A 10 -> 12 -> 4 network with six test vectors and labels."""
    rng = np.random.default_rng(7)
    return _save(tmp_path / "net.npz", w0=rng.normal(0, 0.5, size=(12, 10)),
                 w1=rng.normal(0, 0.5, size=(4, 12)), x=rng.uniform(0, 1, size=(6, 10)),
                 y=rng.integers(0, 4, size=6))


def _compressed(density=0.5, n_pe=2, seed=1):
    rng = np.random.default_rng(seed)
    weights = [prune_magnitude(rng.normal(0, 0.5, size=shape), density)
               for shape in ((12, 10), (4, 12))]
    return weights, compress(weights, n_pe=n_pe, queue_depth=4)


# --- weights ------------------------------------------------------------------------------


def test_load_weights_reads_layers_and_test_data(small_net):
    net = load_weights(small_net)
    assert [w.shape for w in net.weights] == [(12, 10), (4, 12)]
    assert net.x.shape == (6, 10) and net.y.dtype == np.int64
    assert net.source == f"user weights from {small_net}"


@pytest.mark.parametrize("arrays, message", [
    ({"a": np.ones((4, 8))}, "has no layer arrays (expected w0, w1, ...; found a)"),
    ({"w0": np.ones((4, 8)), "w1": np.ones((3, 5))},
     "array 'w1' in {path!r} has 5 inputs, but the previous layer has 4 outputs"),
    ({"w0": np.array([["a", "b"]])}, "array 'w0' in {path!r} must hold numbers, not dtype <U1"),
    ({"w0": np.ones(4)}, "array 'w0' in {path!r} must be a non-empty 2-D (outputs, inputs) "
                         "matrix, not shape (4,)"),
    ({"w0": np.ones((4, 8)), "w2": np.ones((4, 4))}, "has unexpected arrays: w2"),
    ({"w0": np.ones((4, 8)), "b0": np.ones(5)}, "array 'b0' in {path!r} must be a vector of "
                                                "one bias per output, shape (4,), not shape (5,)"),
    ({"w0": np.ones((4, 8)), "x": np.ones((2, 3))},
     "array 'x' in {path!r} must be numeric with shape (vectors, 8), not float64 (2, 3)"),
    ({"w0": np.ones((4, 8)), "x": np.ones((2, 8)), "y": np.ones(2)},
     "array 'y' in {path!r} must be integer labels of shape (2,), not float64 (2,)"),
    ({"w0": np.ones((4, 8)), "y": np.ones(2, dtype=int)}, "array 'y' (labels) in {path!r} "
                                                          "needs the inputs 'x' as well"),
    ({"w0": np.full((4, 8), np.nan)}, "array 'w0' in {path!r} holds non-finite values"),
])
def test_load_weights_errors(tmp_path, arrays, message):
    path = _save(tmp_path / "w.npz", **arrays)
    with pytest.raises(UserError, match=re.escape(message.format(path=path))):
        load_weights(path)


def test_load_weights_refuses_missing_junk_and_pickles(tmp_path):
    with pytest.raises(UserError, match=re.escape("does not exist")):
        load_weights(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a numpy file")
    with pytest.raises(UserError, match=re.escape(f"weights file {str(junk)!r}")):
        load_weights(junk)
    pickled = _save(tmp_path / "pickled.npz", w0=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(UserError, match="pickle"):
        load_weights(pickled)


# --- options, checked before any work -----------------------------------------------------


@pytest.mark.parametrize("fields, message", [
    ({"density": 0.0}, "--density must be in (0, 1], not 0.0"),
    ({"density": 1.5}, "--density must be in (0, 1], not 1.5"),
    ({"n_pe": 0}, "--pe must be an integer from 1 to 1024, not 0"),
    ({"queue_depth": 2000}, "--queue-depth must be an integer from 1 to 1024, not 2000"),
    ({"images": -1}, "--images must be 0 (all) or positive, not -1"),
    ({"seed": -3}, "--seed must be an integer from 0 to 4294967295, not -3"),
    ({"target": "xc7a35t"}, "--target: Unknown target 'xc7a35t'; known: "),
    ({"synth_mhz": 0.0}, "--synth-mhz must be a frequency in MHz above 0 and at most 1000, "
                         "not 0.0"),
    ({"synth_mhz": float("nan")}, "--synth-mhz must be a frequency in MHz"),
    ({"hidden": "256,x"}, "--hidden must be comma-separated integers such as 256,128, "
                          "not '256,x'"),
    ({"hidden": "0"}, "--hidden must be 1 to 8 widths, each from 1 to 4096, not '0'"),
    ({"finetune": True}, "--finetune applies to --weights: the built-in MLP is always trained "
                         "and fine-tuned"),
    ({"weights": "missing.npz"}, "weights file 'missing.npz' does not exist"),
])
def test_demo_options_checked_before_any_work(tmp_path, fields, message):
    out = tmp_path / "never"
    with pytest.raises(UserError, match=re.escape(message)):
        run_demo(DemoOptions(out=str(out), **fields), QUIET)
    assert not out.exists()


def test_demo_user_weights_checks(tmp_path, small_net):
    out = str(tmp_path / "never")
    with pytest.raises(UserError, match=re.escape(
            "--images 7 is more than the 6 vectors of the weights file's test data")):
        plan_demo(DemoOptions(out=out, weights=small_net, images=7))
    with pytest.raises(UserError, match=re.escape(
            "--finetune trains on the digits set, which needs 64 inputs and 10 outputs; the "
            "network is 10 -> 12 -> 4")):
        plan_demo(DemoOptions(out=out, weights=small_net, finetune=True))
    with pytest.raises(UserError, match=re.escape("--hidden applies to the built-in MLP")):
        plan_demo(DemoOptions(out=out, weights=small_net, hidden="16"))
    no_data = _save(tmp_path / "nodata.npz", w0=np.ones((4, 10)))
    with pytest.raises(UserError, match=re.escape(
            f"the demo needs test vectors for the RTL: {no_data!r} has no 'x', and its network "
            f"(10 -> 4) does not have the digits set's 64 inputs")):
        plan_demo(DemoOptions(out=out, weights=no_data))
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(UserError, match=re.escape(f"--out {str(a_file)!r} is a file")):
        plan_demo(DemoOptions(out=str(a_file), weights=small_net))
    assert not (tmp_path / "never").exists()


def test_demo_plan_limits_the_rtl_run_only(tmp_path, small_net):
    plan = plan_demo(DemoOptions(out=str(tmp_path / "d"), weights=small_net, images=2))
    assert plan.rtl_vectors == 2 and len(plan.eval_set.x) == 6
    assert plan_demo(DemoOptions(out=str(tmp_path / "d"), weights=small_net)).rtl_vectors == 6


# --- pruning and training -----------------------------------------------------------------


def test_pruning_schedule_and_classifier_minimum():
    schedule = pruning_schedule(0.1)
    assert schedule[0] == 0.6 and schedule[-1] == 0.1
    assert all(a > b for a, b in zip(schedule, schedule[1:], strict=False))
    assert pruning_schedule(0.8) == [0.8]
    assert layer_density(2, 3, 0.1) == CLASSIFIER_MIN_DENSITY
    assert layer_density(1, 3, 0.1) == 0.1
    assert layer_density(0, 1, 0.1) == 0.1


def test_user_weights_are_pruned_once_and_never_trained(small_net):
    weights = load_weights(small_net).weights
    pruned = prune_network(weights, density=0.25, finetune_data=None, seed=0, progress=QUIET)
    assert pruned.history is None
    assert "not fine-tuned" in pruned.steps[0]
    # Kept weights are the originals, unchanged: nothing was trained.
    for before, after in zip(weights, pruned.weights, strict=True):
        kept = after != 0
        assert np.array_equal(after[kept], before[kept])
    assert np.count_nonzero(pruned.weights[0]) == 30


def test_finetuning_records_one_density_definition():
    data = load_digits_dataset(seed=0)
    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 0.2, size=(16, 64)), rng.normal(0, 0.2, size=(10, 16))]
    pruned = prune_network(weights, density=0.3, finetune_data=data, seed=0, progress=QUIET,
                           finetune_epochs=1, final_epochs=1)
    kept = [d for d, _ in pruned.history]
    # The dense model first, then the fraction of all weights kept after every step.
    assert kept[0] == 1.0 and kept == sorted(kept, reverse=True)
    total = sum(int(np.count_nonzero(w)) for w in pruned.weights)
    assert kept[-1] == total / sum(w.size for w in pruned.weights)
    assert "fine-tuned on the digits training set" in pruned.steps[0]


# --- compression and the compiled folder --------------------------------------------------


def test_compress_sizes_the_configuration_then_encodes_for_it():
    weights, comp = _compressed()
    assert comp.config == fit_config(weights, comp.config)
    check_fits(comp.layers, comp.config)
    for w, (layer, _) in zip(weights, comp.layers, strict=True):
        _, codebook, _ = share_weights(w, w_frac_bits=comp.config.w_frac_bits)
        assert np.array_equal(layer.codebook, codebook)
        assert np.array_equal(decode_weights(layer) != 0, w != 0)
    assert [relu for _, relu in comp.layers] == [True, False]
    summary = comp.summary()
    assert summary["ratio"] == summary["dense_float32_bits"] / summary["stored_bits"]


def test_compiled_folder_round_trip(tmp_path):
    _, comp = _compressed()
    design = write_compiled(tmp_path / "c", comp)
    back = load_compiled(tmp_path / "c")
    assert back.design.config == comp.config and back.design.timing == design.timing
    for (a, relu_a), (b, relu_b) in zip(comp.layers, back.layers, strict=True):
        assert relu_a == relu_b
        assert np.array_equal(decode_weights(a), decode_weights(b))


def test_load_compiled_errors(tmp_path):
    with pytest.raises(UserError, match=re.escape(
            f"compiled folder {str(tmp_path / 'none')!r} does not exist")):
        load_compiled(tmp_path / "none")
    with pytest.raises(UserError, match=re.escape("design side-car")):
        load_compiled(tmp_path)
    _, comp = _compressed()
    write_compiled(tmp_path / "c", comp)
    (tmp_path / "c" / "model.npz").unlink()
    with pytest.raises(UserError, match=re.escape(
            f"compiled folder {str(tmp_path / 'c')!r} lacks model.npz")):
        load_compiled(tmp_path / "c")


# --- simulation inputs --------------------------------------------------------------------


def test_load_inputs_quantizes_floats_and_keeps_integers(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, size=(3, 5))
    np.save(tmp_path / "f.npy", x)
    acts, labels = load_inputs(tmp_path / "f.npy", n_inputs=5, act_frac_bits=6)
    assert np.array_equal(acts, to_fixed(x, 6)) and labels is None
    q = np.arange(10).reshape(2, 5)
    np.savez(tmp_path / "q.npz", x=q, y=np.array([1, 0]))
    acts, labels = load_inputs(tmp_path / "q.npz", n_inputs=5, act_frac_bits=6)
    assert np.array_equal(acts, q) and labels.tolist() == [1, 0]


@pytest.mark.parametrize("name, arrays, message", [
    ("a.npy", np.ones((2, 4)), "the array in {path!r} must have shape (vectors, 5) for the "
                               "design's 5 inputs, not (2, 4)"),
    ("b.npz", {"x": np.ones((2, 3, 5))}, "array 'x' in {path!r} must have shape (vectors, 5) "
                                         "for the design's 5 inputs, not (2, 3, 5)"),
    ("c.npz", {"inputs": np.ones((2, 5))}, "inputs file {path!r} has no array 'x' (found "
                                           "inputs)"),
    ("d.npy", np.full((1, 5), 40000), "the array in {path!r} holds integers from 40000 to "
                                      "40000, outside the signed 16-bit activation range "
                                      "[-32768, 32767]"),
    ("e.npz", {"x": np.ones((2, 5)), "y": np.ones(3, dtype=int)},
     "array 'y' in {path!r} must be integer labels of shape (2,), not int64 (3,)"),
    ("f.npy", np.full((1, 5), np.inf), "the array in {path!r} holds non-finite values"),
    ("g.txt", None, "inputs file {path!r} must be .npy or .npz, not '.txt'"),
])
def test_load_inputs_errors(tmp_path, name, arrays, message):
    path = tmp_path / name
    if isinstance(arrays, dict):
        np.savez(path, **arrays)
    elif arrays is not None:
        np.save(path, arrays)
    else:
        path.write_text("1 2 3")
    with pytest.raises(UserError, match=re.escape(message.format(path=str(path)))):
        load_inputs(path, n_inputs=5, act_frac_bits=8)


# --- the 2:4 copy -------------------------------------------------------------------------


def test_nm_prune_pads_inputs_to_a_multiple_of_m():
    w = np.random.default_rng(0).normal(size=(6, 10))
    pruned = nm_prune(w)
    assert pruned.shape == (6, 10)
    padded = np.pad(pruned, ((0, 0), (0, 2))).reshape(6, 3, M)
    assert (np.count_nonzero(padded, axis=2) <= N).all()
    # The last group holds two real inputs and two padding zeros: both real ones stay.
    assert np.array_equal(pruned[:, 8:], w[:, 8:])


def test_nm_copy_golden_model_matches_integer_matmul():
    rng = np.random.default_rng(3)
    dense = [rng.normal(0, 0.5, size=(12, 10)), rng.normal(0, 0.5, size=(4, 12))]
    copy = nm_copy(dense, finetune_data=None, seed=0)
    assert [w.shape for w in copy.quantized] == [(12, 12), (4, 12)]
    assert copy.padded == ((0, 10, 12),)
    assert any("layer 0 from 10 to 12" in step for step in copy.steps)
    assert any("not fine-tuned" in step for step in copy.steps)
    acts = to_fixed(rng.uniform(0, 1, size=(5, 10)), 8)
    h = np.pad(acts, ((0, 0), (0, 2)))
    h = requantize(wrap(h @ copy.quantized[0].T, 40), 12, relu=True)
    expected = requantize(wrap(h @ copy.quantized[1].T, 40), 12)
    assert np.array_equal(nm_golden(copy, acts), expected)


@pytest.mark.verilator
def test_nm_tiles_run_a_padded_layer(tmp_path):
    """A layer of 10 inputs (not a multiple of 4) runs on both tiles and equals the golden model."""
    rng = np.random.default_rng(5)
    copy = nm_copy([rng.normal(0, 0.5, size=(12, 10)), rng.normal(0, 0.5, size=(4, 12))],
                   finetune_data=None, seed=0)
    acts = to_fixed(rng.uniform(0, 1, size=(3, 10)), 8)
    tiles = run_tiles(copy, acts, out_dir=tmp_path, progress=QUIET)
    assert tiles["nm_tile"]["rtl_equals_golden"], tiles
    assert tiles["dense_tile"]["rtl_equals_golden"], tiles
    assert tiles["nm_tile"]["multipliers"] == tiles["dense_tile"]["multipliers"]
    assert tiles["nm_tile"]["cycles"] < tiles["dense_tile"]["cycles"]


# --- report and plots ---------------------------------------------------------------------


def _report(history=None):
    weights, comp = _compressed()
    pruned = PrunedNetwork(dense=tuple(weights), weights=tuple(weights), history=history,
                           steps=("pruned somehow",))
    eval_set = SimpleNamespace(x=np.zeros((6, 10)), y=None, description="test data",
                               is_digits=True)
    report = start_report("zeroskip demo report", "zeroskip demo", source="a network",
                          pruned=pruned, compressed=comp, eval_set=eval_set,
                          first_steps=["loaded"])
    report["accuracy"].update(dense_float=0.9, pruned_float=0.85, quantized_golden=0.8,
                              rtl=0.5, quantized_golden_rtl_vectors=0.5)
    report["network"]["rtl_vectors"] = 2
    cycles, ideal = np.array([60, 70]), np.array([30.0, 35.0])
    report["eie"] = cycle_summary(cycles, ideal, comp.layers, 2, check=SimpleNamespace(
        outputs_match=np.array([True, True]), cycles_match=np.array([True, False])))
    report["synth"] = {
        "target": "ecp5-25f-6", "part": "LFE5U-25F", "speed_grade": 6, "seed": 1,
        "luts": {"used": 1000, "available": 24288}, "flip_flops": 900,
        "block_rams": {"used": 4, "available": 56}, "dsps": {"used": 2, "available": 28},
        "fmax_mhz": 48.5, "target_mhz": 50.0, "timing_met": False, "cached": False,
        "tools": {"yosys": "0.1"}, "cycles_per_inference": 65.0,
        "inferences_per_second": 48.5e6 / 65}
    return report, comp, cycles, ideal


def test_report_conventions():
    report, *_ = _report()
    text = format_report(report)
    # One dimension convention: inputs -> outputs.
    assert "10 -> 12 -> 4 (inputs -> outputs)" in text and "| 0 | 10 -> 12 |" in text
    assert not re.search(r"\d+ x \d+ \|", text)
    assert "ideal: entries in the columns whose activation is nonzero, over 2 PEs" in text
    speedup = report["eie"]["dense_array_cycles"] / 65
    assert f"Speed-up over the dense array: **{speedup:.2f}x**" in text
    assert "cycle model on 1 of 2" in text
    assert "first 2 of them (`--images` limits the RTL run only" in text
    assert "| RTL (Verilator), first 2 vectors | 50.00 % |" in text
    assert "| 4 / 56 |" in text and "| 48.5 MHz | 50 MHz | NOT met |" in text
    assert "host I/O" in text and "746,154 inferences per second" in text


def test_plots_only_what_has_data(tmp_path):
    report, comp, cycles, ideal = _report()
    plots = write_plots(tmp_path / "a", report, layers=comp.layers, cycles=cycles, ideal=ideal)
    assert set(plots) == {"pe_load", "cycles"}
    assert not (tmp_path / "a" / "plots" / "accuracy_density.png").exists()
    report, comp, cycles, ideal = _report(history=[(1.0, 0.9), (0.5, 0.88)])
    plots = write_plots(tmp_path / "b", report, layers=comp.layers, cycles=cycles, ideal=ideal)
    assert set(plots) == {"pe_load", "cycles", "accuracy_density"}
    for path in plots.values():
        assert os.path.getsize(path) > 0


# --- background synthesis -----------------------------------------------------------------


def test_synth_job_cancel_ends_its_process_group(tmp_path):
    _, comp = _compressed()
    write_compiled(tmp_path, comp)
    notes = []
    job = SynthJob(tmp_path, target="ecp5-25f-6", freq=50.0, out_dir=tmp_path / "synth",
                   cache_dir=None, note=notes.append)
    deadline = time.monotonic() + 120
    while not notes and time.monotonic() < deadline:
        time.sleep(0.2)
    assert notes, "the synthesis sent no progress"
    pid = job._process.pid
    job.cancel()
    assert not job._process.is_alive()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("processes of the synthesis are still running")


def test_failed_run_ends_the_background_synthesis(tmp_path, small_net, monkeypatch):
    jobs = []

    class FakeJob:
        def __init__(self, *args, **kwargs):
            self.cancelled = False
            jobs.append(self)

        def cancel(self):
            self.cancelled = True

    def fail(*args, **kwargs):
        raise RuntimeError("simulator crashed")

    monkeypatch.setattr(demo_module, "SynthJob", FakeJob)
    monkeypatch.setattr(demo_module, "simulate_eie", fail)
    with pytest.raises(RuntimeError, match="simulator crashed"):
        run_demo(DemoOptions(out=str(tmp_path / "d"), weights=small_net, n_pe=2), QUIET)
    assert len(jobs) == 1 and jobs[0].cancelled
