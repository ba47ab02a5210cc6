"""Bad input to ``zeroskip compile``, ``demo`` and ``simulate``: one line, exit status 2.

Every case ends in one line on stderr that names the file, array or option
and the value, exit status 2, no traceback, and nothing written: no output
folder, no simulation build. None of these tests runs Verilator: every input
is refused before the simulation starts.
"""

import io
import pathlib
import re

import numpy as np
import pytest
from helpers import error_line

from sw_model.eie_format import layers_to_arrays
from zeroskip.cli import main
from zeroskip.compile import compile_network
from zeroskip.compression import MODEL_FILE, load_compiled
from zeroskip.demo import DemoOptions, plan_demo
from zeroskip.errors import UserError
from zeroskip.progress import Progress


@pytest.fixture
def files(tmp_path, monkeypatch):
    """Good and broken input files in ``tmp_path``, which is the working folder."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    np.savez("net.npz", w0=rng.normal(0, 0.5, size=(6, 5)), x=rng.uniform(0, 1, size=(3, 5)))
    good = pathlib.Path("net.npz").read_bytes()
    pathlib.Path("truncated.npz").write_bytes(good[:len(good) // 2])
    pathlib.Path("empty.npz").write_bytes(b"")
    pathlib.Path("empty.npy").write_bytes(b"")
    # The stored (uncompressed) w0 member's data, overwritten: its CRC no longer matches.
    corrupt = bytearray(good)
    start = good.index(b"w0.npy") + 6 + 128
    corrupt[start:start + 16] = b"\xff" * 16
    pathlib.Path("corrupt.npz").write_bytes(bytes(corrupt))
    np.savez("pickled.npz", w0=rng.normal(size=(6, 5)),
             x=np.array([[1, 2, 3, 4, 5]], dtype=object))
    np.savez("pickled_x.npz", x=np.array([[1, 2, 3, 4, 5]], dtype=object))
    np.savez("many.npz", **{f"w{i}": np.ones((2, 2)) for i in range(300)})
    pathlib.Path("a_file").write_text("not a folder")
    pathlib.Path("folder.npz").mkdir()
    return tmp_path


def _nothing_written(tmp_path, before):
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("argv, message", [
    (["compile", "truncated.npz", "--out", "out"],
     "zeroskip compile: error: weights file 'truncated.npz' is not a readable .npz archive "
     "(truncated or corrupted?): File is not a zip file"),
    (["compile", "empty.npz", "--out", "out"],
     "zeroskip compile: error: weights file 'empty.npz' is empty, not an .npz archive"),
    (["compile", "corrupt.npz", "--out", "out"],
     "zeroskip compile: error: array 'w0' in 'corrupt.npz' cannot be read (the file is "
     "truncated or corrupted?): Bad CRC-32 for file 'w0.npy'"),
    (["compile", "pickled.npz", "--out", "out"],
     "zeroskip compile: error: array 'x' in 'pickled.npz' cannot be loaded without pickle: "
     "Object arrays cannot be loaded when allow_pickle=False"),
    (["compile", "a_file/net.npz", "--out", "out"],
     "zeroskip compile: error: weights file 'a_file/net.npz' does not exist ('a_file' is a "
     "file, not a folder)"),
    (["compile", "net.npz", "--out", "a_file/out"],
     "zeroskip compile: error: --out 'a_file/out' is inside 'a_file', which is a file"),
    (["compile", "many.npz", "--out", "out"],
     "zeroskip compile: error: weights file 'many.npz' does not fit an EIE array of 8 PEs "
     "(300 layers): max_layers must be in the range [1, 256], not 300"),
    (["demo", "--weights", "truncated.npz", "--out", "out"],
     "zeroskip demo: error: weights file 'truncated.npz' is not a readable .npz archive "
     "(truncated or corrupted?): File is not a zip file"),
    (["demo", "--weights", "empty.npz", "--out", "out"],
     "zeroskip demo: error: weights file 'empty.npz' is empty, not an .npz archive"),
    (["demo", "--weights", "corrupt.npz", "--out", "out"],
     "zeroskip demo: error: array 'w0' in 'corrupt.npz' cannot be read (the file is "
     "truncated or corrupted?): Bad CRC-32 for file 'w0.npy'"),
    (["demo", "--weights", "many.npz", "--out", "out"],
     "zeroskip demo: error: weights file 'many.npz' does not fit an EIE array of 8 PEs "
     "(300 layers): max_layers must be in the range [1, 256], not 300"),
    (["demo", "--target", "bogus", "--out", "out"],
     "zeroskip demo: error: --target: Unknown target 'bogus'; known: ice40-up5k, ice40-hx8k, "
     "ecp5-25f-6, ecp5-25f-8, ecp5-85f-6, ecp5-85f-8"),
    (["demo", "--synth-mhz", "-5", "--out", "out"],
     "zeroskip demo: error: --synth-mhz must be a frequency in MHz above 0 and at most 1000, "
     "not -5.0"),
    (["demo", "--synth-mhz", "nan", "--out", "out"],
     "zeroskip demo: error: --synth-mhz must be a frequency in MHz above 0 and at most 1000, "
     "not nan"),
    (["demo", "--synth-mhz", "inf", "--out", "out"],
     "zeroskip demo: error: --synth-mhz must be a frequency in MHz above 0 and at most 1000, "
     "not inf"),
    (["demo", "--pe", "2000", "--out", "out"],
     "zeroskip demo: error: --pe must be an integer from 1 to 1024, not 2000"),
    (["demo", "--density", "nan", "--out", "out"],
     "zeroskip demo: error: --density must be in (0, 1], not nan"),
    (["compile", "net.npz", "--density", "inf", "--out", "out"],
     "zeroskip compile: error: --density must be in (0, 1], not inf"),
])
def test_compile_and_demo_refuse_bad_input_before_any_work(files, capsys, argv, message):
    before = sorted(p.name for p in files.iterdir())
    assert main(argv) == 2
    assert error_line(capsys) == message
    _nothing_written(files, before)


def test_output_folder_that_cannot_be_made(files, capsys, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)
    assert main(["compile", "net.npz", "--out", "out", "-q"]) == 2
    assert error_line(capsys) == ("zeroskip compile: error: --out 'out' cannot be made: "
                                   "Permission denied")


@pytest.mark.parametrize("fields, message", [
    ({"n_pe": "8"}, "--pe must be an integer from 1 to 1024, not '8'"),
    ({"queue_depth": 4.0}, "--queue-depth must be an integer from 1 to 1024, not 4.0"),
    ({"seed": True}, "--seed must be an integer from 0 to 4294967295, not True"),
    ({"density": "0.5"}, "--density must be in (0, 1], not '0.5'"),
    ({"synth_mhz": "50"}, "--synth-mhz must be a frequency in MHz above 0 and at most 1000, "
                          "not '50'"),
    ({"images": 1.5}, "--images must be 0 (all) or positive, not 1.5"),
    ({"target": None}, "--target must be the name of an FPGA target, not None"),
    ({"out": 3}, "--out must be a folder name, not 3"),
])
def test_demo_options_of_the_wrong_type(tmp_path, fields, message):
    options = DemoOptions(**{"out": str(tmp_path / "never"), **fields})
    with pytest.raises(UserError, match=r"^" + re.escape(message) + r"$"):
        plan_demo(options)
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("target, mhz", [("ecp5-25f-6", 125.0), ("ice40-up5k", 50.0)])
def test_demo_clock_target_defaults_to_the_targets_goal(tmp_path, target, mhz):
    plan = plan_demo(DemoOptions(out=str(tmp_path / "d"), target=target))
    assert plan.options.synth_mhz == mhz
    given = plan_demo(DemoOptions(out=str(tmp_path / "d"), target=target, synth_mhz=80.0))
    assert given.options.synth_mhz == 80.0


@pytest.fixture
def compiled(files, capsys):
    """``net.npz`` compiled for 2 PEs into ``compiled/`` (no simulation)."""
    assert main(["compile", "net.npz", "--out", "compiled", "--pe", "2", "-q"]) == 0
    capsys.readouterr()
    return files / "compiled"


@pytest.mark.parametrize("inputs, extra, message", [
    ("truncated.npz", [],
     "zeroskip simulate: error: inputs file 'truncated.npz' is not a readable .npz archive "
     "(truncated or corrupted?): File is not a zip file"),
    ("empty.npz", [], "zeroskip simulate: error: inputs file 'empty.npz' is empty, not an .npz "
                      "archive"),
    ("empty.npy", [], "zeroskip simulate: error: inputs file 'empty.npy' is empty, not a .npy "
                      "array"),
    ("pickled_x.npz", [],
     "zeroskip simulate: error: array 'x' in 'pickled_x.npz' cannot be loaded without pickle: "
     "Object arrays cannot be loaded when allow_pickle=False"),
    ("a_file/x.npy", [], "zeroskip simulate: error: inputs file 'a_file/x.npy' does not exist "
                         "('a_file' is a file, not a folder)"),
    ("a_file/x.npz", [], "zeroskip simulate: error: inputs file 'a_file/x.npz' does not exist "
                         "('a_file' is a file, not a folder)"),
    ("net.npz", ["--save", "compiled"],
     "zeroskip simulate: error: --save must name an .npz file in an existing folder, not "
     "'compiled'"),
    ("net.npz", ["--save", "folder.npz"],
     "zeroskip simulate: error: --save must name an .npz file in an existing folder, not "
     "'folder.npz'"),
    ("net.npz", ["--save", "a_file/out.npz"],
     "zeroskip simulate: error: --save must name an .npz file in an existing folder, not "
     "'a_file/out.npz'"),
])
def test_simulate_refuses_bad_input_before_the_simulation(compiled, capsys, inputs, extra,
                                                          message):
    assert main(["simulate", "compiled", "--inputs", inputs, *extra]) == 2
    assert error_line(capsys) == message
    assert not (compiled / "sim").exists()


def test_simulate_names_the_corrupted_inputs_member(compiled, capsys):
    np.savez("inputs.npz", x=np.ones((2, 5)))
    good = pathlib.Path("inputs.npz").read_bytes()
    corrupt = bytearray(good)
    start = good.index(b"x.npy") + 5 + 128
    corrupt[start:start + 8] = b"\xff" * 8
    pathlib.Path("inputs.npz").write_bytes(bytes(corrupt))
    assert main(["simulate", "compiled", "--inputs", "inputs.npz"]) == 2
    assert error_line(capsys) == (
        "zeroskip simulate: error: array 'x' in 'inputs.npz' cannot be read (the file is "
        "truncated or corrupted?): Bad CRC-32 for file 'x.npy'")
    assert not (compiled / "sim").exists()


def test_truncated_model_file_of_a_compiled_folder(compiled):
    model = compiled / MODEL_FILE
    model.write_bytes(model.read_bytes()[:100])
    with pytest.raises(UserError, match=r"^model file 'compiled/model\.npz' is not a compiled "
                                        r"zeroskip model: File is not a zip file$"):
        load_compiled("compiled")


def test_tampered_model_file_breaks_a_layer_invariant(compiled):
    layers = load_compiled("compiled").layers
    arrays = layers_to_arrays(layers)
    ptr = np.array(arrays["layer0_ptr"])
    ptr[1, 0] = 1
    arrays["layer0_ptr"] = ptr
    np.savez(compiled / MODEL_FILE, **arrays)
    with pytest.raises(UserError, match=r"^model file 'compiled/model\.npz' is not a compiled "
                                        r"zeroskip model: ptr\[1, 0\] must be 0 \(the start of "
                                        r"PE 1's stream\), not 1$"):
        load_compiled("compiled")


def test_compile_says_when_weights_saturate(tmp_path):
    stream = io.StringIO()
    weights = [np.array([[10.0, 0.5, -9.0], [0.25, 0.0, 1.0]])]
    compressed, _ = compile_network(weights, n_pe=1, queue_depth=2, folder=tmp_path / "c",
                                    progress=Progress(stream=stream))
    assert compressed.sharing[0]["saturated"] == 2
    assert ("layer 0: 2 weight(s) outside the 16-bit shared-weight range [-8, 7.99976] "
            "(12 fractional bits) saturated") in stream.getvalue()
