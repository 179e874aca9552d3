"""Builds examples/tiny_cnn.onnx, the bundled example model (deterministic weights).

    python examples/make_tiny_cnn.py
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(2024)


def w(name, *shape, scale=0.2):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


inits = [
    w("stem.conv.weight", 8, 3, 3, 3), w("stem.conv.bias", 8),
    w("stem.bn.weight", 8, scale=0.1), w("stem.bn.bias", 8, scale=0.1),
    numpy_helper.from_array(np.zeros(8, np.float32), "stem.bn.running_mean"),
    numpy_helper.from_array(np.ones(8, np.float32), "stem.bn.running_var"),
    w("block.conv.weight", 16, 8, 3, 3), w("block.conv.bias", 16),
    w("head.fc.weight", 10, 16), w("head.fc.bias", 10),
]
nodes = [
    helper.make_node("Conv", ["image", "stem.conv.weight", "stem.conv.bias"], ["stem.conv"], name="stem.conv", pads=[1, 1, 1, 1]),
    helper.make_node("BatchNormalization", ["stem.conv", "stem.bn.weight", "stem.bn.bias", "stem.bn.running_mean",
                                            "stem.bn.running_var"], ["stem.bn"], name="stem.bn"),
    helper.make_node("Relu", ["stem.bn"], ["stem.relu"], name="stem.relu"),
    helper.make_node("MaxPool", ["stem.relu"], ["stem.pool"], name="stem.pool", kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Conv", ["stem.pool", "block.conv.weight", "block.conv.bias"], ["block.conv"], name="block.conv",
                     pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["block.conv"], ["block.relu"], name="block.relu"),
    helper.make_node("GlobalAveragePool", ["block.relu"], ["head.pool"], name="head.pool"),
    helper.make_node("Flatten", ["head.pool"], ["head.flatten"], name="head.flatten"),
    helper.make_node("Gemm", ["head.flatten", "head.fc.weight", "head.fc.bias"], ["head.fc"], name="head.fc", transB=1),
    helper.make_node("Softmax", ["head.fc"], ["probs"], name="head.softmax", axis=-1),
]
graph = helper.make_graph(
    nodes, "tiny_cnn",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 32, 32])],
    [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])],
    initializer=inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mmconvert-example")
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_cnn.onnx")
onnx.save(model, path)
print(f"wrote {path}")
