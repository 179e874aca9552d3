"""The ONNX frontend reads every part of a real ONNX file."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import conformance as C
from mmconvert import ir
import mmconvert


def _model(nodes, inputs, outputs, inits=(), opset=17, **kw):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], **kw)


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _run(path_or_model, feeds):
    sess = C.session(path_or_model if not isinstance(path_or_model, str) else path_or_model)
    return sess.run(None, feeds)


def test_large_weights_are_memory_mapped_from_the_file(tmp_path):
    w = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
               [_vi("x", ["batch", 64])], [_vi("y", ["batch", 64])], [numpy_helper.from_array(w, "w")])
    onnx.save(m, tmp_path / "m.onnx")
    g = mmconvert.load(str(tmp_path / "m.onnx"))
    arr = g.initializers["w"]
    assert not arr.flags.owndata and not arr.flags.writeable
    np.testing.assert_array_equal(arr, w)
    assert g.values["x"].shape == ("batch", 64)  # symbolic dim kept, never replaced by 1


def test_external_data_is_read_and_written(tmp_path):
    w = np.arange(4096, dtype=np.float32).reshape(64, 64)
    m = _model([helper.make_node("Add", ["x", "w"], ["y"])], [_vi("x", [64, 64])], [_vi("y", [64, 64])],
               [numpy_helper.from_array(w, "w")])
    onnx.save(m, tmp_path / "ext.onnx", save_as_external_data=True, location="weights.bin", size_threshold=0)
    g = mmconvert.load(str(tmp_path / "ext.onnx"))
    np.testing.assert_array_equal(g.initializers["w"], w)
    out = tmp_path / "out" / "m.onnx"
    res = mmconvert.convert(str(tmp_path / "ext.onnx"), out, to="onnx", external_data=True)
    assert res.details["external_data"] and (tmp_path / "out" / "m.onnx.data").exists()
    onnx.checker.check_model(str(out), full_check=True)
    x = np.ones((64, 64), np.float32)
    np.testing.assert_array_equal(_run(str(out), {"x": x})[0], x + w)


def test_missing_external_data_file_is_a_clear_error(tmp_path):
    m = _model([helper.make_node("Add", ["x", "w"], ["y"])], [_vi("x", [4])], [_vi("y", [4])],
               [numpy_helper.from_array(np.ones(4, np.float32), "w")])
    onnx.save(m, tmp_path / "ext.onnx", save_as_external_data=True, location="gone.bin", size_threshold=0)
    (tmp_path / "gone.bin").unlink()
    with pytest.raises(ir.ModelLoadError, match="gone.bin"):
        mmconvert.load(str(tmp_path / "ext.onnx"))


def test_local_functions_are_inlined_and_custom_domains_kept(tmp_path):
    fn = helper.make_function("my.fns", "Double", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 17)])
    m = _model([helper.make_node("Double", ["x"], ["t"], domain="my.fns"),
                helper.make_node("Relu", ["t"], ["y"])], [_vi("x", [3])], [_vi("y", [3])])
    m.opset_import.extend([helper.make_opsetid("my.fns", 1)])
    m.functions.extend([fn])
    g = mmconvert.load(m)
    assert {n.op_type for n in g.nodes} == {"Add", "Relu"}
    custom = _model([helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example", level=3)],
                    [_vi("x", [3])], [_vi("y", [3])])
    custom.opset_import.extend([helper.make_opsetid("com.example", 2)])
    g = mmconvert.load(custom)
    node = g.nodes[0]
    assert (node.domain, node.op_type, node.attrs["level"]) == ("com.example", "Frobnicate", 3)
    back = mmconvert.save(g, tmp_path / "c.onnx")
    loaded = onnx.load(back)
    assert {(o.domain, o.version) for o in loaded.opset_import} >= {("com.example", 2)}


def test_sparse_initializer_becomes_dense():
    values = numpy_helper.from_array(np.array([5.0, 7.0], np.float32), "s")
    indices = numpy_helper.from_array(np.array([1, 4], np.int64), "s_idx")
    sparse = helper.make_sparse_tensor(values, indices, [2, 3])
    g = helper.make_graph([helper.make_node("Add", ["x", "s"], ["y"])], "g", [_vi("x", [2, 3])], [_vi("y", [2, 3])],
                          sparse_initializer=[sparse])
    graph = mmconvert.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    np.testing.assert_array_equal(graph.initializers["s"], [[0, 5, 0], [0, 7, 0]])


def test_metadata_is_kept(tmp_path):
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2])], [_vi("y", [2])],
               producer_name="me", doc_string="docs")
    helper.set_model_props(m, {"author": "alice"})
    g = mmconvert.load(m)
    assert g.metadata["metadata_props"] == {"author": "alice"} and g.metadata["producer_name"] == "me"
    out = onnx.load(mmconvert.save(g, tmp_path / "m.onnx"))
    assert {p.key: p.value for p in out.metadata_props} == {"author": "alice"} and out.doc_string == "docs"


def test_subgraph_outer_scope_use_orders_the_producer_first():
    then = helper.make_graph([helper.make_node("Identity", ["outer"], ["t"])], "then", [], [_vi("t", [2])])
    other = helper.make_graph([helper.make_node("Neg", ["outer"], ["e"])], "else", [], [_vi("e", [2])])
    # the If comes before the node producing `outer` in the file: the IR must reorder it
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other, name="if"),
             helper.make_node("Relu", ["x"], ["outer"], name="relu")]
    m = _model(nodes, [_vi("c", [], TensorProto.BOOL), _vi("x", [2])], [_vi("y", [2])])
    g = mmconvert.load(m)
    assert [n.name for n in g.nodes] == ["relu", "if"]
    assert g.nx.has_edge("relu", "if")


def test_unknown_op_names_the_node():
    m = _model([helper.make_node("NoSuchOp", ["x"], ["y"], name="bad_one")], [_vi("x", [2])], [_vi("y", [2])])
    with pytest.raises(ir.GraphValidationError, match="bad_one.*unknown op 'NoSuchOp'"):
        mmconvert.load(m)


def test_wrong_attribute_names_the_node():
    m = _model([helper.make_node("Relu", ["x"], ["y"], name="r1", alpha=0.5)], [_vi("x", [2])], [_vi("y", [2])])
    with pytest.raises(ir.GraphValidationError, match="r1.*no attribute 'alpha'"):
        mmconvert.load(m)


def test_dangling_input_names_the_node():
    m = _model([helper.make_node("Relu", ["nowhere"], ["y"], name="r2")], [_vi("x", [2])], [_vi("y", [2])])
    with pytest.raises(ir.GraphValidationError, match="r2.*'nowhere' is not defined"):
        mmconvert.load(m)


@pytest.mark.parametrize("content,match", [(b"", "empty"), (b"hello world\n", "not an ONNX model"),
                                            (b"\x08\x07\x3a\xff\xff\x03", "truncated")])
def test_unreadable_files_are_clear_errors(tmp_path, content, match):
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(ir.ModelLoadError, match=match):
        mmconvert.load(str(p))


def test_truncated_real_model(tmp_path):
    data = open(C.light_models()[0], "rb").read()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ir.ModelLoadError):
        mmconvert.load(str(p))
