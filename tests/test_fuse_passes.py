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
