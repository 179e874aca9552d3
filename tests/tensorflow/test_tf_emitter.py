"""The TensorFlow emitter: artifact contract, readable code, dynamic shapes, preflight,
external layouts, per-layer parity through the recorded layouts, control flow."""

from __future__ import annotations

import ast
import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import conformance
import mmconvert
from mmconvert.ir.errors import UnsupportedOpsError
from tf_harness import emit

tf = pytest.importorskip("tensorflow")


def _model(nodes, inputs, outputs, inits=(), opset=18, domains=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(graph, opset_imports=imports)


def _conv_net(batch="N"):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "layer1.conv.weight")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "layer1.conv.bias")
    fc = numpy_helper.from_array(rng.standard_normal((4 * 8 * 8, 5)).astype(np.float32), "fc.weight")
    zero = numpy_helper.from_array(np.array(0, np.int64), "zero")
    minus1 = numpy_helper.from_array(np.array([-1], np.int64), "minus1")
    axes0 = numpy_helper.from_array(np.array([0], np.int64), "axes0")
    nodes = [
        helper.make_node("Conv", ["x", "layer1.conv.weight", "layer1.conv.bias"], ["c"], name="layer1.conv",
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="layer1.relu"),
        helper.make_node("Shape", ["r"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="batch"),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="batch1"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="target", axis=0),
        helper.make_node("Reshape", ["r", "target"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "fc.weight"], ["y"], name="fc"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 5])
    return _model(nodes, [x], [y], [w, b, fc, zero, minus1, axes0])


def _reference(model, x):
    return conformance.run_model(model, model, [x])[0]


def test_artifact_contract_and_readable_code(tmp_path):
    out = tmp_path / "out"
    runner = emit(_conv_net(), str(out))
    assert sorted(os.listdir(out)) == ["manifest.json", "model.py", "weights.safetensors"]
    src = (out / "model.py").read_text()
    tree = ast.parse(src)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"tensorflow", "numpy", "safetensors", "os", "math"}
    assert "keras" not in src and "import mmconvert" not in src and "from mmconvert" not in src
    assert "class Model(tf.Module)" in src and "def load_model(" in src
    # __call__ is a tf.function whose signature keeps the symbolic batch as None
    assert "@tf.function(input_signature=[tf.TensorSpec([None, 3, 8, 8], tf.float32)])" in src
    # one statement per node with tf.nn calls; the conv runs channels-last on an HWIO kernel
    assert "tf.nn.conv2d(" in src and "tf.nn.relu(" in src and "tf.linalg.matmul(" in src
    assert "tf.nn.bias_add(" in src
    assert "del " in src
    # weights are variables named after the source tensors
    assert "name='layer1.conv.weight'" in src and "name='layer1.conv.bias'" in src
    model = runner.model
    assert {v.name.split(":")[0] for v in model.variables} >= {"layer1.conv.weight", "layer1.conv.bias", "fc.weight"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"] == "tensorflow" and manifest["outputs"] == ["y"] and "x" in manifest["inputs"]
    for batch in (2, 5):  # the batch is symbolic: any size runs
        x = np.random.default_rng(batch).standard_normal((batch, 3, 8, 8)).astype(np.float32)
        np.testing.assert_allclose(runner.run([x])[0], _reference(_conv_net(), x), rtol=1e-4, atol=1e-4)


def test_model_takes_numpy_arrays_and_tensors(tmp_path):
    runner = emit(_conv_net(), str(tmp_path / "out"))
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    a = runner.model(x).numpy()
    b = runner.model(tf.constant(x)).numpy()
    np.testing.assert_array_equal(a, b)


def test_unsupported_ops_are_listed_before_writing(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Frobnicate", ["r"], ["y"], domain="custom.ops")]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], domains=["custom.ops"])
    with pytest.raises(UnsupportedOpsError, match="Frobnicate"):
        mmconvert.convert(model, str(tmp_path / "out"), to="tensorflow", validate=False)
    assert not (tmp_path / "out").exists()


def test_function_ops_are_emitted_through_their_onnx_body(tmp_path):
    """An op with no handler but an ONNX function body (MeanVarianceNormalization) is expanded."""
    nodes = [helper.make_node("MeanVarianceNormalization", ["x"], ["y"], axes=[0, 2, 3])]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4, 4])])
    runner = emit(model, str(tmp_path / "out"))
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(runner.run([x])[0], _reference(model, x), rtol=1e-4, atol=1e-5)
    assert "MeanVarianceNormalization" in mmconvert.api.get_backend("tensorflow").supported_ops()


def test_per_layer_parity_maps_channels_last_tensors(tmp_path):
    path = tmp_path / "net.onnx"
    onnx.save(_conv_net(), str(path))
    out = tmp_path / "out"
    mmconvert.convert(str(path), str(out), to="tensorflow", validate=False)
    report = mmconvert.validate(str(path), str(out), per_layer=True)
    assert report.status == "pass"
    layers = {layer.tensor: layer for layer in report.layers}
    assert layers["c"].status == "pass" and layers["c"].layout == "permute(0, 3, 1, 2)"  # held NHWC, compared NCHW
    assert report.first_divergent is None
    # break the relu: the report names it (its input still agrees)
    src = (out / "model.py").read_text().replace("tf.nn.relu(", "tf.math.abs(")
    (out / "model.py").write_text(src)
    broken = mmconvert.validate(str(path), str(out), per_layer=True)
    assert broken.status == "fail" and broken.first_divergent["node"] == "layer1.relu"
    isolated = mmconvert.validate(str(path), str(out), per_layer=True, mode="isolated")
    assert isolated.first_divergent["node"] == "layer1.relu"


def test_inputs_and_outputs_as_nhwc(tmp_path):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])], [w])
    out = tmp_path / "out"
    result = mmconvert.convert(model, str(out), to="tensorflow", inputs_as_nhwc=True, outputs_as_nhwc=["y"])
    assert result.parity.status == "pass"  # the runner speaks the reference's layout
    src = (out / "model.py").read_text()
    assert "tf.TensorSpec([None, 8, 8, 3], tf.float32)" in src and "tf.transpose(" not in src
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["layouts"]["x"] == [0, 3, 1, 2] and manifest["layouts"]["y"] == [0, 3, 1, 2]
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    got = result and __import__("mmconvert.validators.runners.tf_runner", fromlist=["Runner"]).Runner(str(out)).model(
        np.transpose(x, (0, 2, 3, 1))).numpy()
    np.testing.assert_allclose(np.transpose(got, (0, 3, 1, 2)), _reference(model, x), rtol=1e-4, atol=1e-4)


def test_control_flow_is_tf_cond_and_while_loop(tmp_path):
    then_g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [3])])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Mul", ["acc", "y"], ["acc_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("acc", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [3])])
    trip = numpy_helper.from_array(np.array(3, np.int64), "trip")
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Loop", ["trip", "c", "x"], ["z"], body=body)]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
                           helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                   [helper.make_tensor_value_info("z", TensorProto.FLOAT, [3])], [trip])
    out = tmp_path / "out"
    runner = emit(model, str(out))
    src = (out / "model.py").read_text()
    assert "tf.cond(" in src and "tf.while_loop(" in src
    x = np.array([1.0, -2.0, 0.5], np.float32)
    for c in (True, False):
        ref = conformance.run_model(model, model, [x, np.array(c)])[0]
        np.testing.assert_allclose(runner.run([x, np.array(c)])[0], ref, rtol=1e-6)


def test_ops_command_lists_the_tensorflow_backend():
    table = mmconvert.api.get_backend("tensorflow").supported_ops()
    assert "Conv" in table and "mmconvert.channels_last::Conv" in table and "LSTM" in table
    assert len(table) > 150


@pytest.mark.parametrize("pads,strides", [([3, 3, 3, 3], [1, 1]), ([1, 2, 2, 1], [1, 1]), ([3, 3, 3, 3], [2, 2])])
def test_depthwise_conv_with_pads_and_bias_runs(tmp_path, pads, strides):
    """A padded depthwise Conv with a bias (ConvNeXt's 7x7): TensorFlow 2.21 aborts the process
    when a depthwise_conv2d with explicit paddings is followed by bias_add (grappler's fusion),
    so the emitted code never writes that form; run in a child process, since the bug kills it."""
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 1, 7, 7)).astype(np.float32), "dw.weight")
    b = numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "dw.bias")
    node = helper.make_node("Conv", ["x", "dw.weight", "dw.bias"], ["y"], name="dw", group=8, pads=pads,
                            strides=strides)
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 12, 12])
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = _model([node], [x_info], [y_info], [w, b])
    out = tmp_path / "out"
    mmconvert.convert(model, str(out), to="tensorflow", validate=False)
    src = (out / "model.py").read_text()
    line = next(ln for ln in src.splitlines() if "tf.nn.depthwise_conv2d(" in ln)
    assert '"SAME"), self.dw_bias)' in line or '"VALID"), self.dw_bias)' in line  # no explicit paddings
    x = rng.standard_normal((2, 8, 12, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code = ("import sys, numpy as np; from validators.runners.tf_runner import Runner; "
            f"np.save(sys.argv[2], Runner(sys.argv[1]).run([np.load(sys.argv[3])])[0])")
    proc = subprocess.run([sys.executable, "-c", code, str(out), str(tmp_path / "y.npy"), str(tmp_path / "x.npy")],
                          capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                              os.path.abspath(__file__)))))
    assert proc.returncode == 0, proc.stderr[-500:]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), _reference(model, x), rtol=1e-4, atol=1e-4)
