"""The optimizer's passes, each on small hand-built graphs: the rewrite happens where it may,
not where it may not, and ONNX Runtime computes the same outputs before and after (graph
outputs keep their names, dtypes and symbolic dims)."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import mmconvert
from mmconvert.backends.onnx import to_model
from mmconvert.backends import optimizer_passes
from mmconvert.ir.passes import OPTIMIZER, describe, registered, run_pipeline
from mmconvert.validators.runners.onnx_runner import session

F = T.FLOAT


def vi(name, shape, dtype=F):
    return h.make_tensor_value_info(name, dtype, shape)


def init(name, value):
    return onnx.numpy_helper.from_array(np.asarray(value), name)


def graph_of(nodes, inputs, outputs, inits=(), opset=28):
    model = h.make_model(h.make_graph(nodes, "g", inputs, outputs, list(inits)),
                         opset_imports=[h.make_opsetid("", opset)])
    return mmconvert.load(model)


def run_ort(graph, feeds):
    sess = session(to_model(graph).SerializeToString())  # at the source's opset where every node fits
    return sess.run(None, feeds)


def feeds_for(graph, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.real_inputs:
        vt = graph.type_of(name)
        shape = [d if isinstance(d, int) else 3 for d in vt.shape]
        out[name] = rng.standard_normal(shape).astype(np.float32) if vt.dtype == "float32" else \
            rng.integers(0, 4, shape).astype(np.int64)
    return out


def optimized(graph, *passes, feeds=None, atol=1e-5):
    """Run ``passes`` (after shape inference); check outputs and their types are kept; return
    (graph, {pass: changes})."""
    feeds = feeds or feeds_for(graph)
    before = run_ort(graph, feeds)
    types = [(o, graph.type_of(o)) for o in graph.outputs]
    records = run_pipeline(graph, ["infer_shapes", *passes])
    assert [(o, graph.type_of(o)) for o in graph.outputs] == types
    after = run_ort(graph, feeds)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, atol=atol, rtol=1e-5)
    return graph, {r.name: r.changes for r in records}


def ops(graph):
    return sorted(n.op_type for n in graph.nodes)


def test_every_optimizer_pass_is_registered_and_states_its_rule():
    known = registered()
    assert all(p in known for p in OPTIMIZER)
    for p in OPTIMIZER:
        assert len(describe(p)) > 20, p
    assert "fuse_silu" not in optimizer_passes("onnx") and "fuse_silu" in optimizer_passes("pytorch")
    assert "fold_large_constants" not in optimizer_passes("pytorch")
    assert "fuse_gelu" not in optimizer_passes("onnx", skip=["fuse_gelu"])
    with pytest.raises(mmconvert.MMConvertError, match="unknown pass"):
        optimizer_passes("onnx", skip=["no_such_pass"])
    # the IR names no target: each backend declares what it leaves out
    from mmconvert.backends import get_backend
    from mmconvert.ir import passes

    assert not hasattr(passes, "NOT_FOR")
    for target in ("onnx", "pytorch", "tensorflow"):
        skipped = get_backend(target).SKIP_PASSES
        assert skipped <= set(OPTIMIZER), target
        assert not skipped & set(optimizer_passes(target)) and set(optimizer_passes(target)) | skipped == set(OPTIMIZER)


# ------------------------------------------------------------------ inference
def test_infer_shapes_types_new_tensors_and_keeps_symbolic_dims():
    g = graph_of([h.make_node("Relu", ["x"], ["a"]), h.make_node("Transpose", ["a"], ["y"], perm=[1, 0])],
                 [vi("x", ["batch", 4])], [vi("y", [4, "batch"])])
    g.values.pop("a")
    _, changes = optimized(g)
    assert changes["infer_shapes"] >= 1
    assert g.type_of("a").shape == ("batch", 4) and g.type_of("a").dtype == "float32"


# ------------------------------------------------------------------ constants
def test_constants_become_initializers_and_duplicates_merge():
    c = np.arange(6, dtype=np.float32).reshape(2, 3)
    g = graph_of([h.make_node("Constant", [], ["k"], value=init("", c)),
                  h.make_node("Add", ["x", "k"], ["a"]), h.make_node("Mul", ["a", "k2"], ["y"])],
                 [vi("x", [2, 3])], [vi("y", [2, 3])], [init("k2", c)])
    _, changes = optimized(g, "constants_to_initializers", "dedupe_initializers", "remove_unused_initializers")
    assert ops(g) == ["Add", "Mul"] and changes["dedupe_initializers"] == 1
    assert len(g.initializers) == 1


def test_fold_large_constants_allocates_nothing():
    g = graph_of([h.make_node("ConstantOfShape", ["s"], ["w"], value=init("", np.array([0.5], np.float32))),
                  h.make_node("MatMul", ["x", "w"], ["y"])],
                 [vi("x", [2, 400])], [vi("y", [2, 300])], [init("s", np.array([400, 300], np.int64))])
    _, changes = optimized(g, "fold_constants", "fold_large_constants")
    assert ops(g) == ["MatMul"] and changes["fold_constants"] == 0
    w = g.initializers["w"]
    assert w.shape == (400, 300) and w.strides == (0, 0)


def test_fold_layout_constants_keeps_the_weight_name():
    w = np.random.default_rng(0).standard_normal((300, 400)).astype(np.float32)
    g = graph_of([h.make_node("Transpose", ["fc.weight"], ["wt"], perm=[1, 0]), h.make_node("MatMul", ["x", "wt"], ["y"])],
                 [vi("x", [2, 400])], [vi("y", [2, 300])], [init("fc.weight", w)])
    optimized(g, "fold_layout_constants")
    assert ops(g) == ["MatMul"] and g.nodes[0].inputs[1] == "fc.weight"
    assert g.initializers["fc.weight"].shape == (400, 300)


# ------------------------------------------------------------------ no-ops
NOOPS = [
    ("Identity", [h.make_node("Identity", ["x"], ["t"])], []),
    ("Dropout", [h.make_node("Dropout", ["x"], ["t"])], []),
    ("Cast", [h.make_node("Cast", ["x"], ["t"], to=F)], []),
    ("Reshape", [h.make_node("Reshape", ["x", "s"], ["t"])], [init("s", np.array([0, -1], np.int64))]),
    ("Transpose", [h.make_node("Transpose", ["x"], ["t"], perm=[0, 1])], []),
    ("Pad", [h.make_node("Pad", ["x", "p"], ["t"])], [init("p", np.zeros(4, np.int64))]),
    ("Slice", [h.make_node("Slice", ["x", "st", "en"], ["t"])],
     [init("st", np.array([0], np.int64)), init("en", np.array([2 ** 62], np.int64))]),
    ("Expand", [h.make_node("Expand", ["x", "s"], ["t"])], [init("s", np.array([1, 1], np.int64))]),
    ("Mul1", [h.make_node("Mul", ["one", "x"], ["t"])], [init("one", np.ones((1, 1), np.float32))]),
    ("Add0", [h.make_node("Add", ["x", "zero"], ["t"])], [init("zero", np.zeros(1, np.float32))]),
    ("Div1", [h.make_node("Div", ["x", "one"], ["t"])], [init("one", np.float32(1))]),
]


@pytest.mark.parametrize("name,nodes,inits", NOOPS, ids=[n[0] for n in NOOPS])
def test_remove_noops(name, nodes, inits):
    g = graph_of(nodes + [h.make_node("Relu", ["t"], ["y"])], [vi("x", ["batch", 4])], [vi("y", ["batch", 4])], inits)
    optimized(g, "remove_noops")
    assert ops(g) == ["Relu"] and g.nodes[0].inputs == ["x"]


KEPT = [
    ("broadcast grows x", h.make_node("Mul", ["x", "one"], ["t"]), init("one", np.ones((2, 1, 4), np.float32)), [2, "batch", 4]),
    ("ones of another width", h.make_node("Mul", ["x", "one"], ["t"]), init("one", np.ones((3, 4), np.float32)), [3, 4]),
    ("cast to another type", h.make_node("Cast", ["x"], ["t"], to=T.DOUBLE), None, ["batch", 4]),
    ("slice of part", h.make_node("Slice", ["x", "st", "en"], ["t"]), None, ["batch", 4]),
    ("add of non-zero", h.make_node("Add", ["x", "k"], ["t"]), init("k", np.full(4, 1e-30, np.float32)), ["batch", 4]),
    # a layer's weight still at its initial value stays a weight (code keeps it as a parameter)
    ("stored zero bias", h.make_node("Add", ["x", "bias"], ["t"]), init("bias", np.zeros(4, np.float32)), ["batch", 4]),
]


@pytest.mark.parametrize("name,node,extra,out_shape", KEPT, ids=[k[0] for k in KEPT])
def test_remove_noops_keeps_what_changes_the_value(name, node, extra, out_shape):
    inits = [extra] if extra is not None else []
    if name == "slice of part":
        inits = [init("st", np.array([1], np.int64)), init("en", np.array([2 ** 62], np.int64))]
        out_shape = [None, 4]
    dtype = T.DOUBLE if name.startswith("cast") else F
    g = graph_of([node], [vi("x", ["batch", 4])], [vi("t", out_shape, dtype)], inits)
    feeds = {"x": np.ones((3, 4), np.float32) if name != "ones of another width" else np.ones((3, 4), np.float32)}
    _, changes = optimized(g, "remove_noops", feeds=feeds)
    assert changes["remove_noops"] == 0


def test_a_zero_bias_goes_only_where_weights_need_not_stay():
    g = graph_of([h.make_node("Add", ["x", "bias"], ["t"]), h.make_node("Relu", ["t"], ["y"])],
                 [vi("x", ["batch", 4])], [vi("y", ["batch", 4])], [init("bias", np.zeros(4, np.float32))])
    optimized(g, "remove_noops")
    assert ops(g) == ["Add", "Relu"]  # a layer's weight: remove_noops keeps it
    optimized(g, "remove_neutral_weights")
    assert ops(g) == ["Relu"]
    assert "remove_neutral_weights" in optimizer_passes("onnx")
    assert "remove_neutral_weights" not in optimizer_passes("pytorch") + optimizer_passes("tensorflow")


def test_a_noop_before_a_graph_output_keeps_the_output_name():
    g = graph_of([h.make_node("Relu", ["x"], ["r"]), h.make_node("Identity", ["r"], ["y"])],
                 [vi("x", ["batch", 4])], [vi("y", ["batch", 4])])
    optimized(g, "remove_noops")
    assert ops(g) == ["Relu"] and g.outputs == ["y"] and g.nodes[0].outputs == ["y"]
    # input -> Identity -> output: nothing else can carry the output's name
    g = graph_of([h.make_node("Identity", ["x"], ["y"])], [vi("x", [4])], [vi("y", [4])])
    _, changes = optimized(g, "remove_noops")
    assert ops(g) == ["Identity"] and changes["remove_noops"] == 0


# ------------------------------------------------------------------ CSE
def test_common_subexpressions_merge():
    g = graph_of([h.make_node("Relu", ["x"], ["a"]), h.make_node("Relu", ["x"], ["b"]),
                  h.make_node("Transpose", ["a"], ["ta"], perm=[1, 0]), h.make_node("Transpose", ["b"], ["tb"], perm=[1, 0]),
                  h.make_node("Transpose", ["b"], ["tc"], perm=[0, 1]), h.make_node("Sum", ["ta", "tb"], ["y"]),
                  h.make_node("RandomNormalLike", ["x"], ["r1"]), h.make_node("RandomNormalLike", ["x"], ["r2"]),
                  h.make_node("Sub", ["r1", "r2"], ["z"])],
                 [vi("x", [3, 4])], [vi("y", [4, 3]), vi("tc", [3, 4]), vi("z", [3, 4])], opset=21)
    sess_feeds = {"x": np.ones((3, 4), np.float32)}
    before = run_ort(g, sess_feeds)[:2]
    run_pipeline(g, ["eliminate_common_subexpressions"])
    assert ops(g).count("Relu") == 1 and ops(g).count("Transpose") == 2 and ops(g).count("RandomNormalLike") == 2
    for b, a in zip(before, run_ort(g, sess_feeds)[:2]):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ batchnorm
def _bn(name, x, y, c, rng):
    vals = [rng.uniform(0.5, 1.5, c), rng.standard_normal(c), rng.standard_normal(c), rng.uniform(0.5, 2, c)]
    names = [f"{name}_{k}" for k in ("s", "b", "m", "v")]
    return h.make_node("BatchNormalization", [x] + names, [y], epsilon=1e-3), [
        init(n, v.astype(np.float32)) for n, v in zip(names, vals)]


@pytest.mark.parametrize("kind", ["Conv", "ConvTranspose", "Gemm"])
def test_fold_batchnorm(kind):
    rng = np.random.default_rng(1)
    if kind == "Conv":
        lin = h.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        w, x, out, ch = rng.standard_normal((6, 4, 3, 3)), vi("x", [1, 4, 5, 5]), [1, 6, 5, 5], 6
    elif kind == "ConvTranspose":
        lin = h.make_node("ConvTranspose", ["x", "w", "b"], ["c"], kernel_shape=[2, 2], strides=[2, 2], group=2)
        w, x, out, ch = rng.standard_normal((4, 3, 2, 2)), vi("x", [1, 4, 5, 5]), [1, 6, 10, 10], 6
    else:
        lin = h.make_node("Gemm", ["x", "w", "b"], ["c"], transB=1, beta=0.5)
        w, x, out, ch = rng.standard_normal((6, 4)), vi("x", [3, 4]), [3, 6], 6
    bn, params = _bn("bn", "c", "y", ch, rng)
    g = graph_of([lin, bn], [x], [vi("y", out)],
                 [init("w", w.astype(np.float32)), init("b", rng.standard_normal(ch).astype(np.float32))] + params)
    optimized(g, "fold_batchnorm")
    assert ops(g) == [kind] and g.nodes[0].inputs[1] == "w"


def test_fold_batchnorm_copies_a_conv_read_by_two_batchnorms():
    rng = np.random.default_rng(2)
    bn1, p1 = _bn("bn1", "c", "y1", 3, rng)
    bn2, p2 = _bn("bn2", "c", "y2", 3, rng)
    g = graph_of([h.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]), bn1, bn2],
                 [vi("x", [1, 2, 4, 4])], [vi("y1", [1, 3, 4, 4]), vi("y2", [1, 3, 4, 4])],
                 [init("w", rng.standard_normal((3, 2, 1, 1)).astype(np.float32))] + p1 + p2)
    optimized(g, "fold_batchnorm")
    assert ops(g) == ["Conv", "Conv"]


def test_fold_affine_into_conv_and_batchnorm():
    rng = np.random.default_rng(3)
    bn, params = _bn("bn", "r", "n", 3, rng)
    g = graph_of([h.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]), h.make_node("Mul", ["c", "k"], ["m"]),
                  h.make_node("Add", ["m", "d"], ["r0"]), h.make_node("Relu", ["r0"], ["r"]), bn,
                  h.make_node("Mul", ["n", "k2"], ["n2"]), h.make_node("Sub", ["n2", "d"], ["y"])],
                 [vi("x", [1, 2, 4, 4])], [vi("y", [1, 3, 4, 4])],
                 [init("w", rng.standard_normal((3, 2, 1, 1)).astype(np.float32)),
                  init("k", rng.standard_normal((3, 1, 1)).astype(np.float32)),
                  init("k2", rng.standard_normal((1, 3, 1, 1)).astype(np.float32)),
                  init("d", rng.standard_normal((3, 1, 1)).astype(np.float32))] + params)
    optimized(g, "fold_affine_into_conv")
    assert ops(g) == ["BatchNormalization", "Conv", "Relu"]


def test_fold_affine_leaves_a_constant_that_varies_along_space():
    rng = np.random.default_rng(4)
    g = graph_of([h.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]), h.make_node("Mul", ["c", "k"], ["y"])],
                 [vi("x", [1, 2, 4, 4])], [vi("y", [1, 3, 4, 4])],
                 [init("w", rng.standard_normal((3, 2, 1, 1)).astype(np.float32)),
                  init("k", rng.standard_normal((3, 1, 4)).astype(np.float32))])
    _, changes = optimized(g, "fold_affine_into_conv")
    assert changes["fold_affine_into_conv"] == 0


# ------------------------------------------------------------------ chains
def test_pad_goes_into_conv_and_pools():
    rng = np.random.default_rng(5)
    pads = init("p", np.array([0, 0, 1, 1, 0, 0, 1, 0], np.int64))
    g = graph_of([h.make_node("Pad", ["x", "p"], ["px"]), h.make_node("Conv", ["px", "w"], ["c"], kernel_shape=[3, 3]),
                  h.make_node("Pad", ["c", "p", "ninf"], ["pc"]), h.make_node("MaxPool", ["pc"], ["m"], kernel_shape=[3, 3]),
                  h.make_node("Pad", ["m", "p"], ["pm"]),
                  h.make_node("MaxPool", ["pm"], ["y"], kernel_shape=[2, 2])],  # zero padding is not MaxPool's
                 [vi("x", [1, 2, 6, 6])], [vi("y", [1, 3, 5, 5])],
                 [pads, init("w", rng.standard_normal((3, 2, 3, 3)).astype(np.float32)),
                  init("ninf", np.array(-np.inf, np.float32))])
    optimized(g, "fuse_pad_into_conv")
    assert ops(g) == ["Conv", "MaxPool", "MaxPool", "Pad"]


def test_reshape_squeeze_unsqueeze_chains():
    g = graph_of([h.make_node("Reshape", ["x", "s1"], ["a"]), h.make_node("Flatten", ["a"], ["b"], axis=1),
                  h.make_node("Reshape", ["b", "s2"], ["c"]),
                  h.make_node("Unsqueeze", ["c", "u1"], ["d"]), h.make_node("Unsqueeze", ["d", "u2"], ["e"]),
                  h.make_node("Squeeze", ["e", "q1"], ["f"]), h.make_node("Squeeze", ["f", "q2"], ["y"])],
                 [vi("x", [2, 3, 4])], [vi("y", [6, 1, 4])],
                 [init("s1", np.array([6, 4], np.int64)), init("s2", np.array([-1, 4], np.int64)),
                  init("u1", np.array([0, 2], np.int64)), init("u2", np.array([1, -1], np.int64)),
                  init("q1", np.array([0], np.int64)), init("q2", np.array([0, -1], np.int64))])
    optimized(g, "fuse_reshape_chains", "fuse_unsqueeze_chains", "fuse_squeeze_chains")
    assert ops(g) == ["Reshape"]  # the shapes are static: the whole chain is one Reshape


@pytest.mark.parametrize("a1,a2", [([0], [1]), ([2], [0, 2]), ([0, 3], [-1]), ([-1], [0])])
def test_squeeze_chain_axes(a1, a2):
    g = graph_of([h.make_node("Squeeze", ["x", "q1"], ["d"]), h.make_node("Squeeze", ["d", "q2"], ["y"])],
                 [vi("x", [1, "a", 1, 1, "b", 1])], [vi("y", None)],
                 [init("q1", np.array(a1, np.int64)), init("q2", np.array(a2, np.int64))])
    feeds = {"x": np.arange(6, dtype=np.float32).reshape(1, 2, 1, 1, 3, 1)}
    before = run_ort(g, feeds)[0]
    run_pipeline(g, ["infer_shapes", "fuse_reshape_chains", "fuse_squeeze_chains"])
    assert ops(g) == ["Squeeze"]
    after = run_ort(g, feeds)[0]
    assert after.shape == before.shape and np.array_equal(after, before)


@pytest.mark.parametrize("a1,a2", [([0], [0]), ([1], [0, 3]), ([0, 2], [1]), ([-1], [0]), ([2], [-1, 0])])
def test_unsqueeze_chain_axes(a1, a2):
    g = graph_of([h.make_node("Unsqueeze", ["x", "u1"], ["d"]), h.make_node("Unsqueeze", ["d", "u2"], ["y"])],
                 [vi("x", [2, 3])], [vi("y", None)],
                 [init("u1", np.array(a1, np.int64)), init("u2", np.array(a2, np.int64))])
    g.outputs = ["y"]
    feeds = {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}
    before = run_ort(g, feeds)[0]
    run_pipeline(g, ["infer_shapes", "fuse_unsqueeze_chains"])
    assert ops(g) == ["Unsqueeze"]
    after = run_ort(g, feeds)[0]
    assert after.shape == before.shape and np.array_equal(after, before)


def test_slice_and_concat_chains():
    g = graph_of([h.make_node("Slice", ["x", "st", "en", "ax0"], ["a"]), h.make_node("Slice", ["a", "st", "en", "ax1"], ["b"]),
                  h.make_node("Concat", ["b", "b"], ["c"], axis=0), h.make_node("Concat", ["c", "b"], ["y"], axis=-2)],
                 [vi("x", [4, 5])], [vi("y", [9, 3])],
                 [init("st", np.array([1], np.int64)), init("en", np.array([4], np.int64)),
                  init("ax0", np.array([0], np.int64)), init("ax1", np.array([-1], np.int64))])
    optimized(g, "fuse_slice_chains", "fuse_concat_chains")
    assert ops(g) == ["Concat", "Slice"] and len(g.nodes[-1].inputs) == 3


def test_flatten_softmax_reshape_becomes_one_softmax():
    g = graph_of([h.make_node("Flatten", ["x"], ["f"], axis=1), h.make_node("Softmax", ["f"], ["s"], axis=-1),
                  h.make_node("Reshape", ["s", "shape"], ["y"])],
                 [vi("x", [2, 10, 1, 1])], [vi("y", [2, 10, 1, 1])], [init("shape", np.array([2, 10, 1, 1], np.int64))])
    optimized(g, "fuse_flatten_softmax")
    assert ops(g) == ["Softmax"] and g.nodes[0].attrs["axis"] == 1


def test_matmul_add_becomes_gemm_only_for_2d():
    rng = np.random.default_rng(6)
    g = graph_of([h.make_node("MatMul", ["x", "w"], ["m"]), h.make_node("Add", ["b", "m"], ["y"]),
                  h.make_node("MatMul", ["x3", "w"], ["m3"]), h.make_node("Add", ["m3", "b"], ["y3"])],
                 [vi("x", [3, 4]), vi("x3", [2, 3, 4])], [vi("y", [3, 5]), vi("y3", [2, 3, 5])],
                 [init("w", rng.standard_normal((4, 5)).astype(np.float32)), init("b", rng.standard_normal(5).astype(np.float32))])
    optimized(g, "fuse_matmul_add")
    assert ops(g) == ["Add", "Gemm", "MatMul"]


# ------------------------------------------------------------------ activations
def _gelu_exact_nodes(order):
    nodes = [h.make_node("Div", ["x", "sqrt2"], ["d"]), h.make_node("Erf", ["d"], ["e"]), h.make_node("Add", ["e", "one"], ["p"])]
    if order == "x*0.5 first":
        nodes += [h.make_node("Mul", ["x", "half"], ["hx"]), h.make_node("Mul", ["hx", "p"], ["y"])]
    else:
        nodes += [h.make_node("Mul", ["x", "p"], ["xp"]), h.make_node("Mul", ["xp", "half"], ["y"])]
    return nodes


CONSTS = [init("sqrt2", np.float32(math.sqrt(2))), init("one", np.float32(1)), init("half", np.float32(0.5)),
          init("three", np.float32(3)), init("cubic", np.float32(0.044715)), init("k", np.float32(math.sqrt(2 / math.pi))),
          init("six", np.float32(6)), init("zero", np.float32(0))]


@pytest.mark.parametrize("order", ["x*0.5 first", "times 0.5 last"])
def test_fuse_gelu_exact(order):
    g = graph_of(_gelu_exact_nodes(order), [vi("x", ["batch", 8])], [vi("y", ["batch", 8])], CONSTS)
    optimized(g, "fuse_gelu")
    assert ops(g) == ["Gelu"] and "approximate" not in g.nodes[0].attrs


def test_fuse_gelu_tanh():
    nodes = [h.make_node("Pow", ["x", "three"], ["x3"]), h.make_node("Mul", ["x3", "cubic"], ["cx3"]),
             h.make_node("Add", ["x", "cx3"], ["w"]), h.make_node("Mul", ["k", "w"], ["v"]), h.make_node("Tanh", ["v"], ["t"]),
             h.make_node("Add", ["one", "t"], ["p"]), h.make_node("Mul", ["half", "x"], ["hx"]), h.make_node("Mul", ["hx", "p"], ["y"])]
    g = graph_of(nodes, [vi("x", [2, 8])], [vi("y", [2, 8])], CONSTS)
    optimized(g, "fuse_gelu")
    assert ops(g) == ["Gelu"] and g.nodes[0].attrs["approximate"] == "tanh"


def test_fuse_gelu_leaves_a_pattern_whose_value_is_read_elsewhere():
    g = graph_of(_gelu_exact_nodes("x*0.5 first"), [vi("x", [2, 8])], [vi("y", [2, 8]), vi("e", [2, 8])], CONSTS)
    _, changes = optimized(g, "fuse_gelu")
    assert changes["fuse_gelu"] == 0


def test_fuse_silu():
    g = graph_of([h.make_node("Sigmoid", ["x"], ["s"]), h.make_node("Mul", ["s", "x"], ["y"])],
                 [vi("x", [2, 8])], [vi("y", [2, 8])])
    run_pipeline(g, ["infer_shapes", "fuse_silu"])  # ONNX Runtime 1.32 has no Swish kernel at opset 28
    assert ops(g) == ["Swish"] and g.nodes[0].inputs == ["x"] and g.nodes[0].outputs == ["y"]


def test_fuse_hardswish_mish():
    nodes = [h.make_node("Relu", ["x"], ["a"]),
             h.make_node("Add", ["a", "three"], ["a3"]), h.make_node("Clip", ["a3", "zero", "six"], ["cl"]),
             h.make_node("Mul", ["a", "cl"], ["m"]), h.make_node("Div", ["m", "six"], ["b"]),
             h.make_node("HardSigmoid", ["b"], ["hs"], alpha=1 / 6, beta=0.5), h.make_node("Mul", ["b", "hs"], ["c"]),
             h.make_node("Softplus", ["c"], ["sp"]), h.make_node("Tanh", ["sp"], ["th"]), h.make_node("Mul", ["c", "th"], ["d"]),
             h.make_node("Exp", ["d"], ["ex"]), h.make_node("Add", ["ex", "one"], ["ex1"]), h.make_node("Log", ["ex1"], ["lg"]),
             h.make_node("Tanh", ["lg"], ["th2"]), h.make_node("Mul", ["th2", "d"], ["y"])]
    g = graph_of(nodes, [vi("x", [2, 8])], [vi("y", [2, 8])], CONSTS)
    optimized(g, "fuse_hardswish", "fuse_mish", atol=1e-5)
    assert ops(g) == ["HardSwish", "HardSwish", "Mish", "Mish", "Relu"]


# ------------------------------------------------------------------ norms
def _layer_norm_nodes(x, out, gamma=True, beta=True, square="Pow"):
    nodes = [h.make_node("ReduceMean", [x, "axes"], ["mu"]), h.make_node("Sub", [x, "mu"], ["d"])]
    nodes.append(h.make_node("Pow", ["d", "two"], ["sq"]) if square == "Pow" else h.make_node("Mul", ["d", "d"], ["sq"]))
    nodes += [h.make_node("ReduceMean", ["sq", "axes"], ["var"]), h.make_node("Add", ["var", "eps"], ["ve"]),
              h.make_node("Sqrt", ["ve"], ["sd"]), h.make_node("Div", ["d", "sd"], ["n"])]
    last = "n"
    if gamma:
        nodes.append(h.make_node("Mul", ["n", "gamma"], ["ng"]))
        last = "ng"
    if beta:
        nodes.append(h.make_node("Add", [last, "beta"], ["nb"]))
        last = "nb"
    nodes.append(h.make_node("Identity", [last], [out]))
    return nodes


NORM_CONSTS = [init("axes", np.array([-1], np.int64)), init("two", np.float32(2)), init("eps", np.float32(1e-5)),
               init("gamma", np.linspace(0.5, 1.5, 8).astype(np.float32)), init("beta", np.linspace(-1, 1, 8).astype(np.float32))]


@pytest.mark.parametrize("gamma,beta,square", [(True, True, "Pow"), (False, False, "Mul"), (True, False, "Mul")])
def test_fuse_layer_norm(gamma, beta, square):
    g = graph_of(_layer_norm_nodes("x", "y", gamma, beta, square), [vi("x", ["batch", 5, 8])], [vi("y", ["batch", 5, 8])],
                 NORM_CONSTS)
    optimized(g, "remove_noops", "fuse_layer_norm")
    assert ops(g) == ["LayerNormalization"]
    assert g.nodes[0].attrs["axis"] == -1 and g.nodes[0].attrs["epsilon"] == pytest.approx(1e-5)


def test_fuse_layer_norm_needs_the_last_axes():
    nodes = _layer_norm_nodes("x", "y")
    g = graph_of(nodes, [vi("x", [2, 5, 8])], [vi("y", [2, 5, 8])],
                 [init("axes", np.array([1], np.int64))] + NORM_CONSTS[1:3] +
                 [init("gamma", np.ones((5, 1), np.float32)), init("beta", np.zeros((5, 1), np.float32))])
    _, changes = optimized(g, "fuse_layer_norm")
    assert changes["fuse_layer_norm"] == 0


def test_fuse_rms_norm():
    nodes = [h.make_node("Pow", ["x", "two"], ["sq"]), h.make_node("ReduceMean", ["sq", "axes"], ["ms"]),
             h.make_node("Add", ["ms", "eps"], ["ve"]), h.make_node("Sqrt", ["ve"], ["sd"]),
             h.make_node("Reciprocal", ["sd"], ["r"]), h.make_node("Mul", ["x", "r"], ["n"]),
             h.make_node("Mul", ["gamma", "n"], ["y"])]
    g = graph_of(nodes, [vi("x", ["batch", 5, 8])], [vi("y", ["batch", 5, 8])], NORM_CONSTS)
    optimized(g, "fuse_rms_norm")
    assert ops(g) == ["RMSNormalization"] and g.nodes[0].inputs[1] == "gamma"


# ------------------------------------------------------------------ attention
@pytest.mark.parametrize("mask", [None, "float", "bool-as-float"])
def test_fuse_attention(mask):
    b, heads, s, d = 2, 3, 5, 4
    nodes = [h.make_node("Transpose", ["q_bshd"], ["q"], perm=[0, 2, 1, 3]),
             h.make_node("Transpose", ["k_bshd"], ["kt"], perm=[0, 2, 3, 1]),
             h.make_node("Transpose", ["v_bshd"], ["v"], perm=[0, 2, 1, 3]),
             h.make_node("Mul", ["q", "sq"], ["qs"]), h.make_node("Mul", ["kt", "sq"], ["ks"]),
             h.make_node("MatMul", ["qs", "ks"], ["scores"])]
    inputs = [vi(n, [b, s, heads, d]) for n in ("q_bshd", "k_bshd", "v_bshd")]
    probs_in = "scores"
    if mask:
        nodes.append(h.make_node("Add", ["scores", "mask"], ["masked"]))
        inputs.append(vi("mask", [b, 1, s, s]))
        probs_in = "masked"
    nodes += [h.make_node("Softmax", [probs_in], ["p"], axis=-1), h.make_node("MatMul", ["p", "v"], ["y"])]
    g = graph_of(nodes, inputs, [vi("y", [b, heads, s, d])], [init("sq", np.float32(d ** -0.25))])
    feeds = feeds_for(g)
    if mask:
        feeds["mask"] = np.where(np.random.default_rng(0).random((b, 1, s, s)) < 0.3, -1e9, 0).astype(np.float32)
    optimized(g, "fuse_attention", feeds=feeds)
    assert ops(g) == ["Attention", "Transpose", "Transpose", "Transpose"]
    att = next(n for n in g.nodes if n.op_type == "Attention")
    assert att.attrs["scale"] == pytest.approx(d ** -0.5)


def test_fuse_attention_leaves_a_mask_it_would_have_to_broadcast():
    b, heads, s, d = 2, 3, 5, 4
    nodes = [h.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]), h.make_node("MatMul", ["q", "kt"], ["sc"]),
             h.make_node("Add", ["sc", "mask"], ["m"]), h.make_node("Softmax", ["m"], ["p"]), h.make_node("MatMul", ["p", "v"], ["y"])]
    g = graph_of(nodes, [vi("q", [b, heads, s, d]), vi("k", [b, heads, s, d]), vi("v", [b, heads, s, d]), vi("mask", [b, 1, 1, s])],
                 [vi("y", [b, heads, s, d])])
    _, changes = optimized(g, "fuse_attention")
    assert changes["fuse_attention"] == 0


def test_reshaped_transpose_becomes_one_transpose():
    g = graph_of([h.make_node("Reshape", ["x", "s1"], ["a"]), h.make_node("Transpose", ["a"], ["b"], perm=[0, 2, 1]),
                  h.make_node("Reshape", ["b", "s2"], ["y"])],
                 [vi("x", [2, 3, 5, 4])], [vi("y", [2, 3, 4, 5])],
                 [init("s1", np.array([-1, 5, 4], np.int64)), init("s2", np.array([2, 3, 4, 5], np.int64))])
    optimized(g, "fuse_reshaped_transpose")
    assert ops(g) == ["Transpose"] and g.nodes[0].attrs["perm"] == [0, 1, 3, 2]


def test_fuse_attention_with_the_nan_guard_and_a_3d_key_transpose():
    b, heads, s, d = 1, 2, 5, 4
    nodes = [h.make_node("Reshape", ["k", "s1"], ["k3"]), h.make_node("Transpose", ["k3"], ["kt3"], perm=[0, 2, 1]),
             h.make_node("Reshape", ["kt3", "s2"], ["kt"]), h.make_node("MatMul", ["q", "kt"], ["sc"]),
             h.make_node("Div", ["sc", "root"], ["scaled"]), h.make_node("Softmax", ["scaled"], ["p"]),
             h.make_node("IsNaN", ["p"], ["nan"]), h.make_node("Where", ["nan", "zero", "p"], ["pg"]),
             h.make_node("MatMul", ["pg", "v"], ["y"])]
    g = graph_of(nodes, [vi("q", [b, heads, s, d]), vi("k", [b, heads, s, d]), vi("v", [b, heads, s, d])],
                 [vi("y", [b, heads, s, d])],
                 [init("s1", np.array([-1, s, d], np.int64)), init("s2", np.array([b, heads, d, s], np.int64)),
                  init("root", np.float32(2.0)), init("zero", np.float32(0))])
    optimized(g, "fuse_attention")
    assert ops(g) == ["Attention"] and g.nodes[0].inputs == ["q", "k", "v"]
    assert g.nodes[0].attrs["scale"] == pytest.approx(0.5)


def test_weights_listed_as_inputs_of_an_ir3_model_leave_the_inputs():
    w = np.ones((4, 4), np.float32)
    model = h.make_model(h.make_graph([h.make_node("MatMul", ["x", "w"], ["y"])], "g", [vi("x", [2, 4]), vi("w", [4, 4])],
                                      [vi("y", [2, 4])], [init("w", w)]), opset_imports=[h.make_opsetid("", 8)])
    model.ir_version = 3
    g = mmconvert.load(model)
    run_pipeline(g, ["initializers_out_of_inputs"])
    assert g.inputs == ["x"] and "w" in g.initializers
    model.ir_version = 4  # from IR 4 on, a listed initializer is a default a caller may override
    g = mmconvert.load(model)
    run_pipeline(g, ["initializers_out_of_inputs", "fold_layout_constants", "dedupe_initializers"])
    assert g.inputs == ["x", "w"]


def test_a_softmax_over_axis_1_with_unit_dims_after_it_goes_back_to_opset_9():
    g = graph_of([h.make_node("Softmax", ["x"], ["y"], axis=1)], [vi("x", [2, 10, 1, 1])], [vi("y", [2, 10, 1, 1])])
    model = to_model(g, opset=9)
    assert model.opset_import[0].version == 9 and [n.op_type for n in model.graph.node] == ["Softmax"]


def test_large_constants_stay_views_and_have_a_budget(monkeypatch):
    from mmconvert.ir.passes import constants, fold

    nodes, inits = [], []
    for k in range(3):
        nodes.append(h.make_node("ConstantOfShape", ["s"], [f"w{k}"], value=init("", np.array([0.5], np.float32))))
        nodes.append(h.make_node("MatMul", ["x", f"w{k}"], [f"y{k}"]))
    g = graph_of(nodes, [vi("x", [2, 400])], [vi(f"y{k}", [2, 300]) for k in range(3)],
                 [init("s", np.array([400, 300], np.int64))])
    monkeypatch.setattr(fold, "BROADCAST_TOTAL", 250_000)  # room for two of the three
    run_pipeline(g, ["fold_large_constants"])
    assert ops(g).count("ConstantOfShape") == 1
    # equal views merge without being copied whole: their digest is their one value
    run_pipeline(g, ["dedupe_initializers"])
    assert len([n for n in g.initializers if n.startswith("w")]) == 1
    t = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert constants._equal(t.T, np.ascontiguousarray(t.T)) and not constants._equal(t.T, t.reshape(4, 3))
    assert constants._digest(t.T) == constants._digest(np.ascontiguousarray(t.T))


def test_a_fused_op_raises_the_written_opset_only_as_far_as_it_needs():
    g = graph_of(_gelu_exact_nodes("x*0.5 first"), [vi("x", [2, 8])], [vi("y", [2, 8])], CONSTS, opset=17)
    optimized(g, "fuse_gelu")
    assert ops(g) == ["Gelu"] and to_model(g).opset_import[0].version == 20


def test_fusions_leave_a_graph_held_below_the_fused_ops_opset():
    model = h.make_model(h.make_graph(_gelu_exact_nodes("x*0.5 first"), "g", [vi("x", [2, 8])], [vi("y", [2, 8])], CONSTS),
                         opset_imports=[h.make_opsetid("", 17)])
    g = mmconvert.load(model, upgrade_opset=False)
    records = run_pipeline(g, ["infer_shapes", "fuse_gelu"])
    assert records[1].changes == 0 and "Gelu" not in ops(g)


def test_selects_covering_an_axis_become_one_split():
    """q, k, v = x[0], x[1], x[-1]: one Split + Squeezes, outputs kept (ONNX Runtime's own
    fusion of this group fails on a graph holding two of them)."""
    nodes = [h.make_node("Gather", ["x", f"i{k}"], [f"p{k}"], axis=0, name=f"g{k}") for k in range(3)]
    nodes += [h.make_node("Add", ["p0", "p1"], ["s"]), h.make_node("Mul", ["s", "p2"], ["y"])]
    g = graph_of(nodes, [vi("x", [3, "batch", 4])], [vi("y", ["batch", 4])],
                 [init("i0", np.int64(0)), init("i1", np.int64(1)), init("i2", np.int64(-1))])
    _, changes = optimized(g, "gathers_to_split")
    assert changes["gathers_to_split"] == 1 and ops(g) == ["Add", "Mul", "Split", "Squeeze", "Squeeze", "Squeeze"]
    # a group that misses an index, or repeats one, stays
    for idx in ((0, 1, 1), (0, 1, 5)):
        nodes = [h.make_node("Gather", ["x", f"i{k}"], [f"p{k}"], axis=0) for k in range(3)]
        nodes += [h.make_node("Add", ["p0", "p1"], ["s"]), h.make_node("Mul", ["s", "p2"], ["y"])]
        g = graph_of(nodes, [vi("x", [6 if 5 in idx else 3, "batch", 4])], [vi("y", ["batch", 4])],
                     [init(f"i{k}", np.int64(v)) for k, v in enumerate(idx)])
        _, changes = optimized(g, "gathers_to_split")
        assert changes["gathers_to_split"] == 0


def test_the_pytorch_decoder_onnx_file_loads_in_onnx_runtime_with_default_optimizations(tmp_path):
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    class Two(torch.nn.Module):  # two attention blocks: two select groups in one graph
        def __init__(self):
            super().__init__()
            self.a = torch.nn.MultiheadAttention(16, 2, batch_first=True)
            self.b = torch.nn.MultiheadAttention(16, 2, batch_first=True)

        def forward(self, x):
            return self.b(self.a(x, x, x)[0], x, x)[0]

    out = tmp_path / "m.onnx"
    result = mmconvert.convert(Two().eval(), str(out), to="onnx", example_inputs=(torch.randn(2, 5, 16),))
    assert result.parity.status == "pass"
    ort.InferenceSession(str(out))  # extended-level optimizations on: used to fail ("replace the existing tensor")
