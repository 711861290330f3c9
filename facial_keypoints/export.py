"""Exporting a trained Keras keypoint model to ONNX, for fast start-up and fast CPU inference.

ONNX Runtime runs one 96x96 crop several times faster than Keras and starts in a fraction of a
second without TensorFlow. Keras' own ``model.export(format="onnx")`` needs ``tf2onnx``, whose
pinned protobuf clashes with TensorFlow's, so this module converts the model itself: it walks
the Keras layer graph and writes the matching ONNX nodes with the ``onnx`` helper API.

Supported layers (everything this project's architectures use): InputLayer, Conv2D (dilated
too), BatchNormalization, ReLU, Activation, MaxPooling2D, Add, Flatten, Dense, Dropout,
GlobalAveragePooling2D and the heatmap model's SoftArgmax. Activations: relu, tanh, sigmoid, linear. Any other layer raises a
ValueError naming it.

Layout: Keras is channels-last (NHWC), ONNX convolutions are channels-first (NCHW). The input is
transposed once after it enters; a Flatten transposes back to NHWC first, so the Dense weights see
values in Keras' order. A BatchNormalization right after a convolution is folded into that
convolution's weights, so it costs nothing at run time.

The exported graph takes ``"image"``: float32 ``(N, 96, 96, 1)`` grey in [0, 1], any N, and
returns ``"keypoints"``: float32 ``(N, 30)`` normalised coordinates, exactly like the Keras model.
"""

from pathlib import Path

import numpy as np

OPSET = 17  # ONNX opset: supported by every ONNX Runtime since 1.13
TOLERANCE = 1e-4  # largest allowed Keras-vs-ONNX difference, normalised units (= 0.005 px)

TO_NCHW, TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)
ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": None}


def export_onnx(model, onnx_path, check=True):
    """Write a Keras model (object, or path to a ``.keras`` file) to ``onnx_path``.

    With ``check`` (the default) the ONNX model is run next to the Keras one on random crops and a
    RuntimeError is raised if they differ by more than :data:`TOLERANCE`. Returns the path.
    """
    model = _as_keras_model(model)
    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx_path.write_bytes(to_onnx(model).SerializeToString())
    if check:
        difference = max_difference(model, onnx_path)
        if not difference <= TOLERANCE:
            raise RuntimeError(f"{onnx_path} differs from the Keras model by {difference:.2g} "
                               f"normalised units (allowed {TOLERANCE:g})")
    return onnx_path


def max_difference(model, onnx_path, crops=None):
    """Largest absolute difference, in normalised units, between Keras and ONNX outputs.

    ``crops``: float32 ``(N, 96, 96, 1)`` in [0, 1]; by default 8 random ones.
    """
    import onnxruntime

    model = _as_keras_model(model)
    if crops is None:
        crops = np.random.default_rng(0).random((8,) + tuple(model.inputs[0].shape[1:]))
    crops = np.asarray(crops, dtype=np.float32)
    expected = np.asarray(model(crops, training=False))
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {session.get_inputs()[0].name: crops})[0]
    return float(np.max(np.abs(actual - expected)))


def run_export(model_path, out_path=None):
    """Command-line entry: export ``model_path`` (.keras) to ``out_path`` (default: the same path
    with ``.onnx``), check it, and say where it went. Returns the ONNX path."""
    out_path = export_onnx(model_path, out_path or Path(model_path).with_suffix(".onnx"))
    print(f"wrote {out_path} ({out_path.stat().st_size / 1e6:.1f} MB); it matches "
          f"{model_path} within {TOLERANCE:g} normalised units")
    return out_path


def to_onnx(model):
    """Convert a built Keras model to an ``onnx.ModelProto`` (see the module notes)."""
    import onnx
    from onnx import TensorProto, helper

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"cannot export model {model.name!r}: it must have one input and one "
                         "output")
    keras_output = model.outputs[0]
    graph = _Graph()
    image = graph.node("Transpose", ["image"], perm=TO_NCHW)  # NHWC -> NCHW, once
    calls = _layer_calls(keras_output)
    graph.folded = _batchnorms_to_fold(calls, keras_output)
    for layer, inputs, output in calls:
        kind = type(layer).__name__
        if kind == "InputLayer":
            graph.names[id(output)] = image
            continue
        if kind not in _CONVERTERS:
            raise ValueError(f"cannot export layer {layer.name!r} of class {kind} to ONNX; "
                             f"supported: {', '.join(sorted(_CONVERTERS))}")
        names = [graph.names[id(tensor)] for tensor in inputs]
        graph.names[id(output)] = _CONVERTERS[kind](graph, layer, names, len(inputs[0].shape))
    result = graph.names[id(keras_output)]
    if len(keras_output.shape) == 4:
        result = graph.node("Transpose", [result], perm=TO_NHWC)
    graph.node("Identity", [result], output="keypoints")

    height, width, channels = model.inputs[0].shape[1:]
    onnx_graph = helper.make_graph(
        graph.nodes, model.name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", height, width, channels])],
        [helper.make_tensor_value_info("keypoints", TensorProto.FLOAT,
                                       ["N", keras_output.shape[-1]])],
        graph.weights)
    onnx_model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name="facial_keypoints")
    onnx_model.ir_version = 8  # readable by ONNX Runtime 1.13 and later
    onnx.checker.check_model(onnx_model)
    return onnx_model


class _Graph:
    """ONNX nodes and weights being collected, and the ONNX name of every Keras tensor."""

    def __init__(self):
        self.nodes, self.weights, self.names = [], [], {}
        self.folded = {}  # conv layer name -> the BatchNormalization folded into it

    def node(self, op, inputs, output=None, **attributes):
        from onnx import helper

        output = output or f"{op.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def weight(self, array, name, dtype=np.float32):
        from onnx import numpy_helper

        self.weights.append(numpy_helper.from_array(np.asarray(array, dtype), name))
        return name

    def activation(self, name, output, layer):
        """Append the layer's activation (a string like ``"relu"``) after ``output``."""
        activation = _activation_name(layer)
        if activation not in ACTIVATIONS:
            raise ValueError(f"cannot export activation {activation!r} of layer {layer.name!r} "
                             f"({type(layer).__name__}); supported: {', '.join(ACTIVATIONS)}")
        op = ACTIVATIONS[activation]
        return self.node(op, [output], output=name) if op else output


def _activation_name(layer):
    activation = layer.get_config()["activation"]
    return activation if isinstance(activation, str) else getattr(activation, "__name__", "?")


def _layer_calls(output):
    """``[(layer, input tensors, output tensor), ...]`` leading to ``output``, inputs first.

    Follows the Keras graph backwards from the output tensor (the route Keras itself records in
    ``_keras_history``), so a layer built more than once, as in a reloaded Sequential, is fine.
    """
    calls, seen = [], set()

    def visit(tensor):
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if id(node) in seen:
            return
        seen.add(id(node))
        if len(node.output_tensors) != 1:
            raise ValueError(f"cannot export layer {layer.name!r} ({type(layer).__name__}): "
                             "it has several outputs")
        for parent in node.input_tensors:
            visit(parent)
        calls.append((layer, list(node.input_tensors), node.output_tensors[0]))

    visit(output)
    return calls


def _batchnorms_to_fold(calls, model_output):
    """``{conv layer name: the BatchNormalization layer folded into it}``.

    A BatchNormalization folds when its input comes from a linear Conv2D whose output nothing
    else reads.
    """
    readers = {id(model_output): 1}
    for _, inputs, _ in calls:
        for tensor in inputs:
            readers[id(tensor)] = readers.get(id(tensor), 0) + 1
    producers = {id(output): layer for layer, _, output in calls}
    folded = {}
    for layer, inputs, _ in calls:
        if type(layer).__name__ != "BatchNormalization":
            continue
        conv = producers.get(id(inputs[0]))
        if (type(conv).__name__ == "Conv2D" and _activation_name(conv) == "linear"
                and readers[id(inputs[0])] == 1):
            folded[conv.name] = layer
    return folded


def _batchnorm_scale_shift(layer):
    """Per-channel ``scale, shift`` with ``batchnorm(x) == x * scale + shift`` at inference."""
    mean = np.asarray(layer.moving_mean, np.float64)
    variance = np.asarray(layer.moving_variance, np.float64)
    gamma = np.asarray(layer.gamma, np.float64) if layer.scale else 1.0
    beta = np.asarray(layer.beta, np.float64) if layer.center else 0.0
    scale = gamma / np.sqrt(variance + layer.epsilon)
    return scale, beta - mean * scale


def _conv2d(graph, layer, names, rank):
    config = layer.get_config()
    dilation = list(config["dilation_rate"])
    if config["data_format"] != "channels_last" or config["groups"] != 1 \
            or (dilation != [1, 1] and (config["padding"] != "same" or set(config["strides"]) != {1})):
        raise ValueError(f"cannot export layer {layer.name!r} (Conv2D): only channels_last, "
                         "ungrouped convolutions (dilated ones with stride 1 and 'same' padding) "
                         "are supported")
    kernel = np.asarray(layer.kernel, np.float64)  # (kh, kw, in, out)
    bias = np.asarray(layer.bias, np.float64) if layer.use_bias else np.zeros(kernel.shape[-1])
    if layer.name in graph.folded:
        scale, shift = _batchnorm_scale_shift(graph.folded[layer.name])
        kernel, bias = kernel * scale, bias * scale + shift
    weights = [graph.weight(kernel.transpose(3, 2, 0, 1), f"{layer.name}/kernel"),
               graph.weight(bias, f"{layer.name}/bias")]
    if dilation == [1, 1]:
        padding = _padding(config["padding"])
    else:  # "same" with stride 1: (k - 1) * d / 2 pixels on each side
        pad = [(k - 1) * d // 2 for k, d in zip(kernel.shape[:2], dilation)]
        padding = {"pads": pad + pad, "dilations": dilation}
    output = graph.node("Conv", names + weights, kernel_shape=list(kernel.shape[:2]),
                        strides=list(config["strides"]), **padding)
    return graph.activation(f"{layer.name}/activation", output, layer)


def _padding(padding):
    # TensorFlow's "same" puts the odd extra pixel of padding at the end, as SAME_UPPER does.
    return {"auto_pad": "SAME_UPPER" if padding == "same" else "VALID"}


def _batch_normalization(graph, layer, names, rank):
    if any(bn is layer for bn in graph.folded.values()):
        return names[0]  # already inside the convolution's weights
    if layer.axis not in (-1, rank - 1):
        raise ValueError(f"cannot export layer {layer.name!r} (BatchNormalization): only the "
                         "channels axis (-1) is supported")
    scale, shift = _batchnorm_scale_shift(layer)
    shape = (-1, 1, 1) if rank == 4 else (-1,)  # NCHW: broadcast over H and W
    scale = graph.weight(scale.reshape(shape), f"{layer.name}/scale")
    shift = graph.weight(shift.reshape(shape), f"{layer.name}/shift")
    return graph.node("Add", [graph.node("Mul", [names[0], scale]), shift])


def _relu(graph, layer, names, rank):
    config = layer.get_config()
    if config.get("max_value") is not None or config.get("negative_slope", 0) \
            or config.get("threshold", 0):
        raise ValueError(f"cannot export layer {layer.name!r} (ReLU): only a plain ReLU "
                         "(no max_value, negative_slope or threshold) is supported")
    return graph.node("Relu", names)


def _activation(graph, layer, names, rank):
    return graph.activation(f"{layer.name}/activation", names[0], layer)


def _max_pooling2d(graph, layer, names, rank):
    config = layer.get_config()
    return graph.node("MaxPool", names, kernel_shape=list(config["pool_size"]),
                      strides=list(config["strides"] or config["pool_size"]),
                      **_padding(config["padding"]))


def _add(graph, layer, names, rank):
    total = names[0]
    for name in names[1:]:
        total = graph.node("Add", [total, name])
    return total


def _flatten(graph, layer, names, rank):
    if rank == 4:  # back to NHWC so the values come in Keras' order
        return graph.node("Flatten", [graph.node("Transpose", names, perm=TO_NHWC)], axis=1)
    return graph.node("Flatten", names, axis=1)


def _dense(graph, layer, names, rank):
    if rank != 2:
        raise ValueError(f"cannot export layer {layer.name!r} (Dense): its input must be flat")
    kernel = graph.weight(layer.kernel, f"{layer.name}/kernel")  # (in, out), as Gemm's B
    bias = np.asarray(layer.bias) if layer.use_bias else np.zeros(layer.units)
    output = graph.node("Gemm", names + [kernel, graph.weight(bias, f"{layer.name}/bias")])
    return graph.activation(f"{layer.name}/activation", output, layer)


def _dropout(graph, layer, names, rank):
    return names[0]  # inference does not drop anything


def _global_average_pooling2d(graph, layer, names, rank):
    if layer.get_config().get("keepdims"):
        raise ValueError(f"cannot export layer {layer.name!r} (GlobalAveragePooling2D): "
                         "keepdims=True is not supported")
    return graph.node("Flatten", [graph.node("GlobalAveragePool", names)], axis=1)


def _soft_argmax(graph, layer, names, rank):
    from .layers import soft_argmax_grid

    _, height, width, channels = layer.input.shape
    flat = graph.weight([0, channels, height * width], f"{layer.name}/shape", np.int64)
    flat = graph.node("Reshape", [names[0], flat])  # NCHW -> (N, K, H*W): same cell order
    points = graph.node("MatMul", [graph.node("Softmax", [flat], axis=-1),
                                   graph.weight(soft_argmax_grid(height, width), f"{layer.name}/grid")])
    return graph.node("Flatten", [points], axis=1)  # (N, K, 2) -> (N, 2K): x0, y0, x1, ...


_CONVERTERS = {
    "SoftArgmax": _soft_argmax,
    "Conv2D": _conv2d,
    "BatchNormalization": _batch_normalization,
    "ReLU": _relu,
    "Activation": _activation,
    "MaxPooling2D": _max_pooling2d,
    "Add": _add,
    "Flatten": _flatten,
    "Dense": _dense,
    "Dropout": _dropout,
    "GlobalAveragePooling2D": _global_average_pooling2d,
}


def _as_keras_model(model):
    if isinstance(model, (str, Path)):
        from .architectures import load_model

        return load_model(model)
    return model
