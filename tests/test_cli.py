"""``zeroskip demo``, ``compile`` and ``simulate`` from the command line.

Each runs once with good input and once with bad input: bad input is one line
on stderr, exit status 2, no traceback and no output folder.
"""

import json

import numpy as np
import pytest
from helpers import error_line

from zeroskip.cli import main


@pytest.fixture
def user_net(tmp_path):
    """A 10 -> 12 -> 4 network with eight test vectors and labels."""
    rng = np.random.default_rng(7)
    path = tmp_path / "net.npz"
    x = rng.uniform(0, 1, size=(8, 10))
    np.savez(path, w0=rng.normal(0, 0.5, size=(12, 10)), w1=rng.normal(0, 0.5, size=(4, 12)),
             x=x, y=rng.integers(0, 4, size=8))
    np.save(tmp_path / "inputs.npy", x[:3])
    return path


@pytest.mark.parametrize("command", ["demo", "compile", "simulate"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: zeroskip {command}") and "--quiet" in out


def test_demo_help_says_images_limits_the_rtl_run_only(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "it limits the RTL run only" in " ".join(capsys.readouterr().out.split())


@pytest.mark.verilator
def test_demo(tmp_path, capsys):
    """The built-in MLP, small: trained, pruned, 3 vectors on the RTL, report and plots."""
    out = tmp_path / "demo"
    status = main(["demo", "--out", str(out), "--hidden", "24", "--pe", "2", "--images", "3",
                   "--no-synth", "--no-nm", "--quiet"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.err == ""
    assert captured.out == (out / "report.md").read_text()
    report = json.loads((out / "report.json").read_text())
    assert report["network"]["sizes"] == [64, 24, 10]
    assert report["network"]["rtl_vectors"] == 3
    assert report["network"]["eval_vectors"] == 450
    eie = report["eie"]
    assert eie["rtl_equals_golden"] and eie["rtl_cycles_equal_model"] and eie["vectors"] == 3
    assert report["accuracy"]["quantized_golden"] > 0.8
    assert report["accuracy"]["rtl"] == report["accuracy"]["quantized_golden_rtl_vectors"]
    assert "trained from scratch on the digits training set" in report["network"]["steps"][0]
    for name in ("design.v", "design.json", "model.npz", "plots/pe_load.png",
                 "plots/accuracy_density.png", "plots/cycles.png"):
        assert (out / name).stat().st_size > 0, name
    assert "(`--images` limits the RTL run only" in captured.out


def test_demo_bad_input(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["demo", "--density", "1.5", "--out", str(out)]) == 2
    assert error_line(capsys) == "zeroskip demo: error: --density must be in (0, 1], not 1.5"
    # Usage errors found by the argument parser end the same way.
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--pe", "many", "--out", str(out)])
    assert exit_info.value.code == 2
    assert error_line(capsys) == ("zeroskip demo: error: argument --pe: invalid int value: "
                                   "'many'")
    assert not out.exists()


def test_compile(tmp_path, user_net, capsys):
    out = tmp_path / "compiled"
    status = main(["compile", str(user_net), "--out", str(out), "--pe", "2", "--density",
                   "0.5", "--quiet"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.err == ""
    assert captured.out == (out / "report.md").read_text()
    for name in ("design.v", "design.json", "model.npz", "report.json", "plots/pe_load.png"):
        assert (out / name).stat().st_size > 0, name
    # No pruning history for weights that were not fine-tuned: no accuracy plot.
    assert not (out / "plots" / "accuracy_density.png").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["network"]["sizes"] == [10, 12, 4]
    assert "never trained by zeroskip (no --finetune)" in report["network"]["steps"][0]
    assert report["eie"]["source"] == "cycle model"
    assert f"zeroskip simulate {out} --inputs FILE" in captured.out
    # Without --queue-depth the array has the configuration's default depth,
    # 16 (as deep as an ECP5 LUT RAM).
    assert json.loads((out / "design.json").read_text())["config"]["queue_depth"] == 16


def test_compile_bad_input(tmp_path, capsys):
    out = tmp_path / "never"
    missing = tmp_path / "missing.npz"
    assert main(["compile", str(missing), "--out", str(out)]) == 2
    assert error_line(capsys) == (f"zeroskip compile: error: weights file {str(missing)!r} "
                                   f"does not exist")
    with pytest.raises(SystemExit) as exit_info:
        main(["compile", str(missing)])
    assert exit_info.value.code == 2
    assert error_line(capsys) == ("zeroskip compile: error: the following arguments are "
                                   "required: --out")
    assert not out.exists()


@pytest.mark.verilator
def test_simulate(tmp_path, user_net, capsys):
    """A compiled folder in Verilator: every output and cycle count equals the models."""
    out = tmp_path / "compiled"
    assert main(["compile", str(user_net), "--out", str(out), "--pe", "2", "-q"]) == 0
    capsys.readouterr()
    saved = tmp_path / "rtl.npz"
    status = main(["simulate", str(out), "--inputs", str(tmp_path / "inputs.npy"), "--save",
                   str(saved), "-q"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "RTL outputs equal the golden model bit for bit on 3 of 3 vectors" in captured.out
    assert "RTL cycle counts equal the cycle model on 3 of 3" in captured.out
    result = np.load(saved)
    assert np.array_equal(result["outputs"], result["golden"])
    assert np.array_equal(result["cycles"], result["model_cycles"])


def test_simulate_bad_input(tmp_path, user_net, capsys):
    out = tmp_path / "compiled"
    assert main(["compile", str(user_net), "--out", str(out), "--pe", "2", "-q"]) == 0
    capsys.readouterr()
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 7)))
    assert main(["simulate", str(out), "--inputs", str(wrong)]) == 2
    assert error_line(capsys) == (
        f"zeroskip simulate: error: the array in {str(wrong)!r} must have shape (vectors, 10) "
        f"for the design's 10 inputs, not (2, 7)")
    assert main(["simulate", str(tmp_path), "--inputs", str(wrong)]) == 2
    assert error_line(capsys) == (
        f"zeroskip simulate: error: design side-car {str(tmp_path / 'design.json')!r} does not "
        f"exist; is {str(tmp_path)!r} a folder written by `zeroskip compile`?")
    assert not (out / "sim").exists()


def test_verilog(tmp_path, capsys):
    """Named configurations to Verilog and side-car; the side-car reads back typed."""
    from hw.eie.configs import config_for
    from hw.generate import load_sidecar

    assert main(["verilog", "eie-1pe", "nm-mac-2of4", "--out", str(tmp_path), "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"eie-1pe: {tmp_path}/eie-1pe.v {tmp_path}/eie-1pe.json",
                     f"nm-mac-2of4: {tmp_path}/nm-mac-2of4.v {tmp_path}/nm-mac-2of4.json"]
    assert load_sidecar(tmp_path / "eie-1pe.json").config == config_for("eie-1pe")
    assert main(["verilog", "--list"]) == 0
    assert "eie-8pe" in capsys.readouterr().out.split()
    # The side-car records the family; an ECP5 build instantiates MULT18X18D.
    assert load_sidecar(tmp_path / "eie-1pe.json").family is None
    assert main(["verilog", "nm-mac-2of4", "--family", "ecp5", "--out", str(tmp_path / "e"),
                 "-q"]) == 0
    assert load_sidecar(tmp_path / "e" / "nm-mac-2of4.json").family == "ecp5"
    assert "MULT18X18D" in (tmp_path / "e" / "nm-mac-2of4.v").read_text()
    assert "MULT18X18D" not in (tmp_path / "nm-mac-2of4.v").read_text()


@pytest.mark.parametrize("argv, message", [
    (["verilog", "eie-3pe"], "zeroskip verilog: error: unknown configuration(s): eie-3pe; "
                             "known: dense-mac-g4, dense-tile, eie-16pe"),
    (["verilog"], "zeroskip verilog: error: name at least one configuration, or 'all' "
                  "(see --list)"),
])
def test_verilog_bad_input(tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path / "v")]) == 2
    assert error_line(capsys).startswith(message)
    assert not (tmp_path / "v").exists()


def test_verilog_unknown_family_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["verilog", "eie-1pe", "--family", "gowin", "--out", str(tmp_path / "v")])
    assert exit_info.value.code == 2
    assert error_line(capsys) == ("zeroskip verilog: error: argument --family: invalid "
                                   "choice: 'gowin' (choose from 'ecp5', 'ice40')")
    assert not (tmp_path / "v").exists()


def test_no_subcommand_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage: zeroskip" in capsys.readouterr().err
