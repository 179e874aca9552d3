"""The PyTorch emitter: artifact contract, readable code, preflight, atomic writes,
dynamic shapes and the registry."""

from __future__ import annotations

import ast
import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import mmconvert
from mmconvert.ir.errors import UnsupportedOpsError
from pytorch_harness import emit, import_model_py, run

torch = pytest.importorskip("torch")


def _model(nodes, inputs, outputs, inits=(), opset=18, domains=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(graph, opset_imports=imports)


def _conv_net(batch="N"):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "layer1.conv.weight")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "layer1.conv.bias")
    fc = numpy_helper.from_array(rng.standard_normal((4 * 8 * 8, 5)).astype(np.float32), "fc.weight")
    shape_idx = numpy_helper.from_array(np.array(0, np.int64), "zero")
    minus1 = numpy_helper.from_array(np.array([-1], np.int64), "minus1")
    axes0 = numpy_helper.from_array(np.array([0], np.int64), "axes0")
    nodes = [
        helper.make_node("Conv", ["x", "layer1.conv.weight", "layer1.conv.bias"], ["c"], name="layer1.conv", pads=[1, 1, 1, 1]),
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
    return _model(nodes, [x], [y], [w, b, fc, shape_idx, minus1, axes0])


def _reference(model, x):
    import conformance

    return conformance.run_model(model, model, [x])[0]


def test_artifact_contract_and_readable_code(tmp_path):
    out = tmp_path / "out"
    model = emit(_conv_net(), str(out))
    assert sorted(os.listdir(out)) == ["manifest.json", "model.py", "weights.safetensors"]
    src = (out / "model.py").read_text()
    tree = ast.parse(src)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"torch", "numpy", "safetensors", "os", "math"}
    assert "import mmconvert" not in src and "from mmconvert" not in src
    assert "class Model(nn.Module)" in src and "def load_model(" in src
    assert "nn.Conv2d(3, 4, kernel_size=(3, 3), padding=(1, 1))" in src
    assert "F.relu(" in src and "nn.Linear(256, 5, bias=False)" in src
    assert "del " in src  # values are released after their last use
    keys = set(model.state_dict())
    assert {"layer1.conv.weight", "layer1.conv.bias", "fc.weight"} <= keys  # the source's dotted names
    assert not model.training
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["outputs"] == ["y"] and "x" in manifest["inputs"]
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(run(model, [x])[0], _reference(_conv_net(), x), rtol=1e-4, atol=1e-4)


def test_numpy_inputs_are_accepted(tmp_path):
    model = emit(_conv_net(), str(tmp_path / "out"))
    x = np.ones((1, 3, 8, 8), np.float32)
    assert tuple(model(x).shape) == (1, 5)


def test_symbolic_batch_stays_dynamic(tmp_path):
    out = tmp_path / "out"
    model = emit(_conv_net("batch"), str(out))
    src = (out / "model.py").read_text()
    assert ".shape" in src  # the batch comes from the input, not a constant
    for n in (1, 3):
        x = np.random.default_rng(n).standard_normal((n, 3, 8, 8)).astype(np.float32)
        np.testing.assert_allclose(run(model, [x])[0], _reference(_conv_net("batch"), x), rtol=1e-4, atol=1e-4)
    batch = torch.export.Dim("batch", min=2, max=64)
    ep = torch.export.export(model, (torch.zeros(2, 3, 8, 8),), dynamic_shapes=({0: batch},))
    assert tuple(ep.module()(torch.zeros(5, 3, 8, 8)).shape) == (5, 5)


def test_unsupported_ops_listed_before_anything_is_written(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    nodes = [helper.make_node("Foo", ["x"], ["a"], name="foo1", domain="my.ops"),
             helper.make_node("Foo", ["a"], ["b"], name="foo2", domain="my.ops"),
             helper.make_node("Bar", ["b"], ["c"], name="bar", domain="my.ops"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    model = _model(nodes, [x], [y], domains=["my.ops"])
    out = tmp_path / "out"
    with pytest.raises(UnsupportedOpsError) as info:
        mmconvert.convert(model, str(out), to="pytorch")
    assert info.value.missing == {("my.ops", "Foo"): ["foo1", "foo2"], ("my.ops", "Bar"): ["bar"]}
    assert info.value.exit_code == 3
    assert "Foo x2" in str(info.value)
    assert not out.exists() and os.listdir(tmp_path) == []


def test_cli_exit_code_3_for_unsupported_ops(tmp_path):
    from mmconvert.cli import main

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    model = _model([helper.make_node("Foo", ["x"], ["y"], name="foo", domain="my.ops")], [x], [y], domains=["my.ops"])
    src = tmp_path / "m.onnx"
    onnx.save(model, str(src))
    with pytest.raises(SystemExit) as info:
        main(["convert", str(src), "--to", "pytorch", "-o", str(tmp_path / "out"), "--no-validate"])
    assert info.value.code == 3
    assert not (tmp_path / "out").exists()


def test_an_existing_output_is_replaced_only_with_force_and_only_when_ours(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(mmconvert.MMConvertError, match="already exists"):
        emit(_conv_net(), str(out))
    with pytest.raises(mmconvert.MMConvertError, match="not a folder mmconvert wrote"):
        emit(_conv_net(), str(out), force=True)
    assert (out / "notes.txt").read_text() == "mine"
    emit(_conv_net(), str(tmp_path / "fresh"))
    emit(_conv_net(), str(tmp_path / "fresh"), force=True)  # our own artifact: replaced
    assert sorted(os.listdir(tmp_path / "fresh")) == ["manifest.json", "model.py", "weights.safetensors"]
    assert [p for p in os.listdir(tmp_path) if p.startswith(".mmconvert")] == []


def test_supported_ops_are_ranges():
    from mmconvert.backends.pytorch import REQUIRES, supported_ops

    ops = supported_ops()
    assert REQUIRES == "torch"
    assert len(ops) > 150
    assert ops["Conv"] == ["1+"] and ops["Attention"] == ["23+"]
    for ranges in ops.values():
        assert ranges[-1].endswith("+")  # the newest entry holds on, whatever the canonical opset


def test_one_file_per_op_family():
    import mmconvert.backends.pytorch.ops as ops
    from mmconvert.backends.pytorch.registry import entries

    families = {e.handler.__module__.rsplit(".", 1)[-1] for ents in entries().values() for e in ents}
    assert {"conv", "elementwise", "reduce", "shape", "norm", "pool", "control"} <= families
    assert os.path.isdir(os.path.dirname(ops.__file__))


def test_onnx_semantics_where_pytorch_differs(tmp_path):
    a = helper.make_tensor_value_info("a", TensorProto.INT64, [4])
    b = helper.make_tensor_value_info("b", TensorProto.INT64, [4])
    f = helper.make_tensor_value_info("f", TensorProto.FLOAT, [2, 3])
    outs = [helper.make_tensor_value_info(n, t, None) for n, t in
            (("div", TensorProto.INT64), ("mod", TensorProto.INT64), ("fmod", TensorProto.INT64),
             ("argmax", TensorProto.INT64), ("mx", TensorProto.FLOAT))]
    nodes = [helper.make_node("Div", ["a", "b"], ["div"]),
             helper.make_node("Mod", ["a", "b"], ["mod"]),
             helper.make_node("Mod", ["a", "b"], ["fmod"], fmod=1),
             helper.make_node("ArgMax", ["f"], ["argmax"], axis=1, select_last_index=1),
             helper.make_node("Max", ["f", "f2"], ["mx"]),
             helper.make_node("Neg", ["f"], ["f2"])]
    model = _model(nodes, [a, b, f], outs)
    m = emit(model, str(tmp_path / "out"))
    av, bv = np.array([-7, 7, -7, 7]), np.array([2, -2, -2, 2])
    fv = np.array([[1.0, 3.0, 3.0], [np.nan, 0.0, 0.0]], np.float32)
    got = run(m, [av, bv, fv])
    import conformance

    expected = conformance.run_model(model, model, [av, bv, fv])
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    assert got[0].tolist() == [-3, -3, 3, 3]  # truncation, not floor


def test_if_becomes_python_control_flow(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])
    then = helper.make_graph([helper.make_node("Relu", ["x"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, [3])])
    other = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [3])])
    model = _model([helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)], [c, x], [y])
    out = tmp_path / "out"
    m = emit(model, str(out))
    src = (out / "model.py").read_text()
    assert "if c:" in src and "else:" in src
    xv = np.array([-1.0, 0.0, 2.0], np.float32)
    assert run(m, [np.array(True), xv])[0].tolist() == [0.0, 0.0, 2.0]
    assert run(m, [np.array(False), xv])[0].tolist() == [1.0, -0.0, -2.0]


def test_emitted_module_imports_standalone(tmp_path):
    out = tmp_path / "out"
    emit(_conv_net(), str(out))
    module = import_model_py(str(out))
    assert hasattr(module, "Model") and callable(module.load_model)


# dotted weight names -> the module tree; every name that cannot be kept as it is still loads
TREE_NAMES = ["encoder.layer.0.attention.self.query", "encoder.layer.1.attention.self.query",
              "self.0.named_children", "named_children.class", "blocks.__mangled.conv", "blocks.0x",
              "layers.01.conv", "a.b-c.d", "onnx::Conv_12", "ﬁlter.conv", "input.conv", "encoder.layer"]


def _tree_model():
    rng = np.random.default_rng(0)
    inits, nodes = [], []
    prev = "x"
    for i, base in enumerate(TREE_NAMES):
        w = rng.standard_normal((3, 3, 1, 1)).astype(np.float32) * 0.5
        b = rng.standard_normal(3).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"{base}.weight"), numpy_helper.from_array(b, f"{base}.bias")]
        nodes.append(helper.make_node("Conv", [prev, f"{base}.weight", f"{base}.bias"], [f"t{i}"], name=f"n{i}"))
        prev = f"t{i}"
    scale = numpy_helper.from_array(rng.standard_normal((1, 3, 1, 1)).astype(np.float32), "encoder.layer.2.scale")
    nodes.append(helper.make_node("Mul", [prev, "encoder.layer.2.scale"], ["y"], name="scale"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    return _model(nodes, [x], [y], inits + [scale])


def test_module_tree_from_dotted_names_and_unsafe_names_still_load(tmp_path):
    model_proto = _tree_model()
    model = emit(model_proto, str(tmp_path / "out"), optimize=False)  # names, not folding: every weight stays
    x = np.random.default_rng(1).standard_normal((1, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(run(model, [x])[0], _reference(model_proto, x), rtol=1e-5, atol=1e-5)
    keys = set(model.state_dict())
    # kept as they are: identifiers and list indices
    assert {"encoder.layer.0.attention.self.query.weight", "encoder.layer.1.attention.self.query.bias",
            "input.conv.weight"} <= keys
    assert isinstance(model.encoder.layer, torch.nn.ModuleList)
    src = (tmp_path / "out" / "model.py").read_text()
    assert "self.encoder.layer[0].attention.self.query = nn.Conv2d(" in src
    # not kept: an nn.Module attribute, a keyword, a mangled name, a leading zero, a dash, a
    # non-NFKC name, a path whose parent is a list: placed flat, under sanitized unique names
    for bad in ("named_children.class", "blocks.__mangled", "layers.01", "a.b-c", "onnx::Conv_12", "ﬁlter",
                "self.0.named_children"):
        assert not any(k.startswith(bad + ".") for k in keys), bad
    assert "named_children" not in dict(model.named_children()) or not isinstance(model.named_children, torch.nn.Module)
    assert len(keys) == 2 * len(TREE_NAMES) + 1  # nothing lost, nothing doubled
