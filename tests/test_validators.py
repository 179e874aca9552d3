"""Parity validation: it passes correct conversions, catches wrong ones, and names the node."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import conformance as C
from mmconvert import ir
import mmconvert
from mmconvert.validators import core, inputs, metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn.onnx")


# ------------------------------------------------------------------ metrics
def test_metrics_pass_within_tolerance_and_report_minimum_tolerance():
    r = np.array([1.0, 2.0, 0.0], np.float32)
    c = r + np.array([1e-5, -2e-5, 0.0], np.float32)
    m = metrics.compare([r], [c], atol=1e-4, rtol=0)
    assert m["status"] == "pass" and m["max_abs"] == pytest.approx(2e-5, rel=1e-2)
    m = metrics.compare([r], [c], atol=1e-6, rtol=0)
    assert m["status"] == "fail" and m["mismatch_fraction"] == pytest.approx(2 / 3)
    assert m["min_atol"] == pytest.approx(2e-5, rel=1e-2)
    assert m["cosine"] == pytest.approx(1.0, abs=1e-6)


def test_metrics_nan_inf_and_zero_safe_relative_error():
    r = np.array([np.nan, np.inf, 0.0, 1.0])
    assert metrics.compare([r], [r.copy()], 1e-6, 1e-6)["status"] == "pass"  # NaN == NaN in the same place
    m = metrics.compare([r], [np.array([1.0, np.inf, 0.0, 1.0])], 1e-6, 1e-6)
    assert m["status"] == "fail" and m["nan_mismatch"] == 1
    m = metrics.compare([r], [np.array([np.nan, -np.inf, 0.0, 1.0])], 1e-6, 1e-6)
    assert m["status"] == "fail" and m["inf_mismatch"] == 1
    m = metrics.compare([np.zeros(3)], [np.full(3, 1e-9)], 1e-6, 0)
    assert m["status"] == "pass" and np.isfinite(m["max_rel"])


def test_metrics_integers_are_exact_and_dtype_shape_checked():
    a = np.arange(6, dtype=np.int64)
    assert metrics.compare([a], [a.copy()], 0, 0)["status"] == "pass"
    b = a.copy()
    b[3] += 1
    m = metrics.compare([a], [b], 1.0, 1.0)  # tolerances do not apply to integers
    assert m["status"] == "fail" and m["exact"] and "1 of 6" in m["message"]
    assert "dtype" in metrics.compare([a], [a.astype(np.int32)], 0, 0)["message"]
    assert "shape" in metrics.compare([a], [a.reshape(2, 3)], 0, 0)["message"]


# ------------------------------------------------------------------- inputs
def _gather_model():
    table = numpy_helper.from_array(np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32), "emb")
    nodes = [helper.make_node("Gather", ["emb", "ids"], ["e"]),
             helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["m", "ax"], ["m3"]),
             helper.make_node("Mul", ["e", "m3"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
                                       helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", 4])],
                          [table, numpy_helper.from_array(np.array([-1], np.int64), "ax")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_inputs_follow_roles_dims_and_seed():
    graph = mmconvert.load(_gather_model())
    batches, specs, dims = inputs.generate(graph, seed=3, samples=2, dims={"seq": 7})
    assert [s.role for s in specs] == ["index", "mask"]
    assert dims == {"batch": 2, "seq": 7} and batches[0][0].shape == (2, 7)
    ids = np.concatenate([b[0].ravel() for b in batches])
    assert ids.min() >= 0 and ids.max() < 50 and ids.dtype == np.int64
    assert (batches[0][1] == 1).all()
    again, _, _ = inputs.generate(graph, seed=3, samples=2, dims={"seq": 7})
    assert all(np.array_equal(a, b) for a, b in zip(batches[1], again[1]))
    other, _, _ = inputs.generate(graph, seed=4, samples=1, dims={"seq": 7})
    assert not np.array_equal(other[0][0], batches[0][0])


def test_shape_inputs_need_user_data():
    g = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                           helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    graph = mmconvert.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(ir.InputError, match="'shape' is read as a shape"):
        inputs.generate(graph)


def test_user_data_from_npz_and_test_data_set(tmp_path):
    x = np.ones((1, 3, 32, 32), np.float32)
    np.savez(tmp_path / "d.npz", image=x)
    assert np.array_equal(inputs.load_data(str(tmp_path / "d.npz"), ["image"])[0][0], x)
    ds = tmp_path / "test_data_set_0"
    ds.mkdir()
    (ds / "input_0.pb").write_bytes(numpy_helper.from_array(x, "image").SerializeToString())
    assert np.array_equal(inputs.load_data(str(tmp_path), ["image"])[0][0], x)
    with pytest.raises(ir.InputError, match="takes"):
        inputs.load_data(str(tmp_path / "d.npz"), ["a", "b"])


def test_random_outputs_are_excluded(tmp_path):
    nodes = [helper.make_node("RandomNormalLike", ["x"], ["noise"]), helper.make_node("Add", ["x", "noise"], ["y"]),
             helper.make_node("Relu", ["x"], ["z"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4]),
                           helper.make_tensor_value_info("z", TensorProto.FLOAT, [4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    res = mmconvert.convert(m, tmp_path / "r.onnx", to="onnx")
    status = {o.name: o.status for o in res.parity.outputs}
    assert status == {"y": "excluded", "z": "pass"} and res.parity.passed


# ---------------------------------------------- perturbation: catch and localize
def _perturb_onnx(path: str, out: str, initializer: str) -> None:
    m = onnx.load(path)
    for t in m.graph.initializer:
        if t.name == initializer:
            arr = numpy_helper.to_array(t).copy()
            arr.reshape(-1)[0] += 1.0
            t.CopyFrom(numpy_helper.from_array(arr, t.name))
    onnx.save(m, out)


@pytest.mark.parametrize("mode", ["accumulated", "isolated"])
def test_onnx_candidate_with_one_perturbed_weight_fails_at_that_node(tmp_path, mode):
    good = tmp_path / "good.onnx"
    res = mmconvert.convert(EXAMPLE, good, to="onnx")
    assert res.parity.passed
    bad = tmp_path / "bad.onnx"
    _perturb_onnx(str(good), str(bad), "block.conv.weight")
    report = mmconvert.validate(EXAMPLE, bad, per_layer=True, mode=mode)
    assert not report.passed and report.exit_code == 1
    assert report.first_divergent["node"] == "block.conv"
    assert report.first_divergent["op_type"] == "Conv"
    ok = mmconvert.validate(EXAMPLE, good, per_layer=True, mode=mode)
    assert ok.passed and ok.first_divergent is None
    assert all(layer.status == "pass" for layer in ok.layers)


def test_per_layer_names_a_perturbed_op_in_the_middle(tmp_path):
    good = tmp_path / "good.onnx"
    mmconvert.convert(EXAMPLE, good, to="onnx", validate=False)
    m = onnx.load(str(good))
    for node in m.graph.node:
        if node.name == "stem.relu":
            node.op_type = "Sigmoid"  # a wrong op, same shape
    bad = tmp_path / "bad.onnx"
    onnx.save(m, str(bad))
    report = mmconvert.validate(EXAMPLE, bad, per_layer=True)
    assert report.first_divergent["node"] == "stem.relu"
    layers = {layer.node: layer for layer in report.layers}
    assert layers["stem.bn"].status == "pass" and layers["stem.relu"].input_max_abs == 0.0


# -------------------------------------- same verdicts as the conformance suites
@pytest.mark.parametrize("path", C.light_models(), ids=lambda p: os.path.basename(p)[:-5])
def test_light_models_validate_like_the_conformance_test(path, tmp_path):
    case = C.light_case(path)
    out = tmp_path / "m.onnx"
    mmconvert.convert(path, out, to="onnx", validate=False)
    report = mmconvert.validate(path, out, data=[case.data_sets[0][0]])
    assert report.passed, report.summary()


def _validate_node_cases(tmp_path, stride: int) -> tuple[int, list]:
    disagreements = []
    checked = 0
    for i, (name, case) in enumerate(sorted(C.node_cases().items())):
        if i % stride or C.ort_verdict(case) is not None:
            continue
        out = tmp_path / f"{name}.onnx"
        mmconvert.convert(case.model, out, to="onnx", validate=False)
        report = mmconvert.validate(case.model, out, data=[list(s[0]) for s in case.data_sets],
                                    atol=case.atol, rtol=case.rtol)
        checked += 1
        if not report.passed:
            disagreements.append((name, report.summary()))
    return checked, disagreements


def test_node_cases_validate_like_the_conformance_test(tmp_path):
    """Every fourth ORT-runnable node case (in name order) passes `validate` on its own inputs
    (all of them under -m slow; the round-trip suite runs every case through ORT by default)."""
    checked, disagreements = _validate_node_cases(tmp_path, stride=4)
    assert checked > 350
    assert not disagreements, disagreements[:5]


@pytest.mark.slow
def test_all_node_cases_validate_like_the_conformance_test(tmp_path):
    """Every ORT-runnable node case that round-trips passes `validate` on its own inputs."""
    checked, disagreements = _validate_node_cases(tmp_path, stride=1)
    assert checked > 1400
    assert not disagreements, disagreements[:5]


def test_core_rejects_a_candidate_with_other_inputs(tmp_path):
    other = tmp_path / "other.onnx"
    mmconvert.convert(os.path.join(ROOT, "tests", "data", "layernorm.onnx"), other, to="onnx", validate=False)
    with pytest.raises(ir.InputError, match="inputs"):
        mmconvert.validate(EXAMPLE, other)


# ------------------------------------------------------------ pytorch target
@pytest.mark.parametrize("mode", ["accumulated", "isolated"])
def test_pytorch_candidate_with_one_perturbed_weight_fails_at_that_node(tmp_path, mode):
    pytest.importorskip("torch")
    from safetensors.numpy import load_file, save_file

    good = tmp_path / "good"
    res = mmconvert.convert(EXAMPLE, good, to="pytorch")
    assert res.parity.passed
    ok = mmconvert.validate(EXAMPLE, good, per_layer=True, mode=mode)
    assert ok.passed and ok.first_divergent is None
    assert sum(layer.status == "pass" for layer in ok.layers) >= 8  # the debug path captured the layers
    weights = load_file(str(good / "weights.safetensors"))
    key = next(k for k in weights if k.startswith("block") and k.endswith("weight"))
    weights[key] = weights[key].copy()
    weights[key].reshape(-1)[0] += 1.0
    save_file(weights, str(good / "weights.safetensors"))
    report = mmconvert.validate(EXAMPLE, good, per_layer=True, mode=mode)
    assert not report.passed and report.exit_code == 1
    assert report.first_divergent["node"] == "block.conv"


def test_pytorch_candidate_with_one_wrong_op_fails_at_that_node(tmp_path):
    pytest.importorskip("torch")
    good = tmp_path / "good"
    mmconvert.convert(EXAMPLE, good, to="pytorch", validate=False)
    code = (good / "model.py").read_text()
    assert "F.relu(block_conv)" in code
    (good / "model.py").write_text(code.replace("F.relu(block_conv)", "torch.sigmoid(block_conv)"))
    report = mmconvert.validate(EXAMPLE, good, per_layer=True)
    assert report.first_divergent["node"] == "block.relu"
    assert "sys.settrace" not in (good / "model.py").read_text()  # capture stays out of the emitted code


@pytest.mark.parametrize("path", C.light_models(), ids=lambda p: os.path.basename(p)[:-5])
def test_light_models_validate_as_pytorch_like_the_conformance_test(path, tmp_path):
    pytest.importorskip("torch")
    case = C.light_case(path)
    out = tmp_path / "pt"
    mmconvert.convert(path, out, to="pytorch", validate=False)
    report = mmconvert.validate(path, out, data=[case.data_sets[0][0]], atol=1e-4, rtol=1e-3)
    assert report.passed, report.summary()


# ---------------------------------------------------------------- exit codes
def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "mmconvert", *args], capture_output=True, text=True)


def test_validate_exit_codes(tmp_path):
    good = tmp_path / "good.onnx"
    mmconvert.convert(EXAMPLE, good, to="onnx", validate=False)
    assert _cli("validate", EXAMPLE, str(good)).returncode == 0
    not_artifact = tmp_path / "notes.txt"
    not_artifact.write_text("hello")
    r = _cli("validate", EXAMPLE, str(not_artifact))
    assert r.returncode == 2 and "not a candidate artifact" in r.stderr and "Traceback" not in r.stderr
    no_manifest = tmp_path / "some_model"
    no_manifest.mkdir()
    (no_manifest / "model.py").write_text("import torch\n")  # the kind is never guessed from the source text
    r = _cli("validate", EXAMPLE, str(no_manifest))
    assert r.returncode == 2 and "manifest.json does not name a target" in r.stderr and "--target" in r.stderr
    r = _cli("validate", EXAMPLE, str(good), "--isolated")
    assert r.returncode == 2 and "--per-layer" in r.stderr
    r = _cli("validate", EXAMPLE, str(good), "--dim", "batch")
    assert r.returncode == 2 and "NAME=VALUE" in r.stderr


def test_convert_exits_1_when_parity_fails(tmp_path):
    """convert validates by default and exits 1 on a mismatch (here: tolerances set to zero)."""
    r = _cli("convert", EXAMPLE, "--to", "onnx", "-o", str(tmp_path / "m.onnx"), "--atol", "0", "--rtol", "0")
    # ONNX -> ONNX is exact, so even zero tolerance passes ...
    assert r.returncode == 0, r.stderr
    pytest.importorskip("torch")
    # ... while PyTorch's float32 kernels differ from ONNX Runtime's in the last bits
    r = _cli("convert", EXAMPLE, "--to", "pytorch", "-o", str(tmp_path / "pt"), "--atol", "0", "--rtol", "0")
    assert r.returncode == 1 and "FAIL" in r.stdout
    assert (tmp_path / "pt" / "model.py").exists()  # the artifact is kept for inspection


def test_per_layer_applies_recorded_layouts_instead_of_guessing():
    from mmconvert.validators import localize

    g = ir.Graph("g")
    g.inputs, g.outputs = ["x"], ["y"]
    g.make_node("Relu", ["x"], ["y"], name="relu")
    ref = {"y": np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)}  # NCHW
    nhwc = {"y": ref["y"].transpose(0, 2, 3, 1).copy()}  # what an NHWC backend holds
    layers, first = localize.layers(g, ref, nhwc, 1e-4, 1e-3, layouts={"y": [0, 3, 1, 2]})
    assert first is None and layers[0].status == "pass" and layers[0].layout == "permute(0, 3, 1, 2)"
    layers, first = localize.layers(g, ref, nhwc, 1e-4, 1e-3)  # without the record: a mismatch, not a guess
    assert first["node"] == "relu"


def test_pytorch_runner_keeps_scalars_scalar(tmp_path):
    pytest.importorskip("torch")
    from mmconvert.validators.runners.torch_runner import Runner

    g = helper.make_graph([helper.make_node("Mul", ["x", "x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    res = mmconvert.convert(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "pt",
                            to="pytorch")
    assert res.parity.passed and res.parity.outputs[0].shape == []
    out = Runner(str(tmp_path / "pt")).run([np.array(3.0, np.float32)])[0]
    assert out.shape == () and out == 9.0
