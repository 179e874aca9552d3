"""Opset normalization: models at old opsets upgrade to the canonical opset, and back,
with outputs unchanged on ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import conformance as C
from mmconvert import ir
import mmconvert
from mmconvert.ir.passes import opset as opset_pass

X = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)


def _vi(name, shape=None, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


CASES = {
    # name: (opset, nodes, n_outputs, initializers)
    "softmax_axis1_3d": (11, [helper.make_node("Softmax", ["x"], ["y0"], axis=1)], 1, []),
    "logsoftmax_default_axis": (9, [helper.make_node("LogSoftmax", ["x"], ["y0"])], 1, []),
    "split_attr": (11, [helper.make_node("Split", ["x"], ["y0", "y1"], axis=2, split=[1, 3])], 2, []),
    "split_equal": (11, [helper.make_node("Split", ["x"], ["y0", "y1"], axis=2)], 2, []),
    "squeeze_unsqueeze": (11, [helper.make_node("Unsqueeze", ["x"], ["u"], axes=[0]),
                               helper.make_node("Squeeze", ["u"], ["y0"], axes=[0])], 1, []),
    "reduce_mean_sum": (11, [helper.make_node("ReduceMean", ["x"], ["y0"], axes=[1], keepdims=0),
                             helper.make_node("ReduceSum", ["x"], ["y1"], axes=[-1])], 2, []),
    "clip_attrs": (6, [helper.make_node("Clip", ["x"], ["y0"], min=-0.5, max=0.5)], 1, []),
    "pad_attrs": (2, [helper.make_node("Pad", ["x"], ["y0"], pads=[0, 1, 0, 0, 1, 2], value=1.5)], 1, []),
    "slice_attrs": (9, [helper.make_node("Slice", ["x"], ["y0"], starts=[1, 0], ends=[3, -1], axes=[1, 2])], 1, []),
    "topk_attr": (9, [helper.make_node("TopK", ["x"], ["y0", "y1"], k=2, axis=-1)], 2, []),
    "dropout_ratio": (10, [helper.make_node("Dropout", ["x"], ["y0"], ratio=0.3)], 1, []),
    "reshape_attr": (4, [helper.make_node("Reshape", ["x"], ["y0"], shape=[6, 4])], 1, []),
    "upsample_nearest": (9, [helper.make_node("Upsample", ["x", "scales"], ["y0"], mode="nearest")], 1,
                         [numpy_helper.from_array(np.array([1, 1, 2], np.float32), "scales")]),
    "batchnorm_spatial": (8, [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y0"], spatial=1)], 1,
                          [numpy_helper.from_array(np.full(3, v, np.float32), n)
                           for n, v in (("s", 2.0), ("b", 0.5), ("m", 0.1), ("v", 4.0))]),
}


def _model(name):
    opset, nodes, n_out, inits = CASES[name]
    outputs = [_vi(f"y{i}", dtype=TensorProto.INT64 if name == "topk_attr" and i == 1 else TensorProto.FLOAT)
               for i in range(n_out)]
    graph = helper.make_graph(nodes, name, [_vi("x", list(X.shape))], outputs,
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    return model


@pytest.mark.parametrize("target", [None, ir.CANONICAL_OPSET], ids=["source", "canonical"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_upgrade_keeps_outputs(name, target, tmp_path):
    model = _model(name)
    expected = C.session(model).run(None, {"x": X})
    out = tmp_path / "m.onnx"
    res = mmconvert.convert(model, out, to="onnx", **({"opset": target} if target else {}))
    assert res.opset == (target or model.opset_import[0].version)
    if _checker_accepts(model):  # reshape_attr's original (output without shape) is rejected already
        onnx.checker.check_model(str(out), full_check=True)
    if target is None:
        assert {t.name for t in onnx.load(str(out)).graph.initializer} == {t.name for t in model.graph.initializer}
    got = C.session(str(out)).run(None, {"x": X})
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)


def _checker_accepts(model) -> bool:
    try:
        onnx.checker.check_model(model, full_check=True)
        return True
    except Exception:
        return False


def test_the_ir_is_at_the_canonical_opset_with_attributes_turned_into_inputs():
    g = mmconvert.load(_model("split_attr"))
    assert g.opset_imports[""] == ir.CANONICAL_OPSET
    split = g.nodes[0]
    assert "split" not in split.attrs and g.constant(split.inputs[1]).tolist() == [1, 3]


def test_softmax_on_a_middle_axis_keeps_the_old_2d_semantics():
    g = mmconvert.load(_model("softmax_axis1_3d"))
    assert [n.op_type for n in g.nodes] == ["Flatten", "Shape", "Softmax", "Reshape"]


def test_a_downgrade_that_needs_a_constant_says_which_node():
    m = helper.make_model(helper.make_graph(
        [helper.make_node("Squeeze", ["x", "axes"], ["y0"], name="sq")], "g",
        [_vi("x", [1, 3]), _vi("axes", [1], TensorProto.INT64)], [_vi("y0")]),
        opset_imports=[helper.make_opsetid("", 13)])
    g = mmconvert.load(m)
    with pytest.raises(ir.OpsetConversionError, match="sq.*must be a constant"):
        opset_pass.downgrade(g.copy(), 11)


def test_every_adapter_registered_is_listed():
    reg = opset_pass.registered()
    for op in ("Split", "Squeeze", "Unsqueeze", "ReduceMean", "Clip", "Pad", "Slice", "Resize", "Softmax"):
        assert op in reg


@pytest.mark.parametrize("batch", [1, 3])
def test_scan8_with_a_batch_axis_upgrades(batch, tmp_path):
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]), helper.make_node("Mul", ["s_out", "x_t"], ["y_t"])],
        "body", [_vi("s_in", [4]), _vi("x_t", [4])], [_vi("s_out", [4]), _vi("y_t", [4])])
    scan = helper.make_node("Scan", ["", "s0", "xs"], ["s_final", "ys"], num_scan_inputs=1, body=body,
                            directions=[1])
    g = helper.make_graph([scan], "scan8", [_vi("s0", [batch, 4]), _vi("xs", [batch, 5, 4])],
                          [_vi("s_final", [batch, 4]), _vi("ys", [batch, 5, 4])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 8)])
    model.ir_version = 7
    rng = np.random.default_rng(1)
    feeds = {"s0": rng.standard_normal((batch, 4)).astype(np.float32),
             "xs": rng.standard_normal((batch, 5, 4)).astype(np.float32)}
    expected = C.session(model).run(None, feeds)
    res = mmconvert.convert(model, tmp_path / "m.onnx", to="onnx")
    assert res.opset == ir.CANONICAL_OPSET and res.parity.passed
    got = C.session(str(tmp_path / "m.onnx")).run(None, feeds)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert sum(n.op_type == "Scan" for n in res.graph.nodes) == batch


def test_an_unnormalized_graph_is_upgraded_when_a_higher_opset_is_asked(tmp_path):
    graph = mmconvert.load(_model("split_attr"), upgrade_opset=False)
    assert graph.opset_imports[""] == 11
    out = mmconvert.save(graph, tmp_path / "m.onnx", opset=18)
    model = onnx.load(out)
    assert model.opset_import[0].version == 18
    split = model.graph.node[0]
    assert [a.name for a in split.attribute] == ["axis"] and len(split.input) == 2  # `split` became an input
    expected = C.session(_model("split_attr")).run(None, {"x": X})
    for g, e in zip(C.session(out).run(None, {"x": X}), expected):
        np.testing.assert_array_equal(g, e)
