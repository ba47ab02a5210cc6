"""Bringing your own network: ONNX graphs and safetensors state dicts through ``zeroskip compile``.

Every file here is written by the test itself (``onnx.helper``,
``safetensors.numpy``) from arrays it chose, and every expected value comes
from those arrays: the ``(outputs, inputs + 1)`` matrices with the bias last,
the float network ``relu(W0 x + b0)`` and so on, written out with NumPy. The
weights, biases and inputs sit on grids that the 16-bit formats hold exactly
(and a layer has fewer than 16 distinct values, so weight sharing is exact):
the golden model then differs from the float network only by the rounding of
each layer's outputs to Q8.8, which the tests bound.
"""

import json
import pathlib

import numpy as np
import onnx
import pytest
import safetensors.numpy
from helpers import error_line
from onnx import TensorProto, helper, numpy_helper

from sw_model.eie_model import eie_chain
from zeroskip.cli import main
from zeroskip.compression import load_compiled
from zeroskip.errors import UserError
from zeroskip.importers import load_network, natural_key
from zeroskip.weights import load_weights

#: Values of the weights and biases: exact in float16, float32 and Q4.12, eight of them.
GRID = np.array([-1.5, -0.75, -0.5, -0.125, 0.125, 0.25, 0.5, 1.0])


@pytest.fixture
def net():
    """A 6 -> 8 -> 3 network with biases, as float32 arrays on the grid, and test data."""
    rng = np.random.default_rng(11)
    arrays = {"w0": rng.choice(GRID, (8, 6)), "b0": rng.choice(GRID, 8),
              "w1": rng.choice(GRID, (3, 8)), "b1": rng.choice(GRID, 3)}
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    # Inputs on the Q8.8 grid in [0, 1): the array sees them exactly.
    x = rng.integers(0, 256, (12, 6)) / 256
    return arrays, x, rng.integers(0, 3, 12)


def _augmented(w, b):
    """``[w | b]`` as float64, written out here rather than with the code under test."""
    return np.column_stack((w.astype(np.float64), b.astype(np.float64)))


def _float_outputs(arrays, x):
    hidden = np.maximum(x @ arrays["w0"].T.astype(np.float64) + arrays["b0"], 0.0)
    return hidden @ arrays["w1"].T.astype(np.float64) + arrays["b1"]


def _save_onnx(path, nodes, initializers, n_in, n_out, input_name="x", output_name="y"):
    graph = helper.make_graph(
        nodes, "net", [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [None, n_in])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [None, n_out])],
        initializer=initializers)
    onnx.save(helper.make_model(graph), path)
    return str(path)


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def _pytorch_layers(a):
    """``Gemm`` (transB=1, as ``torch.nn.Linear`` exports) - ``Relu`` - ``Gemm``: nodes, inits."""
    nodes = [helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], name="fc1",
                              transB=1),
             helper.make_node("Relu", ["h"], ["r"], name="relu1"),
             helper.make_node("Gemm", ["r", "fc2.weight", "fc2.bias"], ["y"], name="fc2",
                              transB=1)]
    inits = [_init("fc1.weight", a["w0"]), _init("fc1.bias", a["b0"]),
             _init("fc2.weight", a["w1"]), _init("fc2.bias", a["b1"])]
    return nodes, inits


def _pytorch_onnx(path, a):
    return _save_onnx(path, *_pytorch_layers(a), 6, 3)


# --- the readers: the same Network as the equivalent .npz ----------------------------------


def _onnx_variants(a):
    """The 6 -> 8 -> 3 network written the ways ONNX exporters write it."""
    w0, b0, w1, b1 = a["w0"], a["b0"], a["w1"], a["b1"]
    relu = helper.make_node("Relu", ["h"], ["r"], name="relu1")
    return {
        "gemm_transB": ([helper.make_node("Gemm", ["x", "W0", "B0"], ["h"], name="fc1",
                                          transB=1), relu,
                         helper.make_node("Gemm", ["r", "W1", "B1"], ["y"], name="fc2",
                                          transB=1)],
                        [_init("W0", w0), _init("B0", b0), _init("W1", w1), _init("B1", b1)]),
        # B stored (inputs, outputs) and scaled: alpha * B^T = W, beta * C = b.
        "gemm_alpha_beta": ([helper.make_node("Gemm", ["x", "W0", "B0"], ["h"], name="fc1",
                                              alpha=0.5, beta=2.0), relu,
                             helper.make_node("Gemm", ["r", "W1", "B1"], ["y"], name="fc2",
                                              alpha=4.0, beta=0.25)],
                            [_init("W0", 2 * w0.T), _init("B0", b0 / 2),
                             _init("W1", w1.T / 4), _init("B1", 4 * b1[None, :])]),
        "matmul_add": ([helper.make_node("MatMul", ["x", "W0"], ["m"], name="fc1"),
                        helper.make_node("Add", ["m", "B0"], ["h"], name="fc1_bias"), relu,
                        helper.make_node("MatMul", ["r", "W1"], ["m1"], name="fc2"),
                        helper.make_node("Add", ["B1", "m1"], ["y"], name="fc2_bias")],
                       [_init("W0", w0.T), _init("B0", b0), _init("W1", w1.T),
                        _init("B1", b1)]),
        # A Gemm's C and an Add after it both add to the bias.
        "gemm_then_add": ([helper.make_node("Gemm", ["x", "W0", "C0"], ["g"], name="fc1",
                                            transB=1),
                           helper.make_node("Add", ["g", "B0"], ["h"], name="fc1_bias"), relu,
                           helper.make_node("Gemm", ["r", "W1"], ["g1"], name="fc2", transB=1),
                           helper.make_node("Add", ["g1", "B1"], ["y"], name="fc2_bias")],
                          [_init("W0", w0), _init("C0", b0 / 2), _init("B0", b0 / 2),
                           _init("W1", w1), _init("B1", b1)]),
        "constants": ([helper.make_node("Constant", [], ["W0"], name="c0",
                                        value=_init("W0", w0.T)),
                       helper.make_node("Constant", [], ["B1"], name="c1",
                                        value_floats=b1.tolist()),
                       helper.make_node("MatMul", ["x", "W0"], ["m"], name="fc1"),
                       helper.make_node("Add", ["m", "B0"], ["h"], name="fc1_bias"), relu,
                       helper.make_node("Gemm", ["r", "W1", "B1"], ["y"], name="fc2",
                                        transB=1)],
                      [_init("B0", b0.astype(np.float16)), _init("W1", w1.astype(np.float64))]),
    }


@pytest.mark.parametrize("variant", ["gemm_transB", "gemm_alpha_beta", "matmul_add",
                                     "gemm_then_add", "constants"])
def test_onnx_reads_the_network_of_the_equivalent_npz(tmp_path, net, variant):
    a, _, _ = net
    nodes, inits = _onnx_variants(a)[variant]
    network = load_network(_save_onnx(tmp_path / "net.onnx", nodes, inits, 6, 3))
    expected = [_augmented(a["w0"], a["b0"]), _augmented(a["w1"], a["b1"])]
    assert network.bias == (True, True)
    assert [w.dtype for w in network.weights] == [np.float64, np.float64]
    assert all(np.array_equal(got, want)
               for got, want in zip(network.weights, expected, strict=True))
    np.savez(tmp_path / "net.npz", **a)
    npz = load_weights(tmp_path / "net.npz")
    assert npz.bias == network.bias
    assert all(np.array_equal(got, want)
               for got, want in zip(network.weights, npz.weights, strict=True))
    assert network.x is None and network.y is None


def test_onnx_nodes_select_the_fully_connected_part(tmp_path, net, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, _, _ = net
    layers, inits = _pytorch_layers(a)
    nodes = [helper.make_node("Flatten", ["image"], ["x"], name="flatten"), *layers,
             helper.make_node("Softmax", ["y"], ["p"], name="softmax")]
    path = _save_onnx("big.onnx", nodes, inits, 6, 3, input_name="image", output_name="p")
    expected = [_augmented(a["w0"], a["b0"]), _augmented(a["w1"], a["b1"])]
    for spec in ("fc1:fc2", "fc1,relu1,fc2", "relu1, fc2, fc1"):
        network = load_network(path, onnx_nodes=spec)
        assert all(np.array_equal(got, want)
                   for got, want in zip(network.weights, expected, strict=True)), spec
    assert network.source == "user weights from big.onnx (ONNX nodes fc1 to fc2)"
    # One Gemm alone is a one-layer network.
    single = load_network(path, onnx_nodes="fc2")
    assert len(single.weights) == 1 and np.array_equal(single.weights[0], expected[1])
    with pytest.raises(UserError) as info:
        load_network(path)
    assert str(info.value) == ("Flatten node 'flatten' in 'big.onnx' is not an operator "
                               "zeroskip compiles (Gemm, MatMul, Add, Relu); select the fully "
                               "connected part with --onnx-nodes FIRST:LAST")


def test_natural_key_orders_numbered_layers():
    names = ["net.10", "net.2", "net.0", "fc10", "fc9"]
    assert sorted(names, key=natural_key) == ["fc9", "fc10", "net.0", "net.2", "net.10"]


def test_safetensors_reads_a_state_dict_in_natural_order(tmp_path, net):
    a, _, _ = net
    rng = np.random.default_rng(5)
    # Three layers named so that plain string order (net.0, net.10, net.2) would not chain.
    w2 = rng.choice(GRID, (4, 3)).astype(np.float32)
    path = tmp_path / "net.safetensors"
    safetensors.numpy.save_file({"net.0.weight": a["w0"], "net.0.bias": a["b0"],
                                 "net.2.weight": a["w1"].astype(np.float16),
                                 "net.10.weight": w2, "net.10.bias": a["b1"][:1].repeat(4)},
                                str(path))
    network = load_network(path)
    assert network.bias == (True, False, True)
    assert np.array_equal(network.weights[0], _augmented(a["w0"], a["b0"]))
    assert np.array_equal(network.weights[1], a["w1"].astype(np.float64))
    assert np.array_equal(network.weights[2], _augmented(w2, a["b1"][:1].repeat(4)))
    assert network.source == (f"user weights from {path} (layers net.0, net.2, net.10, natural "
                              f"order of the names)")
    np.savez(tmp_path / "net.npz", w0=a["w0"], b0=a["b0"], w1=a["w1"], w2=w2,
             b2=a["b1"][:1].repeat(4))
    npz = load_weights(tmp_path / "net.npz")
    assert npz.bias == network.bias
    assert all(np.array_equal(got, want)
               for got, want in zip(network.weights, npz.weights, strict=True))


def test_safetensors_layers_option_orders_and_selects(tmp_path, net, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, _, _ = net
    # Natural order would put classifier before encoder; the other tensors are not layers.
    safetensors.numpy.save_file({"encoder.weight": a["w0"], "encoder.bias": a["b0"],
                                 "classifier.weight": a["w1"],
                                 "norm.running_mean": np.zeros(8, np.float32),
                                 "conv.weight": np.ones((2, 1, 3, 3), np.float32)},
                                "model.safetensors")
    network = load_network("model.safetensors", layers="encoder, classifier")
    assert network.bias == (True, False)
    assert np.array_equal(network.weights[0], _augmented(a["w0"], a["b0"]))
    assert np.array_equal(network.weights[1], a["w1"].astype(np.float64))
    with pytest.raises(UserError) as info:
        load_network("model.safetensors")
    assert str(info.value) == (
        "tensor 'norm.running_mean' in 'model.safetensors' is neither a '<layer>.weight' nor a "
        "'<layer>.bias'; name the layers to compile with --layers (the other tensors are then "
        "left out)")


# --- through `zeroskip compile`: the compiled model computes the float network --------------


def _golden_outputs(folder, x):
    """The compiled model's outputs on ``x`` (on the Q8.8 grid), from ``model.npz``, as floats."""
    compiled = load_compiled(folder)
    acts = np.round(x * 256).astype(np.int64)
    return np.stack([eie_chain(compiled.layers, v, config=compiled.design.config)[-1]
                     for v in acts]) / 256


def _rounding_bound(w1):
    """The largest golden-model error: each layer's outputs rounded to Q8.8 (1/512 at most)."""
    return (1 + np.abs(w1.astype(np.float64)).sum(axis=1)) / 512


def test_compile_onnx_with_data_and_labels(tmp_path, net, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    a, x, y = net
    _pytorch_onnx("net.onnx", a)
    np.savez("data.npz", x=x, y=y)
    status = main(["compile", "net.onnx", "--onnx-nodes", "fc1:fc2", "--data", "data.npz",
                   "--out", "out", "--pe", "2", "--density", "1", "-q"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    report = json.loads(pathlib.Path("out/report.json").read_text())
    net_report = report["network"]
    assert net_report["sizes"] == [6, 8, 3] and net_report["bias"] == [True, True]
    assert net_report["source"] == ("user weights from net.onnx (ONNX nodes fc1 to fc2); test "
                                    "data from data.npz")
    assert net_report["evaluation"] == "the --data file's test data x and labels y"
    assert net_report["eval_vectors"] == 12
    expected = _float_outputs(a, x)
    golden = _golden_outputs("out", x)
    assert np.all(np.abs(golden - expected) <= _rounding_bound(a["w1"]))
    acc = report["accuracy"]
    assert acc["pruned_float"] == np.mean(np.argmax(expected, axis=1) == y)
    assert acc["quantized_golden"] == np.mean(np.argmax(golden, axis=1) == y)


def test_compile_safetensors_with_data_without_labels(tmp_path, net, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    a, x, _ = net
    safetensors.numpy.save_file({"fc1.weight": a["w0"], "fc1.bias": a["b0"],
                                 "fc2.weight": a["w1"], "fc2.bias": a["b1"]},
                                "net.safetensors")
    np.savez("inputs.npz", x=x)
    status = main(["compile", "net.safetensors", "--data", "inputs.npz", "--out", "out",
                   "--pe", "3", "--density", "1", "-q"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    report = json.loads(pathlib.Path("out/report.json").read_text())
    assert report["network"]["evaluation"] == "the --data file's test data x, without labels"
    # Without labels nothing is an accuracy; the cycle model still ran on every vector.
    assert all(value is None for value in report["accuracy"].values())
    assert report["eie"]["vectors"] == 12
    golden = _golden_outputs("out", x)
    assert np.all(np.abs(golden - _float_outputs(a, x)) <= _rounding_bound(a["w1"]))


# --- bad files: one line naming the file and the node or tensor, exit status 2 ---------------


def _write_bad_files(a):
    """Broken networks in the working folder, each wrong in one way."""
    w0, b0, w1 = a["w0"], a["b0"], a["w1"]
    relu = helper.make_node("Relu", ["h"], ["r"], name="relu1")
    gemm1 = helper.make_node("Gemm", ["x", "W0", "B0"], ["h"], name="fc1", transB=1)
    gemm2 = helper.make_node("Gemm", ["r", "W1"], ["y"], name="fc2", transB=1)
    inits = [_init("W0", w0), _init("B0", b0), _init("W1", w1)]
    _save_onnx("softmax.onnx", [gemm1, relu, gemm2,
                                helper.make_node("Softmax", ["y"], ["p"], name="probs")],
               inits, 6, 3, output_name="p")
    _save_onnx("int.onnx", [gemm1, relu, gemm2],
               [_init("W0", w0), _init("B0", b0), _init("W1", w1.astype(np.int64))], 6, 3)
    _save_onnx("no_weight.onnx", [gemm1, relu, gemm2], inits[:2], 6, 3)
    _save_onnx("no_relu.onnx", [gemm1, helper.make_node("Gemm", ["h", "W1"], ["y"], name="fc2",
                                                        transB=1)], inits, 6, 3)
    _save_onnx("last_relu.onnx", [gemm1, relu], inits[:2], 6, 8, output_name="r")
    _save_onnx("shape.onnx", [gemm1, relu, gemm2], inits[:2] + [_init("W1", w1[:, :5])], 6, 3)
    _save_onnx("trans_a.onnx", [helper.make_node("Gemm", ["x", "W0"], ["y"], name="fc1",
                                                 transA=1)], inits[:1], 6, 8)
    _save_onnx("residual.onnx", [helper.make_node("MatMul", ["x", "W"], ["h"], name="fc1"),
                                 helper.make_node("Add", ["h", "h"], ["y"], name="skip")],
               [_init("W", np.eye(6, dtype=np.float32))], 6, 6)
    _save_onnx("nan.onnx", [gemm1], [_init("W0", np.where(w0 > 0, np.nan, w0)),
                                     _init("B0", b0)], 6, 8, output_name="h")
    good = pathlib.Path(_pytorch_onnx("good.onnx", a)).read_bytes()
    pathlib.Path("truncated.onnx").write_bytes(good[:len(good) // 2])
    pathlib.Path("empty.onnx").write_bytes(b"")
    tensors = {"fc1.weight": w0, "fc1.bias": b0, "fc2.weight": w1}
    safetensors.numpy.save_file(tensors, "good.safetensors")
    safetensors.numpy.save_file({**tensors, "fc2.weight": w1.T.copy()}, "transposed.safetensors")
    safetensors.numpy.save_file({**tensors, "fc1.weight": w0.T.copy()},
                                "transposed_first.safetensors")
    safetensors.numpy.save_file({**tensors, "fc2.weight": w1.astype(np.int32)},
                                "int.safetensors")
    safetensors.numpy.save_file({**tensors, "fc3.bias": b0}, "stray_bias.safetensors")
    good = pathlib.Path("good.safetensors").read_bytes()
    pathlib.Path("truncated.safetensors").write_bytes(good[:-8])
    pathlib.Path("empty.safetensors").write_bytes(b"")
    safetensors.numpy.save_file({"conv.weight": np.ones((2, 1, 3, 3), np.float32),
                                 "fc.weight": w1}, "conv.safetensors")
    np.savez("net.npz", w0=w0, x=np.zeros((2, 6)))
    np.savez("labels.npz", y=np.zeros(2, dtype=int))
    pathlib.Path("empty.npz").write_bytes(b"")
    np.savez("wide.npz", x=np.zeros((2, 7)))
    pathlib.Path("net.h5").write_bytes(b"")


@pytest.mark.parametrize("argv, message", [
    (["softmax.onnx"],
     "Softmax node 'probs' in 'softmax.onnx' is not an operator zeroskip compiles (Gemm, "
     "MatMul, Add, Relu); select the fully connected part with --onnx-nodes FIRST:LAST"),
    (["int.onnx"],
     "tensor 'W1' (input B of Gemm node 'fc2') in 'int.onnx' must hold floats (FLOAT, DOUBLE, "
     "FLOAT16 or BFLOAT16), not INT64"),
    (["no_weight.onnx"],
     "tensor 'W1' (input B of Gemm node 'fc2') in 'no_weight.onnx' is neither an initializer "
     "nor the output of a Constant node: zeroskip needs the weights in the file"),
    (["no_relu.onnx"],
     "Gemm node 'fc2' in 'no_relu.onnx' follows layer 0 (Gemm node 'fc1') without a Relu "
     "between them; the EIE array applies ReLU after every layer but the last"),
    (["last_relu.onnx"],
     "Relu node 'relu1' in 'last_relu.onnx' follows the last layer (Gemm node 'fc1'), but the "
     "EIE array's last layer has no ReLU (its outputs are the logits); end the selection "
     "before it with --onnx-nodes FIRST:LAST"),
    (["shape.onnx"],
     "Gemm node 'fc2' in 'shape.onnx' has 5 inputs, but layer 0 (Gemm node 'fc1') has 8 "
     "outputs"),
    (["trans_a.onnx"],
     "Gemm node 'fc1' in 'trans_a.onnx' has transA=1: zeroskip takes the activations as rows "
     "(transA=0)"),
    (["residual.onnx"],
     "Add node 'skip' in 'residual.onnx' must add a bias (an initializer or a Constant) to one "
     "computed tensor; its computed inputs: 'h', 'h'"),
    (["nan.onnx"],
     "tensor 'W0' (input B of Gemm node 'fc1') in 'nan.onnx' holds non-finite values"),
    (["truncated.onnx"],
     "weights file 'truncated.onnx' is not a readable ONNX model (truncated or corrupted?): "
     "Error parsing message with type 'onnx.ModelProto': Wire format was corrupt"),
    (["empty.onnx"],
     "weights file 'empty.onnx' holds no ONNX graph nodes (an empty file, or not an ONNX "
     "model?)"),
    (["good.onnx", "--onnx-nodes", "fc1:fc9"],
     "--onnx-nodes: 'good.onnx' has no node named 'fc9' (its nodes: fc1, relu1, fc2)"),
    (["good.onnx", "--onnx-nodes", "fc2:fc1"],
     "--onnx-nodes 'fc2:fc1': node 'fc2' comes after 'fc1' in the graph; give FIRST:LAST in "
     "graph order"),
    (["good.onnx", "--layers", "fc1,fc2"],
     "--layers applies to .safetensors weights, not to 'good.onnx'"),
    (["transposed.safetensors"],
     "tensor 'fc2.weight' in 'transposed.safetensors' has shape [8, 3], 3 in_features, but "
     "layer 'fc1' before it has 8 out_features; is it stored [in_features, out_features]? Its "
     "transpose [3, 8] would chain (PyTorch's Linear stores [out_features, in_features])"),
    (["transposed_first.safetensors"],
     "tensor 'fc1.bias' in 'transposed_first.safetensors' must hold one bias per out_feature "
     "of 'fc1.weight', shape [6], not [8]; is 'fc1.weight' stored [in_features, "
     "out_features]? PyTorch's Linear stores [out_features, in_features]"),
    (["int.safetensors"],
     "tensor 'fc2.weight' in 'int.safetensors' must hold floats (F16, F32 or F64), not I32"),
    (["good.safetensors", "--layers", "fc1,fc2,fc3"],
     "tensor 'fc3.weight' (layer 'fc3' of --layers) is not in 'good.safetensors' (its "
     "weights: fc1.weight, fc2.weight)"),
    (["stray_bias.safetensors"],
     "tensor 'fc3.bias' in 'stray_bias.safetensors' is a bias, but there is no 'fc3.weight'"),
    (["truncated.safetensors"],
     "weights file 'truncated.safetensors' is not a readable .safetensors file (truncated or "
     "corrupted?): Error while deserializing header: incomplete metadata, file not fully "
     "covered"),
    (["empty.safetensors"],
     "weights file 'empty.safetensors' is not a readable .safetensors file (truncated or "
     "corrupted?): Error while deserializing header: header too small"),
    (["missing.safetensors"], "weights file 'missing.safetensors' does not exist"),
    (["good.safetensors", "--onnx-nodes", "fc1:fc2"],
     "--onnx-nodes applies to .onnx weights, not to 'good.safetensors'"),
    (["net.h5"],
     "weights file 'net.h5' has an unknown suffix '.h5': zeroskip reads .npz (w0, w1, ...), "
     ".onnx and .safetensors"),
    (["good.safetensors", "--data", "wide.npz"],
     "array 'x' in 'wide.npz' must be numeric with shape (vectors, 6), not float64 (2, 7)"),
    (["good.onnx", "--data", "empty.npz"],
     "data file 'empty.npz' is empty, not an .npz archive"),
    (["good.onnx", "--data", "labels.npz"],
     "data file 'labels.npz' has no array 'x' (test inputs, shape (vectors, 6)); found y"),
    (["conv.safetensors"],
     "tensor 'conv.weight' in 'conv.safetensors' must be a non-empty 2-D [out_features, "
     "in_features] matrix, not shape [2, 1, 3, 3]; name the fully connected layers with "
     "--layers"),
    (["net.npz", "--data", "wide.npz"],
     "weights file 'net.npz' has its own test data x; leave out --data 'wide.npz' or remove x "
     "(and y) from the weights file"),
])
def test_bad_networks_are_one_line_errors(tmp_path, net, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    _write_bad_files(net[0])
    assert main(["compile", *argv, "--out", "out"]) == 2
    assert error_line(capsys) == f"zeroskip compile: error: {message}"
    assert not pathlib.Path("out").exists()
