"""``zeroskip bench pruning`` at tiny sizes: its tables hold what the models compute.

The dense network of the digits section is rebuilt here longhand (split,
initialisation, training) and costed with the encoder and the cycle model
directly; the 2:4 tile cycles come from the tile's own latency.
"""

import gc
import warnings

import numpy as np
import pytest

import zeroskip.bench
from sw_model.codebook import share_weights
from sw_model.eie_cycles import chain_cycles
from sw_model.eie_format import encode
from sw_model.fixed import to_fixed
from sw_model.train import Dataset, Mlp, load_digits_dataset, train
from zeroskip.bench.pruning import load_dataset
from zeroskip.cli import main

TINY = ["--seeds", "0", "--combos", "magnitude:element", "magnitude:nm4", "--densities", "0.5",
        "--target", "0.5", "--hidden-digits", "8", "--hidden-breast-cancer", "8", "--epochs", "2",
        "--finetune-epochs", "1", "--final-epochs", "1", "--sensitivity-densities", "0.5",
        "0.25", "--uniform-densities", "0.5", "0.25", "--calibration", "4", "--cycle-vectors",
        "4", "--search-iterations", "1", "--budget", "0.8", "--search-step", "0.1"]


def _section(text, heading):
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _rows(section, header_start):
    """The body cells of the first Markdown table whose header starts with ``header_start``."""
    table = section.split(header_start, 1)[1].split("\n\n", 1)[0]
    lines = table.splitlines()[2:]       # the rest of the header line, the rule
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def _design_latencies():
    """The eie-8pe array's timing and the latencies of the demo's 2:4 tiles for 64 -> 8 -> 10."""
    from amaranth.hdl import UnusedElaboratable

    from hw.eie.array import EieArray
    from hw.eie.configs import config_for
    from hw.sparse_nm import NMTile
    from zeroskip.nm_copy import tile_configs

    config = config_for("eie-8pe")
    with warnings.catch_warnings():
        # Built only to read their latencies, never elaborated; collected here.
        warnings.simplefilter("ignore", UnusedElaboratable)
        timing = EieArray(config=config).timing
        tiles = [NMTile(config=tile_configs(8, 64, True)["nm_tile"]).latency,
                 NMTile(config=tile_configs(10, 8, False)["nm_tile"]).latency]
        gc.collect()
    return config, timing, tiles


def _dense_digits():
    """The digits section's dense network, seed 0, rebuilt step by step."""
    data = load_digits_dataset(seed=0)
    rng = np.random.default_rng(0)
    held = np.zeros(len(data.y_train), dtype=bool)
    for label in np.unique(data.y_train):
        where = rng.permutation(np.flatnonzero(data.y_train == label))
        held[where[:int(round(len(where) * 0.2))]] = True
    fit = Dataset(data.x_train[~held], data.y_train[~held], data.x_train[held],
                  data.y_train[held])
    mlp = Mlp.init((64, 8, 10), seed=0)
    blank = ~fit.x_train.any(axis=0)
    mlp.weights[0][:, blank] = 0.0
    mlp.masks[0][:, blank] = False
    train(mlp, fit, epochs=2, lr=3e-3, seed=0)
    return mlp, data


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The benchmark run once with ``--write`` into a temporary docs folder."""
    docs = tmp_path_factory.mktemp("docs")
    patch = pytest.MonkeyPatch()
    patch.setattr(zeroskip.bench, "DOCS", docs)
    try:
        status = main(["bench", "pruning", *TINY, "--write", "-q"])
    finally:
        patch.undo()
    assert status == 0
    return docs, (docs / "bench_pruning.md").read_text()


def test_write_makes_the_document_and_its_plots(written, capsys):
    docs, text = written
    assert text.startswith("# Pruning: criteria, granularities, sensitivity and a "
                           "cycle-model-driven search\n")
    assert f"Made with `zeroskip bench pruning {' '.join(TINY)} --write -q`" in text
    names = sorted(p.name for p in docs.iterdir())
    assert names == ["bench_pruning.md", "bench_pruning_breast_cancer_pareto.png",
                     "bench_pruning_breast_cancer_sensitivity.png",
                     "bench_pruning_digits_pareto.png", "bench_pruning_digits_sensitivity.png"]
    for name in names[1:]:
        assert (docs / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in text


def test_dense_row_is_the_model_and_the_cycle_model(written):
    _, text = written
    config, timing, _ = _design_latencies()
    mlp, data = _dense_digits()
    layers = []
    for i, w in enumerate(mlp.weights):
        indices, codebook, _ = share_weights(w, w_frac_bits=config.w_frac_bits)
        layers.append((encode(indices, codebook, config=config), i == 0))
    acts = to_fixed(data.x_test[:4], config.act_frac_bits)
    cycles = np.mean([chain_cycles(layers, a, config=config, timing=timing)[0].cycles
                      for a in acts])
    bits = sum(layer.summary(ptr_bits=config.ptr_bits)["memory_bits"] for layer, _ in layers)
    kept = sum(np.count_nonzero(w) for w in mlp.weights) / sum(w.size for w in mlp.weights)
    rows = _rows(_section(text, "digits"), "| criterion | granularity")
    dense = rows[0]
    assert dense[0] == "dense"
    assert dense[3] == f"{kept * 100:.1f} %"
    assert dense[5] == f"{mlp.accuracy(data.x_test, data.y_test) * 100:.2f} %"
    assert dense[7:9] == [f"{bits:,}", f"{cycles:,.1f}"]
    # The same network heads the uniform table (density 100 %).
    uniform = _rows(_section(text, "digits"), "| density | weights kept")
    assert uniform[0][0] == "100 %" and uniform[0][4:6] == [f"{bits:,}", f"{cycles:,.1f}"]


def test_nm_row_has_the_tile_cycles(written):
    """64 -> 8 -> 10 on tiles of 8 units taking 8 activations a beat.

    Layer 0: 64 / 8 = 8 beats, 1 row block; layer 1: 1 beat, 2 row blocks.
    """
    _, text = written
    _, _, latencies = _design_latencies()
    rows = {row[1]: row for row in _rows(_section(text, "digits"), "| criterion | granularity")}
    assert rows["N:M, m = 4"][2] == "2:4"
    assert rows["N:M, m = 4"][9] == f"{8 * 1 + latencies[0] + 1 * 2 + latencies[1]:,}"
    assert rows["element"][9] == ""


def test_goal_lines_agree_with_the_tables(written):
    _, text = written
    for name in ("digits", "breast-cancer"):
        section = _section(text, name)
        goal = section.split(f"**Goal (b), {name}**: ", 1)[1].split("\n", 1)[0]
        cycles = float(goal.split(" cycles per inference")[0].split(" in ")[-1].replace(",", ""))
        uniform = float(goal.split("pruning needs ")[1].split(" cycles")[0].replace(",", ""))
        ratio = float(goal.split("ratio **")[1].split("**")[0])
        assert ratio == round(cycles / uniform, 2)
        assert goal.endswith("**met**." if ratio < 1 else "**NOT met**.")
        search = _rows(section, "| step | pruned")
        assert search[-1][7] == f"{cycles:,.1f}"
        assert f"- {name}: (a) " in text


def test_breast_cancer_split_by_hand():
    """569 samples, 212 and 357 per class: a quarter of each, rounded, is the test set."""
    data = load_dataset("breast-cancer", 0)
    assert data.x_train.shape == (427, 32) and data.x_test.shape == (142, 32)
    assert np.bincount(data.y_test).tolist() == [53, 89]
    # Scaled on the training split; the two padding features are 0.
    assert data.x_train[:, :30].min(axis=0).tolist() == [0.0] * 30
    assert data.x_train[:, :30].max(axis=0).tolist() == [1.0] * 30
    assert not data.x_train[:, 30:].any() and not data.x_test[:, 30:].any()


@pytest.mark.parametrize("argv, message", [
    (["--target", "0.3"], "--target must be one of --densities (0.5 0.25 0.1), not 0.3"),
    (["--densities", "0", "0.1"], "--densities must be in (0, 1], not 0.0"),
    (["--densities", "0.1", "0.1"], "--densities must not repeat a value, not 0.1 0.1"),
    (["--seeds", "1", "1"], "--seeds must not repeat a value, not 1 1"),
    (["--seeds", "-1"], "--seeds must be an integer from 0 to 4294967295, not -1"),
    (["--combos", "magnitude:diagonal"],
     "--combos: 'magnitude:diagonal' is not CRITERION:GRANULARITY with a criterion of "
     "magnitude, obd, obd-fisher, apoz, regression and a granularity of element, block4x1, "
     "nm4, balanced, row, column"),
    (["--combos", "apoz:element"],
     "--combos: criterion 'apoz' scores whole rows, so its granularity must be row, not "
     "'element'"),
    (["--combos", "slimming:row"],
     "--combos: slimming needs a network trained with scale factors, which this benchmark "
     "does not train"),
    (["--budget", "1.5"], "--budget must be in (0, 1], not 1.5"),
    (["--budget", "1"], "--budget must be below 1 (a fraction of the dense cycles), not 1.0"),
    (["--search-step", "nan"], "--search-step must be in (0, 1], not nan"),
    (["--threshold", "-1"], "--threshold must be in [0, 100] points, not -1.0"),
    (["--max-drop", "inf"], "--max-drop must be in [0, 100] points, not inf"),
    (["--epochs", "0"], "--epochs must be an integer from 1 to 1000, not 0"),
    (["--calibration", "0"], "--calibration must be an integer from 1 to 10000, not 0"),
    (["--hidden-digits", "8,x"],
     "--hidden-digits must be comma-separated integers such as 256,128, not '8,x'"),
    (["--hidden-digits", "600", "--datasets", "digits", "--seeds", "0", "--epochs", "1",
      "--combos", "magnitude:element", "--densities", "0.1"],
     "--hidden-digits 600: the network does not fit the eie-8pe array: Layer 0 has 600 "
     "outputs, more than max_dim = 512 (act_depth 64 x n_pe 8)"),
])
def test_bad_options_are_one_line_and_exit_2(argv, message, capsys):
    assert main(["bench", "pruning", *argv, "-q"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"zeroskip bench: error: {message}\n"
    assert captured.out == ""
