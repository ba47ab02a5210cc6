"""A network brought from elsewhere: ONNX graphs and safetensors state dicts as a :class:`Network`.

``zeroskip compile`` picks the reader by the file's suffix
(:func:`load_network`): ``.npz`` (:func:`zeroskip.weights.load_weights`),
``.onnx`` (:func:`load_onnx`) or ``.safetensors`` (:func:`load_safetensors`).
Whatever the format, the network is what the EIE array computes: a chain of
fully connected layers ``y = W x + b`` with a ReLU after every layer but the
last, whose outputs are the logits. Each reader turns the file into those
``(outputs, inputs)`` matrices, the bias of a layer that has one appended as
its last column (:func:`sw_model.eie_format.append_bias_column`), and checks
that the file says the same thing; ``docs/import.md`` has the rules.

ONNX
    a chain of ``Gemm`` or ``MatMul`` (each optionally followed by an ``Add``
    of a bias) with a ``Relu`` after every layer but the last; weights and
    biases are initializers or ``Constant`` nodes. A larger model's fully
    connected part is chosen by node names (``--onnx-nodes FIRST:LAST`` or a
    list).
safetensors
    a PyTorch state dict: ``<layer>.weight`` of shape ``[out_features,
    in_features]`` and optionally ``<layer>.bias``; the layers in the natural
    order of their names, or in the order ``--layers`` gives.

The readers use the ``onnx`` and ``safetensors`` packages and NumPy only.
Every problem is a :class:`~zeroskip.errors.UserError` that names the file
and the node or tensor.
"""

import dataclasses
import re
from pathlib import Path

import numpy as np

from sw_model.eie_format import append_bias_column

from .errors import UserError
from .weights import Network, layer_sizes, load_test_data, load_weights, unreadable_file

__all__ = ["SUFFIXES", "ONNX_OPERATORS", "load_network", "load_onnx", "load_safetensors",
           "parse_layers", "natural_key"]

#: The weights formats ``zeroskip compile`` reads, by file suffix.
SUFFIXES = (".npz", ".onnx", ".safetensors")
#: The ONNX operators of a chain of fully connected layers (``Constant`` nodes hold weights).
ONNX_OPERATORS = ("Gemm", "MatMul", "Add", "Relu")
#: ONNX tensor types that hold floats (``TensorProto.FLOAT``, ``DOUBLE``, ``FLOAT16``,
#: ``BFLOAT16``). ``onnx`` itself is imported where it is used: importing it takes about
#: 0.2 s, which every ``zeroskip`` command would pay (the CLI imports every subcommand).
_ONNX_FLOATS = (1, 11, 10, 16)


def load_network(path, *, onnx_nodes=None, layers=None, data=None):
    """The :class:`Network` in ``path``, read as its suffix says, with test data from ``data``.

    ``onnx_nodes`` (the text of ``--onnx-nodes``) selects the nodes of an
    ``.onnx`` graph; ``layers`` (the text of ``--layers``) names the layers of
    a ``.safetensors`` file in order; ``data``: an ``.npz`` of test inputs
    ``x`` and optional labels ``y`` (``--data``), for a network whose file
    holds none.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        what = f"an unknown suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise UserError(f"weights file {str(path)!r} has {what}: zeroskip reads .npz (w0, w1, "
                        f"...), .onnx and .safetensors")
    if onnx_nodes is not None and suffix != ".onnx":
        raise UserError(f"--onnx-nodes applies to .onnx weights, not to {str(path)!r}")
    if layers is not None and suffix != ".safetensors":
        raise UserError(f"--layers applies to .safetensors weights, not to {str(path)!r}")
    if suffix == ".onnx":
        network = load_onnx(path, nodes=onnx_nodes)
    elif suffix == ".safetensors":
        network = load_safetensors(path, layers=layers)
    else:
        network = load_weights(path)
    if data is None:
        return network
    if network.x is not None:
        raise UserError(f"weights file {str(path)!r} has its own test data x; leave out "
                        f"--data {str(data)!r} or remove x (and y) from the weights file")
    x, y = load_test_data(data, layer_sizes(network.weights, network.bias)[0])
    return dataclasses.replace(network, x=x, y=y, source=f"{network.source}; test data from "
                               f"{data}", data_source="the --data file's test data")


def _probe(what, path):
    """Raise the :class:`UserError` of :func:`unreadable_file` unless ``path`` opens."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise unreadable_file(what, path, exc) from None


def _layer(w, b):
    return w if b is None else append_bias_column(w, b)


# --- ONNX -------------------------------------------------------------------------------


@dataclasses.dataclass
class _OnnxLayer:
    """A layer being read from a graph: its matrix, bias, nodes and whether a Relu follows."""

    w: np.ndarray
    b: np.ndarray | None
    nodes: list
    relu: bool = False


def _node_text(node, index):
    """``Gemm node 'fc1'``, or ``Gemm node #3 (no name)`` for a node without a name."""
    if node.name:
        return f"{node.op_type} node {node.name!r}"
    return f"{node.op_type} node #{index} (no name)"


def _is_constant(node):
    return node.op_type == "Constant" and node.domain in ("", "ai.onnx")


def _select_nodes(graph, spec, path):
    """Indices of the graph's nodes that ``--onnx-nodes`` (``spec``) selects, in graph order.

    ``FIRST:LAST`` selects every node from ``FIRST`` to ``LAST`` in graph
    order, both included; ``A,B,C`` those nodes; one name, that node.
    ``None`` selects the whole graph.
    """
    nodes = graph.node
    if spec is None:
        return list(range(len(nodes)))
    positions = {}
    for i, node in enumerate(nodes):
        positions.setdefault(node.name, []).append(i)

    def index(name):
        if not name:
            raise UserError(f"--onnx-nodes must be node names, FIRST:LAST or a comma-separated "
                            f"list, not {spec!r}")
        if name not in positions:
            named = [n.name for n in nodes if n.name]
            shown = ", ".join(named[:8]) + (", ..." if len(named) > 8 else "")
            raise UserError(f"--onnx-nodes: {str(path)!r} has no node named {name!r} (its "
                            f"nodes: {shown or 'none has a name'})")
        if len(positions[name]) > 1:
            raise UserError(f"--onnx-nodes: {str(path)!r} has {len(positions[name])} nodes "
                            f"named {name!r}; the name does not say which")
        return positions[name][0]

    text = str(spec).strip()
    if "," in text:
        chosen = [index(part.strip()) for part in text.split(",")]
        if len(set(chosen)) != len(chosen):
            raise UserError(f"--onnx-nodes names a node twice: {spec!r}")
        return sorted(chosen)
    if text in positions or ":" not in text:
        return [index(text)]
    # A name may hold a colon: split at the first colon that leaves two node names.
    splits = [(text[:k].strip(), text[k + 1:].strip()) for k, c in enumerate(text) if c == ":"]
    first, last = next(((a, b) for a, b in splits if a in positions and b in positions),
                       splits[0])
    start, stop = index(first), index(last)
    if start > stop:
        raise UserError(f"--onnx-nodes {spec!r}: node {first!r} comes after {last!r} in the "
                        f"graph; give FIRST:LAST in graph order")
    return list(range(start, stop + 1))


class _OnnxGraph:
    """A graph's constant tensors (initializers, ``Constant`` outputs), read on demand."""

    def __init__(self, model, path):
        self.path = path
        self.tensors = {t.name: t for t in model.graph.initializer}
        self.constants = {output: node for node in model.graph.node if _is_constant(node)
                          for output in node.output}

    def has(self, name):
        """Whether ``name`` is a constant tensor: an initializer or a ``Constant``'s output."""
        return name in self.tensors or name in self.constants

    def array(self, name, role, node_text):
        """Constant tensor ``name``, the ``role`` input of ``node_text``, as ``float64``."""
        import onnx
        from onnx import numpy_helper

        what = f"tensor {name!r} ({role} of {node_text}) in {str(self.path)!r}"
        if name in self.tensors:
            tensor = self.tensors[name]
        elif name in self.constants:
            tensor = self._constant_value(self.constants[name], what)
        else:
            raise UserError(f"{what} is neither an initializer nor the output of a Constant "
                            f"node: zeroskip needs the weights in the file")
        if tensor.data_type not in _ONNX_FLOATS:
            kind = onnx.helper.tensor_dtype_to_string(tensor.data_type).split(".")[-1]
            raise UserError(f"{what} must hold floats (FLOAT, DOUBLE, FLOAT16 or BFLOAT16), "
                            f"not {kind}")
        try:
            array = numpy_helper.to_array(tensor, base_dir=str(self.path.parent))
        except (ValueError, TypeError, OSError, onnx.checker.ValidationError) as exc:
            raise UserError(f"{what} cannot be read (truncated or corrupted, or its external "
                            f"data file missing?): {exc}") from None
        if array.dtype.kind != "f":  # bfloat16, an ml_dtypes type: float32 holds it exactly
            array = array.astype(np.float32)
        if not np.all(np.isfinite(array)):
            raise UserError(f"{what} holds non-finite values")
        return array.astype(np.float64)

    @staticmethod
    def _constant_value(node, what):
        """The ``TensorProto`` a ``Constant`` node makes (float attributes only)."""
        import onnx

        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if "value" in attributes:
            return attributes["value"]
        for key in ("value_float", "value_floats"):
            if key in attributes:
                return onnx.numpy_helper.from_array(np.array(attributes[key], np.float32))
        given = ", ".join(sorted(attributes)) or "no value"
        raise UserError(f"{what} comes from a Constant node with {given}; zeroskip reads a "
                        f"Constant's 'value', 'value_float' or 'value_floats'")


def _read_onnx_model(path):
    import onnx
    from google.protobuf.message import DecodeError

    _probe("weights file", path)
    try:
        # External data are read tensor by tensor, so that a missing file is named.
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, onnx.checker.ValidationError) as exc:
        raise UserError(f"weights file {str(path)!r} is not a readable ONNX model (truncated "
                        f"or corrupted?): {exc}") from None
    if not model.graph.node:
        raise UserError(f"weights file {str(path)!r} holds no ONNX graph nodes (an empty file, "
                        f"or not an ONNX model?)")
    return model


def load_onnx(path, nodes=None):
    """The :class:`Network` of the ONNX graph in ``path`` (``nodes``: ``--onnx-nodes``).

    The selected nodes, in graph order, must be a chain: each ``Gemm`` or
    ``MatMul`` starts a layer and reads the output of the node before (the
    first reads the network's input); an ``Add`` of a constant vector after
    it is the bias; a ``Relu`` ends every layer but the last. ``Constant``
    nodes hold weights and may be anywhere in the graph.
    """
    path = Path(path)
    model = _read_onnx_model(path)
    graph = model.graph
    constants = _OnnxGraph(model, path)
    selected = [i for i in _select_nodes(graph, nodes, path) if not _is_constant(graph.node[i])]
    if not selected:
        chosen = "the whole graph" if nodes is None else f"--onnx-nodes {nodes!r}"
        raise UserError(f"{chosen} of {str(path)!r} holds only Constant nodes, no layers")
    layers = []
    current = None          # the tensor the chain has computed so far
    for i in selected:
        node = graph.node[i]
        text = _node_text(node, i)
        if node.domain not in ("", "ai.onnx") or node.op_type not in ONNX_OPERATORS:
            domain = f" of domain {node.domain!r}" if node.domain not in ("", "ai.onnx") else ""
            raise UserError(f"{text}{domain} in {str(path)!r} is not an operator zeroskip "
                            f"compiles ({', '.join(ONNX_OPERATORS)}); select the fully "
                            f"connected part with --onnx-nodes FIRST:LAST")
        act = _activation_input(node, text, constants, path)
        if current is not None and act != current:
            raise UserError(f"{text} in {str(path)!r} reads {act!r}, not {current!r} (the "
                            f"output of the node before it): zeroskip compiles a chain of "
                            f"layers")
        if len(node.output) != 1 or not node.output[0]:
            raise UserError(f"{text} in {str(path)!r} must have one output, not "
                            f"{len(node.output)}")
        current = node.output[0]
        if node.op_type in ("Gemm", "MatMul"):
            if layers and not layers[-1].relu:
                raise UserError(f"{text} in {str(path)!r} follows layer {len(layers) - 1} "
                                f"({layers[-1].nodes[0]}) without a Relu between them; the EIE "
                                f"array applies ReLU after every layer but the last")
            w, b = (_gemm if node.op_type == "Gemm" else _matmul)(node, text, constants, path)
            if layers and w.shape[1] != layers[-1].w.shape[0]:
                raise UserError(f"{text} in {str(path)!r} has {w.shape[1]} inputs, but layer "
                                f"{len(layers) - 1} ({layers[-1].nodes[0]}) has "
                                f"{layers[-1].w.shape[0]} outputs")
            layers.append(_OnnxLayer(w=w, b=b, nodes=[text]))
            continue
        if not layers:
            raise UserError(f"{text} in {str(path)!r} comes before any Gemm or MatMul; the "
                            f"chain must start with a layer (select from the first Gemm or "
                            f"MatMul with --onnx-nodes FIRST:LAST)")
        layer = layers[-1]
        if node.op_type == "Add":
            if layer.relu:
                raise UserError(f"{text} in {str(path)!r} adds after the Relu of layer "
                                f"{len(layers) - 1} ({layer.nodes[0]}); a bias must come "
                                f"before the Relu")
            name = next(n for n in node.input if n != act)
            bias = _bias_vector(constants.array(name, "the bias", text), layer.w.shape[0],
                                name, text, path)
            layer.b = bias if layer.b is None else layer.b + bias
        else:  # Relu
            layer.relu = True
        layer.nodes.append(text)
    if layers[-1].relu:
        relu = next(n for n in layers[-1].nodes if n.startswith("Relu"))
        raise UserError(f"{relu} in {str(path)!r} follows the last layer "
                        f"({layers[-1].nodes[0]}), but the EIE array's last layer has no ReLU "
                        f"(its outputs are the logits); end the selection before it with "
                        f"--onnx-nodes FIRST:LAST")
    first, last = (graph.node[i].name or f"#{i}" for i in (selected[0], selected[-1]))
    span = f"ONNX nodes {first} to {last}" if len(selected) > 1 else f"ONNX node {first}"
    return Network(weights=tuple(_layer(layer.w, layer.b) for layer in layers), x=None,
                   y=None, source=f"user weights from {path} ({span})",
                   bias=tuple(layer.b is not None for layer in layers))


def _activation_input(node, text, constants, path):
    """The name of the computed tensor ``node`` reads; its other inputs must be constants."""
    inputs = [name for name in node.input if name]
    if node.op_type == "Add":
        computed = [name for name in inputs if not constants.has(name)]
        if len(inputs) != 2 or len(computed) != 1:
            shown = ", ".join(repr(n) for n in computed) or "none"
            raise UserError(f"{text} in {str(path)!r} must add a bias (an initializer or a "
                            f"Constant) to one computed tensor; its computed inputs: {shown}")
        return computed[0]
    expected = {"Gemm": (2, 3), "MatMul": (2, 2), "Relu": (1, 1)}[node.op_type]
    if not expected[0] <= len(inputs) <= expected[1]:
        raise UserError(f"{text} in {str(path)!r} has {len(inputs)} inputs, not "
                        f"{' to '.join(map(str, sorted(set(expected))))}")
    if constants.has(inputs[0]):
        raise UserError(f"{text} in {str(path)!r} reads the constant {inputs[0]!r} as its "
                        f"first input; zeroskip takes the activations there (Y = X W)")
    return inputs[0]


def _attributes(node):
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _gemm(node, text, constants, path):
    """``(W, b)`` of ``Gemm``: ``Y = alpha * A' B' + beta * C`` with ``A`` the activations."""
    attrs = _attributes(node)
    if attrs.get("transA", 0) != 0:
        raise UserError(f"{text} in {str(path)!r} has transA={attrs['transA']}: zeroskip takes "
                        f"the activations as rows (transA=0)")
    trans_b = attrs.get("transB", 0)
    if trans_b not in (0, 1):
        raise UserError(f"{text} in {str(path)!r} has transB={trans_b}, not 0 or 1")
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not np.isfinite(value):
            raise UserError(f"{text} in {str(path)!r} has {name}={value}; it must be finite")
    b_matrix = constants.array(node.input[1], "input B", text)
    if b_matrix.ndim != 2 or 0 in b_matrix.shape:
        raise UserError(f"tensor {node.input[1]!r} (input B of {text}) in {str(path)!r} must "
                        f"be a non-empty 2-D matrix, not shape {b_matrix.shape}")
    # Y = A B: B is (inputs, outputs); with transB=1 it is stored (outputs, inputs).
    w = alpha * (b_matrix if trans_b else b_matrix.T)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        c = constants.array(node.input[2], "input C", text)
        bias = beta * _bias_vector(c, w.shape[0], node.input[2], text, path)
    return w, bias


def _matmul(node, text, constants, path):
    """``(W, None)`` of ``MatMul``: ``Y = X W`` with ``W`` an ``(inputs, outputs)`` constant."""
    matrix = constants.array(node.input[1], "the weight", text)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise UserError(f"tensor {node.input[1]!r} (the weight of {text}) in {str(path)!r} "
                        f"must be a non-empty 2-D (inputs, outputs) matrix, not shape "
                        f"{matrix.shape}")
    return matrix.T, None


def _bias_vector(c, n_outputs, name, text, path):
    """A bias tensor broadcast, as ONNX would, to one value per output."""
    try:
        if c.ndim > 2:
            raise ValueError
        return np.broadcast_to(c, (1, n_outputs))[0].copy()
    except ValueError:
        raise UserError(f"tensor {name!r} (the bias of {text}) in {str(path)!r} must be one "
                        f"value per output, shape ({n_outputs},) or (1, {n_outputs}) (or one "
                        f"value for all), not shape {c.shape}") from None


# --- safetensors --------------------------------------------------------------------------


def natural_key(name):
    """Sort key of a layer name in natural order: ``fc2`` before ``fc10``, ``0`` before ``2``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def parse_layers(text):
    """The layer names of ``--layers`` (``"fc1,fc2,fc3"``) as a tuple."""
    names = tuple(part.strip() for part in str(text).split(","))
    if not all(names):
        raise UserError(f"--layers must be comma-separated layer names such as fc1,fc2,fc3, "
                        f"not {text!r}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"--layers names {twice[0]!r} twice: {text!r}")
    return names


#: safetensors dtypes that hold floats NumPy reads.
_SAFETENSORS_FLOATS = ("F16", "F32", "F64")


def _open_safetensors(path):
    from safetensors import SafetensorError, safe_open

    _probe("weights file", path)
    try:
        return safe_open(str(path), framework="numpy")
    except SafetensorError as exc:
        raise UserError(f"weights file {str(path)!r} is not a readable .safetensors file "
                        f"(truncated or corrupted?): {exc}") from None
    except OSError as exc:
        raise unreadable_file("weights file", path, exc) from None


def _tensor(handle, name, path):
    """Tensor ``name`` of an open safetensors file as ``float64``, checked for type and values."""
    from safetensors import SafetensorError

    dtype = handle.get_slice(name).get_dtype()
    if dtype not in _SAFETENSORS_FLOATS:
        hint = ("; NumPy has no bfloat16: save it as float32"
                if dtype == "BF16" else "")
        raise UserError(f"tensor {name!r} in {str(path)!r} must hold floats (F16, F32 or F64), "
                        f"not {dtype}{hint}")
    try:
        array = handle.get_tensor(name)
    except (SafetensorError, ValueError, OSError) as exc:
        raise UserError(f"tensor {name!r} in {str(path)!r} cannot be read (truncated or "
                        f"corrupted?): {exc}") from None
    if not np.all(np.isfinite(array)):
        raise UserError(f"tensor {name!r} in {str(path)!r} holds non-finite values")
    return array.astype(np.float64)


def _state_dict_layers(names, path):
    """The layer prefixes of a state dict's tensor ``names``, in natural order."""
    prefixes = sorted((n[:-len(".weight")] for n in names if n.endswith(".weight")),
                      key=natural_key)
    known = {f"{p}.{kind}" for p in prefixes for kind in ("weight", "bias")}
    for name in sorted(set(names) - known, key=natural_key):
        if name.endswith(".bias"):
            raise UserError(f"tensor {name!r} in {str(path)!r} is a bias, but there is no "
                            f"{name[:-len('.bias')] + '.weight'!r}")
        raise UserError(f"tensor {name!r} in {str(path)!r} is neither a '<layer>.weight' nor a "
                        f"'<layer>.bias'; name the layers to compile with --layers (the other "
                        f"tensors are then left out)")
    if not prefixes:
        raise UserError(f"weights file {str(path)!r} has no '<layer>.weight' tensors (found "
                        f"{', '.join(sorted(names, key=natural_key)) or 'nothing'})")
    return prefixes


def load_safetensors(path, layers=None):
    """The :class:`Network` of the PyTorch-style state dict in ``path``.

    Layer ``p`` is ``p.weight``, ``[out_features, in_features]`` as
    ``torch.nn.Linear`` stores it, and optionally ``p.bias``
    (``[out_features]``). ``layers`` (the text of ``--layers``) lists the
    layers in order and leaves every other tensor out; without it every
    ``.weight`` is a layer, in the natural order of the names (``fc2`` before
    ``fc10``), and any other tensor is an error.
    """
    path = Path(path)
    with _open_safetensors(path) as handle:
        names = list(handle.keys())
        if layers is None:
            prefixes = _state_dict_layers(names, path)
        else:
            prefixes = parse_layers(layers)
            for prefix in prefixes:
                if f"{prefix}.weight" not in names:
                    weights = sorted((n for n in names if n.endswith(".weight")),
                                     key=natural_key)
                    shown = ", ".join(weights[:8]) + (", ..." if len(weights) > 8 else "")
                    raise UserError(f"tensor {prefix + '.weight'!r} (layer {prefix!r} of "
                                    f"--layers) is not in {str(path)!r} (its weights: "
                                    f"{shown or 'none'})")
        matrices, biases = [], []
        for prefix in prefixes:
            w = _linear_weight(handle, prefix, path, matrices, prefixes)
            bias = None
            if f"{prefix}.bias" in names:
                bias = _linear_bias(handle, prefix, path, w)
            matrices.append(w)
            biases.append(bias)
    order = "--layers" if layers is not None else "natural order of the names"
    return Network(weights=tuple(_layer(w, b) for w, b in zip(matrices, biases, strict=True)),
                   x=None, y=None,
                   source=f"user weights from {path} (layers {', '.join(prefixes)}, {order})",
                   bias=tuple(b is not None for b in biases))


def _linear_weight(handle, prefix, path, previous, prefixes):
    name = f"{prefix}.weight"
    w = _tensor(handle, name, path)
    if w.ndim != 2 or 0 in w.shape:
        raise UserError(f"tensor {name!r} in {str(path)!r} must be a non-empty 2-D "
                        f"[out_features, in_features] matrix, not shape {list(w.shape)}; "
                        f"name the fully connected layers with --layers")
    if previous and w.shape[1] != previous[-1].shape[0]:
        before = prefixes[len(previous) - 1]
        n_out = previous[-1].shape[0]
        text = (f"tensor {name!r} in {str(path)!r} has shape {list(w.shape)}, "
                f"{w.shape[1]} in_features, but layer {before!r} before it has {n_out} "
                f"out_features")
        if w.shape[0] == n_out:
            text += (f"; is it stored [in_features, out_features]? Its transpose "
                     f"{list(w.shape[::-1])} would chain (PyTorch's Linear stores "
                     f"[out_features, in_features])")
        elif previous[-1].shape[1] == w.shape[1]:
            text += (f"; is {before + '.weight'!r} stored [in_features, out_features]? Its "
                     f"transpose {list(previous[-1].shape[::-1])} would chain (PyTorch's "
                     f"Linear stores [out_features, in_features])")
        else:
            text += "; is the layer order right? Give it with --layers"
        raise UserError(text)
    return w


def _linear_bias(handle, prefix, path, w):
    name = f"{prefix}.bias"
    b = _tensor(handle, name, path)
    if b.shape != (w.shape[0],):
        text = (f"tensor {name!r} in {str(path)!r} must hold one bias per out_feature of "
                f"{prefix + '.weight'!r}, shape [{w.shape[0]}], not {list(b.shape)}")
        if b.shape == (w.shape[1],):
            text += (f"; is {prefix + '.weight'!r} stored [in_features, out_features]? "
                     f"PyTorch's Linear stores [out_features, in_features]")
        raise UserError(text)
    return b
