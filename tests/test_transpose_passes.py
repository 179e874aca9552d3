"""Weight-layout folding and transpose sinking/cancelling: each rewrite computes what the
graph computed before (checked on ONNX Runtime) and leaves the expected structure."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from mmconvert.backends.onnx.emitter import to_model
from mmconvert.frontends.onnx import load
from mmconvert.ir.passes import run_passes
from mmconvert.ir.passes.cleanup import remove_dead_nodes, remove_unused_initializers
from mmconvert.ir.passes.transpose import cancel_transposes, sink_transposes
from mmconvert.ir.passes.weights import fold_weight_layout

RNG = np.random.default_rng(0)
NHWC, NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def _model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


def _run(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _rewrite_and_compare(model, feeds, passes):
    before = _run(model, feeds)
    graph = load(model)
    run_passes(graph, passes + [remove_dead_nodes, remove_unused_initializers])
    after = _run(to_model(graph), feeds)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    return graph


def _t(name, perm, x, y):
    return helper.make_node("Transpose", [x], [y], name=name, perm=perm)


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def test_a_transposed_weight_keeps_its_name():
    kernel = RNG.standard_normal((3, 3, 2, 4)).astype(np.float32)  # HWIO
    nodes = [_t("k_t", [3, 2, 0, 1], "conv/kernel", "k_oihw"),
             helper.make_node("Conv", ["x", "k_oihw"], ["y"], name="conv")]
    model = _model(nodes, [_vi("x", [1, 2, 5, 5])], [_vi("y", None)], [("conv/kernel", kernel)])
    graph = _rewrite_and_compare(model, {"x": RNG.standard_normal((1, 2, 5, 5)).astype(np.float32)},
                                 [fold_weight_layout])
    assert [n.op_type for n in graph.nodes] == ["Conv"]
    assert graph.node("conv").inputs[1] == "conv/kernel"
    assert graph.initializers["conv/kernel"].shape == (4, 2, 3, 3)


def test_a_weight_read_twice_is_not_rearranged():
    w = RNG.standard_normal((2, 3)).astype(np.float32)
    nodes = [_t("wt", [1, 0], "w", "w_t"), helper.make_node("MatMul", ["x", "w_t"], ["a"]),
             helper.make_node("Add", ["w", "w"], ["b"])]
    model = _model(nodes, [_vi("x", [4, 3])], [_vi("a", None), _vi("b", None)], [("w", w)])
    graph = _rewrite_and_compare(model, {"x": RNG.standard_normal((4, 3)).astype(np.float32)}, [fold_weight_layout])
    assert graph.initializers["w"].shape == (2, 3)
    assert any(n.op_type == "Transpose" for n in graph.nodes)


def test_conv_bn_relu_in_nhwc_keeps_only_boundary_transposes():
    """tf2onnx's shape of a Keras Conv + BatchNorm (scale computed from weights) + ReLU + pool."""
    c = 4
    inits = [("k", RNG.standard_normal((c, 3, 3, 3)).astype(np.float32)),
             ("gamma", RNG.uniform(0.5, 1.5, c).astype(np.float32)),
             ("var", RNG.uniform(0.5, 1.5, c).astype(np.float32)),
             ("shift", RNG.standard_normal(c).astype(np.float32))]
    nodes = [
        helper.make_node("Sqrt", ["var"], ["std"]),
        helper.make_node("Div", ["gamma", "std"], ["scale"]),  # a (C,) tensor, not a constant
        _t("in_t", NCHW, "image", "x_nchw"),
        helper.make_node("Conv", ["x_nchw", "k"], ["conv"], pads=[1, 1, 1, 1]),
        _t("out_t", NHWC, "conv", "conv_nhwc"),
        helper.make_node("Mul", ["conv_nhwc", "scale"], ["bn_mul"]),
        helper.make_node("Add", ["bn_mul", "shift"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["relu"]),
        _t("pool_in", NCHW, "relu", "relu_nchw"),
        helper.make_node("MaxPool", ["relu_nchw"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
        _t("pool_out", NHWC, "pool", "pool_nhwc"),
        helper.make_node("ReduceMean", ["pool_nhwc", "axes"], ["gap"], keepdims=0),
    ]
    inits.append(("axes", np.array([1, 2], np.int64)))
    model = _model(nodes, [_vi("image", ["batch", 8, 8, 3])], [_vi("gap", None)], inits)
    graph = _rewrite_and_compare(model, {"image": RNG.standard_normal((2, 8, 8, 3)).astype(np.float32)},
                                 [sink_transposes, cancel_transposes])
    transposes = [n for n in graph.nodes if n.op_type == "Transpose"]
    assert [t.inputs[0] for t in transposes] == ["image"], [t.name for t in transposes]
    assert graph.initializers["shift"].shape == (1, c, 1, 1)  # a constant is rearranged in place, same name
    assert any(n.op_type == "Reshape" and n.inputs[0] == "scale" for n in graph.nodes)


@pytest.mark.parametrize("keep", [0, 1])
def test_reduce_and_concat_and_pad_follow_the_permutation(keep):
    nodes = [
        _t("a_t", NHWC, "a", "a_nhwc"), _t("b_t", NHWC, "b", "b_nhwc"),
        helper.make_node("Concat", ["a_nhwc", "b_nhwc"], ["cat"], axis=3),
        helper.make_node("Pad", ["cat", "pads"], ["pad"]),
        helper.make_node("Softmax", ["pad"], ["soft"], axis=-1),
        helper.make_node("ReduceSum", ["soft", "axes"], ["red"], keepdims=keep),
    ]
    inits = [("pads", np.array([0, 1, 0, 0, 0, 0, 2, 0], np.int64)), ("axes", np.array([1], np.int64))]
    model = _model(nodes, [_vi("a", [2, 3, 4, 5]), _vi("b", [2, 2, 4, 5])], [_vi("red", None)], inits)
    feeds = {"a": RNG.standard_normal((2, 3, 4, 5)).astype(np.float32),
             "b": RNG.standard_normal((2, 2, 4, 5)).astype(np.float32)}
    graph = _rewrite_and_compare(model, feeds, [sink_transposes, cancel_transposes])
    transposes = [n for n in graph.nodes if n.op_type == "Transpose"]
    assert len(transposes) == 1 and graph.outputs[0] in transposes[0].outputs


def test_inverse_transposes_cancel_and_graph_outputs_stay():
    nodes = [_t("t1", NHWC, "x", "a"), _t("t2", NCHW, "a", "b"), helper.make_node("Relu", ["b"], ["y"]),
             _t("t3", NHWC, "y", "z")]
    model = _model(nodes, [_vi("x", [1, 2, 3, 4])], [_vi("z", None)])
    graph = _rewrite_and_compare(model, {"x": RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)},
                                 [sink_transposes, cancel_transposes])
    assert [n.op_type for n in graph.nodes] == ["Relu", "Transpose"] and graph.outputs == ["z"]


def test_a_loop_body_reading_a_cancelled_transpose_is_rewired():
    body = helper.make_graph(
        [helper.make_node("Add", ["acc", "b"], ["acc_out"]), helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body", [_vi("i", [], TensorProto.INT64), _vi("cond", [], TensorProto.BOOL), _vi("acc", [1, 2, 3, 4])],
        [_vi("cond_out", [], TensorProto.BOOL), _vi("acc_out", [1, 2, 3, 4])])
    nodes = [_t("t1", NHWC, "x", "a"), _t("t2", NCHW, "a", "b"),
             helper.make_node("Loop", ["n", "", "x"], ["y"], body=body)]
    model = _model(nodes, [_vi("x", [1, 2, 3, 4])], [_vi("y", None)], [("n", np.array(3, np.int64))])
    graph = _rewrite_and_compare(model, {"x": RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)},
                                 [cancel_transposes])
    assert [n.op_type for n in graph.nodes] == ["Loop"]


def test_hard_swish_between_convolutions_loses_its_transposes():
    """x * relu6(x + 3) / 6 on the NHWC side: the second operand of the Mul reaches the
    transposed tensor through three element-wise ops; the Transpose sinks through all of them."""
    nodes = [
        _t("t_in", NHWC, "x", "x_nhwc"),
        helper.make_node("Add", ["x_nhwc", "three"], ["plus"]),
        helper.make_node("Clip", ["plus", "zero", "six"], ["relu6"]),
        helper.make_node("Div", ["relu6", "six"], ["gate"]),
        helper.make_node("Mul", ["x_nhwc", "gate"], ["hswish"]),
        _t("t_out", NCHW, "hswish", "y"),
    ]
    inits = [("three", np.array(3, np.float32)), ("zero", np.array(0, np.float32)), ("six", np.array(6, np.float32))]
    model = _model(nodes, [_vi("x", ["batch", 4, 5, 6])], [_vi("y", None)], inits)
    graph = _rewrite_and_compare(model, {"x": RNG.standard_normal((2, 4, 5, 6)).astype(np.float32) * 4},
                                 [sink_transposes, cancel_transposes])
    assert not [n for n in graph.nodes if n.op_type == "Transpose"]


# ------------------------------------------------------------------ the one op-traits table
def test_both_movers_read_the_one_op_traits_table():
    """sink_transposes and push_transposes keep no op lists of their own: ir/passes/op_traits.py
    is the table, each op has one kind there."""
    from mmconvert.ir.passes import layout, op_traits, transpose

    assert transpose.UNARY is op_traits.UNARY and transpose.BROADCAST is op_traits.BROADCAST
    assert transpose.REDUCE is op_traits.REDUCE
    assert not any(hasattr(layout, name) for name in ("_UNARY", "_BROADCAST", "_REDUCE"))
    assert layout.ALWAYS is op_traits.ALWAYS and layout.WHEN_FED is op_traits.WHEN_FED
    kinds = [op_traits.ops(k) for k in set(op_traits.TRAITS.values())]
    assert sum(len(k) for k in kinds) == len(op_traits.TRAITS)  # no op in two kinds
    assert {"Dropout", "CastLike", "BitwiseNot"} <= op_traits.UNARY and "BitShift" in op_traits.BROADCAST


PERMS = [[0, 2, 3, 1], [0, 3, 1, 2], [2, 0, 3, 1], [3, 2, 1, 0]]


@pytest.mark.parametrize("perm", PERMS)
@pytest.mark.parametrize("axes", [[1], [1, 2], [0, 3], [-1]])
@pytest.mark.parametrize("keep", [0, 1])
def test_a_reduction_of_the_physical_tensor_is_the_logical_one(perm, axes, keep):
    """logical = transpose(phys, perm): reducing phys over op_traits.reduced's axes and
    transposing by its output permutation is the logical reduction."""
    from mmconvert.ir.passes.op_traits import reduced

    phys = RNG.standard_normal((2, 3, 4, 5))
    want = np.transpose(phys, perm).sum(axis=tuple(axes), keepdims=bool(keep))
    new_axes, out = reduced(perm, axes, keep)
    got = np.transpose(phys.sum(axis=tuple(new_axes), keepdims=bool(keep)), out)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("perm", PERMS)
@pytest.mark.parametrize("axes", [None, [1, 3], [-2]])
def test_pads_of_the_physical_tensor_are_the_logical_ones(perm, axes):
    from mmconvert.ir.passes.op_traits import moved_pads

    phys = RNG.standard_normal((2, 3, 4, 5))
    n = 4 if axes is None else len(axes)
    pads = list(RNG.integers(0, 3, 2 * n))
    full = [(0, 0)] * 4
    for i, a in enumerate(range(4) if axes is None else axes):
        full[a % 4] = (pads[i], pads[n + i])
    want = np.pad(np.transpose(phys, perm), full)
    new = moved_pads(perm, pads, axes)
    got = np.transpose(np.pad(phys, list(zip(new[:4], new[4:]))), perm)
    np.testing.assert_array_equal(got, want)


def test_a_transpose_sinks_through_every_unary_op_of_the_table():
    """Dropout (inference) is element-wise in the one table, so sink_transposes moves the
    NHWC Transpose through it (its old list missed it) and the pair cancels."""
    nodes = [_t("t_in", NHWC, "x", "x_nhwc"), helper.make_node("Dropout", ["x_nhwc"], ["d"]),
             helper.make_node("Relu", ["d"], ["r"]), _t("t_out", NCHW, "r", "y")]
    model = _model(nodes, [_vi("x", [1, 2, 3, 4])], [_vi("y", None)])
    graph = _rewrite_and_compare(model, {"x": RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)},
                                 [sink_transposes, cancel_transposes])
    assert not [n for n in graph.nodes if n.op_type == "Transpose"]
