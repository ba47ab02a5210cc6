"""``zeroskip bench``: the benchmarks' tables hold what the models compute; bad options say so.

No Verilator here: the RTL benchmark's comparison with the models is checked
with a stand-in for the simulation.
"""

import numpy as np
import pytest

import zeroskip.bench
from hw.eie.array import EieArray
from hw.generate import load_sidecar
from sw_model.config import EieConfig
from sw_model.eie_cycles import layer_cycles
from sw_model.eie_format import encode, fit_config
from sw_model.eie_model import eie_chain
from sw_model.layers import random_layer, table3_layers
from zeroskip.cli import main

# Arrays built only to read their timing are never elaborated.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")

SPECS = {spec.name: spec for spec in table3_layers()}


def _scaled(name, scale, seed):
    """The Table III layer ``name`` drawn as the benchmarks document it."""
    spec = SPECS[name]
    n_in, n_out = max(1, round(spec.n_in * scale)), max(1, round(spec.n_out * scale))
    return random_layer(n_in, n_out, spec.w_density, spec.act_density, seed)


def _table_rows(text, heading):
    """The cells of the Markdown table under ``## heading...``, header and rule left out."""
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def _cycles(idx, cb, acts, n_pe, queue_depth):
    config = fit_config([idx], EieConfig(n_pe=n_pe, queue_depth=queue_depth), at_once=False)
    layer = encode(idx, cb, config=config)
    return layer_cycles(layer, acts, config=config, timing=EieArray(config=config).timing)


def test_eie_cycles_table_equals_the_cycle_model(capsys):
    argv = ["bench", "eie-cycles", "--layers", "NT-We", "Alex-8", "--scale", "0.05",
            "--pes", "8", "--queue-depth", "4", "--queue-layer", "NT-LSTM",
            "--speedup-layer", "NT-We", "--seed", "3", "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"Made with `zeroskip {' '.join(argv)}`" in out

    idx, cb, acts = _scaled("NT-We", 0.05, 3)
    want = _cycles(idx, cb, acts, 8, 4)
    rows = {row[0]: row for row in _table_rows(out, "Table III layers, 8 PEs, queue depth 4")}
    assert list(rows) == ["NT-We", "Alex-8"]
    assert rows["NT-We"][1] == f"{idx.shape[1]} x {idx.shape[0]}"
    assert rows["NT-We"][4:7] == [str(want.cycles), f"{want.ideal:.0f}",
                                  f"{want.efficiency:.1%}"]
    # Then queues of 8 (the paper's; here also twice the base) and unbounded.
    assert rows["NT-We"][9:] == [f"{_cycles(idx, cb, acts, 8, depth).efficiency:.1%}"
                                 for depth in (8, 1024)]

    idx, cb, acts = _scaled("NT-LSTM", 0.05, 3)
    queue = _table_rows(out, "Queue depth, NT-LSTM, 8 PEs")
    assert [row[0] for row in queue] == ["1", "2", "4", "8", "16", "32", "64"]
    assert queue[0][1] == str(_cycles(idx, cb, acts, 8, 1).cycles)

    idx, cb, acts = _scaled("NT-We", 0.05, 3)
    speedup = _table_rows(out, "Speedup, NT-We, queue depth 4")
    assert [row[0] for row in speedup] == ["1", "2", "4", "8"]
    assert speedup[1][1] == str(_cycles(idx, cb, acts, 2, 4).cycles)


def test_sw_model_tables(capsys):
    argv = ["bench", "sw-model", "--size", "96", "--pes", "1", "4", "--repeat", "1",
            "--layers", "VGG-7", "--scale", "0.02", "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    idx, _, _ = random_layer(96, 96, 0.09, 0.35, 0)
    assert f"## Speed: 96 x 96 layer, 9% weight density ({np.count_nonzero(idx)} nonzeros)" in out
    speed = _table_rows(out, "Speed:")
    assert [row[0] for row in speed[:4]] == ["encode, 1 PEs", "encode, 4 PEs",
                                             "eie_layer, 1 PEs", "eie_layer, 4 PEs"]
    idx, cb, _ = _scaled("VGG-7", 0.02, 0)
    config = fit_config([idx], EieConfig(n_pe=4), at_once=False)
    summary = encode(idx, cb, config=config).summary()
    (row,) = _table_rows(out, "EIE format on the Table III layers, 4 PEs")
    assert row[:5] == ["VGG-7", "82 x 82", "4%", str(summary["nnz"]), str(summary["padding"])]


def test_write_replaces_the_benchmarks_own_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(zeroskip.bench, "DOCS", tmp_path)
    argv = ["bench", "eie-cycles", "--layers", "NT-Wd", "--scale", "0.02", "--pes", "2",
            "--queue-layer", "NT-Wd", "--speedup-layer", "NT-Wd", "--write", "-q"]
    (tmp_path / "bench_eie_cycles.md").write_text("old\n")
    assert main(argv) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["bench_eie_cycles.md"]
    assert (tmp_path / "bench_eie_cycles.md").read_text() == capsys.readouterr().out[:-1]


@pytest.mark.parametrize("argv, message", [
    (["eie-cycles", "--layers", "Alex-9"],
     "--layers: unknown Table III layer 'Alex-9'; known: " + ", ".join(SPECS)),
    (["eie-cycles", "--speedup-layer", "NT"],
     "--speedup-layer: unknown Table III layer 'NT'; known: " + ", ".join(SPECS)),
    (["eie-cycles", "--scale", "0"], "--scale must be in (0, 1], not 0.0"),
    (["eie-cycles", "--pes", "2000"], "--pes must be an integer from 1 to 1024, not 2000"),
    (["eie-cycles", "--queue-depth", "0"],
     "--queue-depth must be an integer from 1 to 1024, not 0"),
    (["sw-model", "--seed", "-1"], "--seed must be a non-negative integer, not -1"),
    (["sw-model", "--repeat", "0"], "--repeat must be an integer from 1 to 1000, not 0"),
    (["sw-model", "--pes", "8", "8"], "--pes must not repeat a PE count, not 8 8"),
    (["eie-rtl", "--pes", "0"], "--pes must be an integer from 1 to 1024, not 0"),
    (["eie-rtl", "--out", __file__], f"--out {__file__!r} is a file, not a folder"),
    (["nm-tile", "--k", "6"], "--k must be a multiple of 4, not 6"),
    (["nm-tile", "--rows", "8", "8"], "--rows must not repeat a value, not 8 8"),
    (["nm-tile", "--units", "0"], "--units must be an integer from 1 to 256, not 0"),
    (["nm-tile", "--rows", "8", "16", "--formula-rows", "16"],
     "--formula-rows must not repeat a value of --rows, not 16"),
    (["nm-accuracy", "--seeds", "-1"], "--seeds must be an integer from 0 to 4294967295, not -1"),
    (["nm-accuracy", "--seeds", "1", "1"], "--seeds must not repeat a seed, not 1 1"),
    (["nm-accuracy", "--epochs", "0"], "--epochs must be an integer from 1 to 1000, not 0"),
    (["nm-accuracy", "--finetune-epochs", "1001"],
     "--finetune-epochs must be an integer from 1 to 1000, not 1001"),
    (["nm-accuracy", "--hidden", "8,x"],
     "--hidden must be comma-separated integers such as 256,128, not '8,x'"),
])
def test_bad_options_are_one_line_and_exit_2(argv, message, capsys):
    assert main(["bench", *argv, "-q"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"zeroskip bench: error: {message}\n"
    assert captured.out == ""


def test_unparsable_option_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "nm-tile", "--rows", "many"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        "zeroskip bench nm-tile: error: argument --rows: invalid int value: 'many'\n")


def _fake_simulation(tamper):
    """A stand-in for ``run_cocotb`` that answers as the models do, after ``tamper``."""
    from sim.eie_stimuli import load_jobs

    def run_cocotb(*, sidecar, data, out, **_):
        info = load_sidecar(sidecar)
        jobs, load = load_jobs(np.load(data, allow_pickle=False))
        assert load
        result = {"outputs": [], "cycles": [], "busy": [], "stall": [], "job": [],
                  "n_out": [], "load_seconds": [], "run_seconds": []}
        for k, job in enumerate(jobs):
            ((layer, _),) = job.layers
            for acts in job.acts:
                model = layer_cycles(layer, acts, config=info.config, timing=info.timing)
                outputs = eie_chain(job.layers, acts, config=info.config)[-1]
                result["outputs"].append(outputs)
                result["n_out"].append(len(outputs))
                result["cycles"].append(model.cycles)
                result["busy"].append(model.busy)
                result["stall"].append(model.stall)
                result["job"].append(k)
            result["load_seconds"].append(0.5)
            result["run_seconds"].append(0.25)
        width = max(result["n_out"])
        result["outputs"] = [np.pad(o, (0, width - len(o))) for o in result["outputs"]]
        result = {key: np.array(value) for key, value in result.items()}
        tamper(result)
        np.savez(out, **result)

    return run_cocotb


def _bump_cycles(result):
    result["cycles"][-1] += 1


def _bump_output(result):
    result["outputs"][0, 0] += 1


@pytest.mark.parametrize("tamper, message", [
    (lambda result: None, None),
    (_bump_cycles, "NT-Wd on 1 PEs: the RTL's cycles differ from the model's"),
    (_bump_output, "NT-We on 1 PEs: the RTL's outputs differ from the model's"),
])
def test_eie_rtl_compares_the_simulation_with_the_models(tamper, message, tmp_path,
                                                         monkeypatch, capsys):
    import sim.runner

    monkeypatch.setattr(sim.runner, "run_cocotb", _fake_simulation(tamper))
    argv = ["bench", "eie-rtl", "--layers", "NT-We", "NT-Wd", "--scale", "0.01", "--pes", "1",
            "--queue-depth", "3", "--out", str(tmp_path), "-q"]
    if message is not None:
        with pytest.raises(AssertionError, match=message):
            main(argv)
        return
    assert main(argv) == 0
    rows = _table_rows("## x\n" + capsys.readouterr().out, "x")
    assert [row[:3] for row in rows] == [["NT-We", "41 x 6", "1"], ["NT-Wd", "6 x 88", "1"]]
    assert rows[0][5:8] == ["0.5", "0.25", str(round(int(rows[0][3]) / 0.25))]
    # The array is sized once, for the layers it loads one at a time, at exact sizes.
    matrices = [_scaled(name, 0.01, 1)[0] for name in ("NT-We", "NT-Wd")]
    want = fit_config(matrices, EieConfig(n_pe=1, queue_depth=3), at_once=False, pow2=False)
    assert load_sidecar(tmp_path / "pe1" / "eie-bench-1pe.json").config == want


def _fake_tile(extra_cycles):
    """A stand-in for ``run_nm_tile``: the tile's own cycle formula plus ``extra_cycles``."""
    from hw.sparse_nm import tile_shape
    from zeroskip.rtl import NmRun

    def run_nm_tile(sidecar, w, acts, *, build_dir):
        info = load_sidecar(sidecar)
        beats, blocks = tile_shape(*w.shape, info.config)
        return NmRun(outputs=np.zeros((len(acts), w.shape[0]), dtype=np.int64),
                     cycles=blocks * beats + info.timing.latency + extra_cycles,
                     beats=beats, blocks=blocks, design=info)

    return run_nm_tile


def test_nm_tile_table(tmp_path, monkeypatch, capsys):
    import zeroskip.rtl

    monkeypatch.setattr(zeroskip.rtl, "run_nm_tile", _fake_tile(0))
    assert main(["bench", "nm-tile", "--rows", "6", "--formula-rows", "40", "--k", "32",
                 "--units", "2", "--groups", "2", "--out", str(tmp_path), "-q"]) == 0
    rows = _table_rows("## x\n" + capsys.readouterr().out, "x")
    # tile, layer, cycles from, units x multipliers, activations / beat, beats, blocks
    assert [row[:7] for row in rows] == [
        ["sparse-2of4", "6 x 32", "Verilator", "2 x 4", "8", "4", "3"],
        ["dense-2of2", "6 x 32", "Verilator", "2 x 4", "4", "8", "3"],
        ["sparse-2of4", "40 x 32", "formula (not simulated)", "2 x 4", "8", "4", "20"],
        ["dense-2of2", "40 x 32", "formula (not simulated)", "2 x 4", "4", "8", "20"]]
    latency = int(rows[0][7])
    assert rows[2][8] == str(20 * 4 + latency)
    assert rows[2][11] == f"{(20 * 8 + latency) / (20 * 4 + latency):.4f}x"


def test_nm_tile_stops_when_cycles_differ_from_the_formula(tmp_path, monkeypatch):
    import zeroskip.rtl

    monkeypatch.setattr(zeroskip.rtl, "run_nm_tile", _fake_tile(1))
    with pytest.raises(AssertionError, match=r"^sparse-2of4, 6 x 32: measured \d+ cycles, but "
                                             r"blocks \* beats \+ latency = \d+"):
        main(["bench", "nm-tile", "--rows", "6", "--k", "32", "--units", "2", "--groups", "2",
              "--out", str(tmp_path), "-q"])


def test_nm_accuracy_networks_are_the_formats():
    from sw_model.fixed import to_fixed
    from sw_model.nm_format import compress
    from zeroskip.bench.nm_accuracy import nm_network

    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(10, 64)), rng.normal(size=(3, 10))]   # 10 inputs: padded
    for n, m, block_rows in [(2, 4, 1), (2, 4, 4), (1, 4, 4), (4, 8, 8)]:
        for w, p in zip(weights, nm_network(weights, n, m, block_rows), strict=True):
            assert p.shape == w.shape
            width = -(-w.shape[1] // m) * m
            q = to_fixed(np.pad(p, ((0, 0), (0, width - w.shape[1]))), 8, bits=16)
            compress(q, n, m, block_rows=block_rows)      # raises unless the pattern holds


def test_nm_accuracy_seed_and_table(capsys):
    from sw_model.train import Mlp
    from zeroskip.bench.nm_accuracy import PATTERNS, nm_network, seed_accuracies, table
    from zeroskip.nm_copy import nm_finetune
    from zeroskip.training import digits, train_builtin

    rows = seed_accuracies(3, hidden=(8,), epochs=1, finetune_epochs=1)
    assert [(r.network, r.block_rows) for r in rows] == [
        ("dense", None), ("dense, biases left out", None),
        *((f"{n}:{m}", b) for n, m, b in PATTERNS)]
    assert rows[0].finetuned is None and rows[0].kept == 1.0
    assert [r.kept for r in rows[2:]] == [n / m for n, m, _ in PATTERNS]
    # The 2:4 copy in blocks of 4 rows, made and measured again by hand.
    data = digits(3)
    mlp = train_builtin(data, hidden=(8,), seed=3, epochs=1)
    assert rows[0].accuracy == mlp.accuracy(data.x_test, data.y_test)
    weights = [w[:, :-1] for w in mlp.weights]
    pruned = nm_network(weights, 2, 4, 4)
    tuned = nm_finetune(pruned, data, seed=3, epochs=1)
    assert all(np.array_equal(t != 0, p != 0) for t, p in zip(tuned, pruned, strict=True))
    (row,) = [r for r in rows if (r.network, r.block_rows) == ("2:4", 4)]
    assert row.accuracy == Mlp(pruned).accuracy(data.x_test, data.y_test)
    assert row.finetuned == Mlp(tuned).accuracy(data.x_test, data.y_test)

    # The command prints the table of these numbers.
    argv = ["bench", "nm-accuracy", "--seeds", "3", "--hidden", "8", "--epochs", "1",
            "--finetune-epochs", "1", "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "\n".join(table([rows])) in out


def test_nm_accuracy_table_over_seeds():
    from zeroskip.bench.nm_accuracy import Accuracy, table

    def seed(dense, per_row, shared):
        return [Accuracy("dense", None, 1.0, dense, None),
                Accuracy("2:4", 1, 0.5, *per_row), Accuracy("2:4", 4, 0.5, *shared)]

    lines = table([seed(0.98, (0.95, 0.97), (0.90, 0.965)),
                   seed(0.96, (0.93, 0.96), (0.92, 0.960))])
    rows = _table_rows("## x\n" + "\n".join(lines), "x")
    assert rows == [
        ["dense", "", "100.0 %", "97.00 % (96.00 % to 98.00 %)", "", ""],
        ["2:4", "1 (per row)", "50.0 %", "94.00 % (93.00 % to 95.00 %)",
         "96.50 % (96.00 % to 97.00 %)", ""],
        ["2:4", "4", "50.0 %", "91.00 % (90.00 % to 92.00 %)", "96.25 % (96.00 % to 96.50 %)",
         "-3.00 / -0.25"]]
