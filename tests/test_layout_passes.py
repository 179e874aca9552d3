"""Layout passes (ir/passes/layout.py): transposes move through layout-agnostic ops with
their axes rewritten, inverse pairs cancel, channel-first ops become channels-last, and
every moved tensor is recorded so a backend can map it back exactly.

Graphs made only of ONNX ops are checked numerically: the rewritten graph, run on ONNX
Runtime, must compute what the original computes.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import conformance
import mmconvert
from mmconvert.ir.passes import run_pipeline
from mmconvert.ir.passes.layout import CHANNELS_LAST, resolve, set_external_layout

LAYOUT = ["push_transposes", "cancel_transposes"]
NCHW_TO_NHWC, NHWC_TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def _model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _run(graph, feeds):
    from mmconvert.backends.onnx.emitter import to_model

    proto = to_model(graph)
    return conformance.run_model(proto, proto, feeds)


def _transposes(graph) -> int:
    return sum(n.op_type == "Transpose" for n in graph.nodes)


def _same_after(model, passes, feeds):
    graph = mmconvert.load(model)
    before = _run(graph, feeds)
    run_pipeline(graph, passes)
    after = _run(graph, feeds)
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    return graph


def test_inverse_pair_around_elementwise_ops_cancels():
    """x -> T(nhwc) -> Relu -> Add(bias[C,1,1] as NHWC) -> Sigmoid*itself -> T(nchw) == all NCHW."""
    bias = numpy_helper.from_array(np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4), "bias")
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=NCHW_TO_NHWC),
        helper.make_node("Relu", ["t"], ["r"]),
        helper.make_node("Add", ["r", "bias"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["s"]),
        helper.make_node("Mul", ["a", "s"], ["m"]),
        helper.make_node("Transpose", ["m"], ["y"], perm=NHWC_TO_NCHW),
    ]
    model = _model(nodes, [_vi("x", [2, 4, 3, 5])], [_vi("y", [2, 4, 3, 5])], [bias])
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 5)).astype(np.float32)
    graph = _same_after(model, LAYOUT, [x])
    assert _transposes(graph) == 0
    # every tensor that went away is recorded: 'r' is now held channel-first by another tensor
    holder, perm = resolve(graph, "r", lambda t: graph.producer(t) is not None)
    assert perm == NCHW_TO_NHWC and graph.producer(holder).op_type == "Relu"


@pytest.mark.parametrize("op,attrs,extra", [
    ("Concat", {"axis": 3}, None),
    ("Softmax", {"axis": 1}, None),
    ("ReduceMean", {"keepdims": 0}, ("axes", [1, 2])),
    ("ReduceSum", {"keepdims": 1}, ("axes", [3])),
    ("Pad", {}, ("pads", [0, 1, 2, 0, 0, 0, 1, 1])),
    ("Slice", {}, ("slice", None)),
    ("ArgMax", {"axis": 2, "keepdims": 0}, None),
    ("Hardmax", {"axis": -1}, None),
    ("ReduceMax", {"keepdims": 0}, ("axes", [-1])),
])
def test_axes_are_rewritten(op, attrs, extra):
    """T(nhwc) -> op(axes in NHWC terms) -> rest: pushing the transpose below rewrites the axes."""
    inits, inputs = [], ["t"]
    if op == "Concat":
        inputs = ["t", "t"]
    if extra and extra[0] in ("axes", "pads"):
        inits.append(numpy_helper.from_array(np.array(extra[1], np.int64), extra[0]))
        inputs.append(extra[0])
    if extra and extra[0] == "slice":
        for name, v in (("starts", [1, 0]), ("ends", [3, 2]), ("sl_axes", [1, 3])):
            inits.append(numpy_helper.from_array(np.array(v, np.int64), name))
        inputs += ["starts", "ends", "sl_axes"]
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=NCHW_TO_NHWC), helper.make_node(op, inputs, ["y"], **attrs)]
    model = _model(nodes, [_vi("x", [2, 4, 3, 5])], [helper.make_empty_tensor_value_info("y")], inits)
    x = np.random.default_rng(1).standard_normal((2, 4, 3, 5)).astype(np.float32)
    graph = _same_after(model, LAYOUT, [x])
    producer = graph.producer("y")
    # the op now reads x itself; at most one transpose is left, after it
    assert producer.op_type in ("Transpose", op)
    assert sum(n.op_type == op and n.inputs[0] == "x" for n in graph.nodes) == 1


def test_reshape_stops_the_push():
    shape = numpy_helper.from_array(np.array([2, -1], np.int64), "shape")
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=NCHW_TO_NHWC), helper.make_node("Relu", ["t"], ["r"]),
             helper.make_node("Reshape", ["r", "shape"], ["y"])]
    model = _model(nodes, [_vi("x", [2, 4, 3, 5])], [_vi("y", [2, 60])], [shape])
    x = np.random.default_rng(2).standard_normal((2, 4, 3, 5)).astype(np.float32)
    graph = _same_after(model, LAYOUT, [x])
    assert [n.op_type for n in graph.nodes] == ["Relu", "Transpose", "Reshape"]


def test_a_transpose_read_by_a_non_agnostic_op_stays():
    """One consumer can take the transpose, the other (MatMul) cannot: nothing moves."""
    w = numpy_helper.from_array(np.ones((5, 2), np.float32), "w")
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1]), helper.make_node("Relu", ["t"], ["a"]),
             helper.make_node("MatMul", ["t", "w"], ["b"])]
    model = _model(nodes, [_vi("x", [2, 5, 3])], [_vi("a", [2, 3, 5]), _vi("b", [2, 3, 2])], [w])
    x = np.random.default_rng(3).standard_normal((2, 5, 3)).astype(np.float32)
    graph = _same_after(model, LAYOUT, [x])
    assert _transposes(graph) == 1


def _conv_net():
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "c1.weight")
    w2 = numpy_helper.from_array(rng.standard_normal((8, 8, 3, 3)).astype(np.float32), "c2.weight")
    nodes = [helper.make_node("Conv", ["x", "c1.weight"], ["c1"], pads=[1, 1, 1, 1], name="c1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
             helper.make_node("Conv", ["r1", "c2.weight"], ["c2"], pads=[1, 1, 1, 1], name="c2"),
             helper.make_node("Add", ["c2", "r1"], ["s"], name="s"),
             helper.make_node("GlobalAveragePool", ["s"], ["p"], name="p"),
             helper.make_node("Flatten", ["p"], ["y"], name="flat")]
    return _model(nodes, [_vi("x", ["N", 3, 8, 8])], [_vi("y", ["N", 8])], [w1, w2])


def test_channels_last_leaves_one_transpose_in_and_one_out():
    graph = mmconvert.load(_conv_net())
    run_pipeline(graph, ["channels_last", *LAYOUT])
    ops = [(n.domain, n.op_type) for n in graph.nodes]
    assert ops.count(("", "Transpose")) == 2
    assert ops[0] == ("", "Transpose") and ops[-2:] == [("", "Transpose"), ("", "Flatten")]
    assert (CHANNELS_LAST, "Conv") in ops and (CHANNELS_LAST, "GlobalAveragePool") in ops
    # kernels are stored spatial-first (HWIO), transposed once at conversion time
    conv = next(n for n in graph.nodes if n.op_type == "Conv")
    assert graph.initializers[conv.inputs[1]].shape == (3, 3, 3, 8)
    # the original channel-first tensors resolve to channels-last holders
    for t in ("c1", "r1", "c2", "s"):
        holder, perm = resolve(graph, t, lambda h: graph.producer(h) is not None)
        assert perm == NHWC_TO_NCHW and graph.producer(holder).domain == CHANNELS_LAST or \
            graph.producer(holder).op_type in ("Relu", "Add")


def test_external_layout_cancels_the_input_transpose():
    graph = mmconvert.load(_conv_net())
    set_external_layout(graph, inputs=True)
    run_pipeline(graph, ["channels_last", *LAYOUT])
    assert graph.type_of("x").shape == ("N", 8, 8, 3)
    assert _transposes(graph) == 1  # only before Flatten
    assert graph.layouts["x"] == ("x", NHWC_TO_NCHW)


def test_external_layout_rejects_unknown_names():
    graph = mmconvert.load(_conv_net())
    with pytest.raises(mmconvert.errors.InputError, match="not graph inputs"):
        set_external_layout(graph, inputs=["nope"])


def test_layout_records_survive_an_ir_folder(tmp_path):
    from mmconvert import ir

    graph = mmconvert.load(_conv_net())
    run_pipeline(graph, ["channels_last", *LAYOUT])
    ir.save(graph, str(tmp_path / "g"))
    again = ir.load(str(tmp_path / "g"))
    assert again.layouts == graph.layouts and again.layouts
