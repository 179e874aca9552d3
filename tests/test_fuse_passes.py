"""Fusion passes (ir/passes/fuse.py): an exporter's decomposition written back as one op."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import conformance
import mmconvert
from mmconvert.ir.passes import run_pipeline


def _gelu_model(order: str, opset: int = 20):
    consts = [numpy_helper.from_array(np.array(v, np.float32), n)
              for n, v in (("sqrt2", math.sqrt(2)), ("one", 1.0), ("half", 0.5))]
    head = [helper.make_node("Div", ["x", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
            helper.make_node("Add", ["e", "one"], ["a"])]
    if order == "x_first":
        tail = [helper.make_node("Mul", ["x", "a"], ["m"]), helper.make_node("Mul", ["m", "half"], ["y"])]
    else:
        tail = [helper.make_node("Mul", ["x", "half"], ["h"]), helper.make_node("Mul", ["h", "a"], ["y"])]
    graph = helper.make_graph(head + tail, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])], consts)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("order", ["x_first", "half_first"])
def test_erf_gelu_becomes_one_gelu(order):
    model = _gelu_model(order)
    graph = mmconvert.load(model)
    run_pipeline(graph, ["fuse_gelu", "remove_unused_initializers"])
    assert [n.op_type for n in graph.nodes] == ["Gelu"] and graph.producer("y").inputs == ["x"]
    from mmconvert.backends.onnx.emitter import to_model

    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    fused = to_model(graph)
    np.testing.assert_allclose(conformance.run_model(fused, fused, [x])[0], conformance.run_model(model, model, [x])[0],
                               rtol=1e-6, atol=1e-6)


def test_a_shared_intermediate_blocks_the_fusion():
    model = _gelu_model("x_first")
    model.graph.output.append(helper.make_tensor_value_info("e", TensorProto.FLOAT, [3, 4]))
    graph = mmconvert.load(model)
    run_pipeline(graph, ["fuse_gelu"])
    assert "Erf" in [n.op_type for n in graph.nodes]


def _guarded_attention_model(mask: np.ndarray | None, mask_as_input: bool = False):
    """softmax(Q K^T / sqrt(d) + mask) V with torch.onnx's NaN guard ``Where(IsNaN(p), 0, p)``
    on the probabilities, over (batch, heads, seq, size) tensors."""
    b, h, s, d = 1, 2, 4, 8
    info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [b, h, s, d]) for n in ("q", "k", "v")]
    inits = [numpy_helper.from_array(np.array(1 / math.sqrt(d), np.float32), "scale"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
             helper.make_node("MatMul", ["q", "kt"], ["qk"]), helper.make_node("Mul", ["qk", "scale"], ["scaled"])]
    scores = "scaled"
    if mask is not None:
        if mask_as_input:
            info.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, list(mask.shape)))
        else:
            inits.append(numpy_helper.from_array(mask, "mask"))
        nodes.append(helper.make_node("Add", ["scaled", "mask"], ["masked"]))
        scores = "masked"
    nodes += [helper.make_node("Softmax", [scores], ["p"], axis=-1), helper.make_node("IsNaN", ["p"], ["nan"]),
              helper.make_node("Where", ["nan", "zero", "p"], ["pg"]), helper.make_node("MatMul", ["pg", "v"], ["y"])]
    graph = helper.make_graph(nodes, "g", info, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [b, h, s, d])],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])


def _causal(s: int, fill: float = -np.inf) -> np.ndarray:
    return np.where(np.tril(np.ones((s, s), bool)), 0.0, fill).astype(np.float32)


@pytest.mark.parametrize("fill", [-np.inf, float(np.finfo(np.float32).min)])
def test_a_nan_guarded_softmax_with_a_mask_every_row_passes_becomes_attention(fill):
    model = _guarded_attention_model(_causal(4, fill))
    graph = mmconvert.load(model)
    run_pipeline(graph, ["fuse_attention", "remove_unused_initializers"])
    ops = [n.op_type for n in graph.nodes]
    assert ops == ["Attention"], ops
    att = graph.producer("y")
    assert att.inputs == ["q", "k", "v", "mask"] and math.isclose(att.attrs["scale"], 1 / math.sqrt(8), rel_tol=1e-6)
    from mmconvert.backends.onnx.emitter import to_model

    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((1, 2, 4, 8)).astype(np.float32) for _ in range(3)]
    fused = to_model(graph)
    np.testing.assert_allclose(conformance.run_model(fused, fused, xs)[0], conformance.run_model(model, model, xs)[0],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ["fully_masked_row", "mask_input"])
def test_a_nan_guarded_softmax_keeps_its_guard_on_the_output_when_a_row_may_see_no_key(case):
    """A fully masked row is NaN in Attention where the guard made its weights 0: the guard
    moves to Attention's output, and the result is the same (0 for that row)."""
    mask = _causal(4)
    if case == "fully_masked_row":
        mask[2, :] = -np.inf  # this query sees nothing: its softmax is NaN, the guard makes it 0
    model = _guarded_attention_model(mask, mask_as_input=case == "mask_input")
    graph = mmconvert.load(model)
    run_pipeline(graph, ["fuse_attention", "remove_unused_initializers"])
    ops = [n.op_type for n in graph.nodes]
    assert ops == ["Attention", "IsNaN", "Where"], ops
    assert graph.producer(graph.outputs[0]).op_type == "Where"
    from mmconvert.backends.onnx.emitter import to_model

    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((1, 2, 4, 8)).astype(np.float32) for _ in range(3)]
    if case == "mask_input":
        m = mask.copy()
        m[1, :] = -np.inf  # a fully masked row given at run time
        xs.append(m)
    fused = to_model(graph)
    got, want = conformance.run_model(fused, fused, xs)[0], conformance.run_model(model, model, xs)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert not np.isnan(got).any()


def test_a_nan_guarded_softmax_without_a_mask_becomes_attention():
    graph = mmconvert.load(_guarded_attention_model(None))
    run_pipeline(graph, ["fuse_attention", "remove_unused_initializers"])
    assert [n.op_type for n in graph.nodes] == ["Attention"]


def test_attention_whose_key_is_already_transposed_gets_a_transpose():
    """K^T computed some other way (here a graph input, as reshaped heads with dynamic dims
    are): Attention's K is its transpose, and the result is the same."""
    b, h, s, d = 1, 2, 4, 8
    info = [helper.make_tensor_value_info("q", TensorProto.FLOAT, [b, h, s, d]),
            helper.make_tensor_value_info("kt", TensorProto.FLOAT, [b, h, d, s]),
            helper.make_tensor_value_info("v", TensorProto.FLOAT, [b, h, s, d])]
    nodes = [helper.make_node("MatMul", ["q", "kt"], ["qk"]), helper.make_node("Softmax", ["qk"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["y"])]
    graph_proto = helper.make_graph(nodes, "g", info, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [b, h, s, d])])
    model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 23)])
    graph = mmconvert.load(model)
    run_pipeline(graph, ["fuse_attention"])
    assert [n.op_type for n in graph.nodes] == ["Transpose", "Attention"]
    assert graph.nodes[0].inputs == ["kt"] and graph.nodes[0].attrs["perm"] == [0, 1, 3, 2]
    from mmconvert.backends.onnx.emitter import to_model

    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(shape).astype(np.float32) for shape in ((b, h, s, d), (b, h, d, s), (b, h, s, d))]
    fused = to_model(graph)
    np.testing.assert_allclose(conformance.run_model(fused, fused, xs)[0], conformance.run_model(model, model, xs)[0],
                               rtol=1e-5, atol=1e-5)
