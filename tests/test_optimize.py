"""`mmconvert optimize` and `mmconvert.optimize`: the file, the histogram, the pass records,
--passes/--skip, --check-passes naming a pass that changes an output, --dump-after, --simplify;
and the differential test on real models (outputs equal on ONNX Runtime at atol 1e-5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest

import conformance as C
from mmconvert import ir
import mmconvert
from mmconvert.backends import optimizer_passes
from mmconvert.ir import passes as P

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn.onnx")


def run(*args):
    return subprocess.run([sys.executable, "-m", "mmconvert", *args], capture_output=True, text=True)


def test_optimize_cli_writes_the_file_and_says_what_changed(tmp_path):
    out = tmp_path / "m.opt.onnx"
    r = run("optimize", EXAMPLE, "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "optimized" in r.stdout and "before" in r.stdout and "PASS" in r.stdout
    assert "fold_batchnorm" in r.stdout.split("passes that changed")[1].split("unchanged:")[0]
    onnx.checker.check_model(str(out), full_check=True)
    r = run("optimize", EXAMPLE, "-o", str(out), "--json")
    assert r.returncode == 2 and "--force" in r.stderr  # an existing output needs --force
    r = run("optimize", EXAMPLE, "-o", str(out), "--json", "--force", "--skip", "fold_batchnorm,fuse_gelu")
    summary = json.loads(r.stdout)
    assert r.returncode == 0 and summary["parity"]["status"] == "pass"
    assert summary["nodes_after"] <= summary["nodes_before"]
    assert "fold_batchnorm" not in [p["pass"] for p in summary["passes"]]


def test_optimize_cli_usage_errors(tmp_path):
    r = run("optimize", EXAMPLE, "-o", str(tmp_path / "m.onnx"), "--passes", "no_such_pass")
    assert r.returncode == 2 and "unknown pass 'no_such_pass'" in r.stderr
    r = run("optimize", EXAMPLE)
    assert r.returncode == 2 and "-o OUT" in r.stderr
    r = run("optimize", "--list-passes")
    assert r.returncode == 0 and "fuse_attention:" in r.stdout and "fuse_silu" in r.stdout


def test_optimize_only_the_named_passes_and_dump_after(tmp_path):
    out = tmp_path / "m.onnx"
    result = mmconvert.optimize(EXAMPLE, out, passes=["remove_noops", "fold_constants"], dump_after=["fold_constants"])
    assert [r.name for r in result.passes] == ["normalize", "remove_noops", "fold_constants"]
    dumped = result.details["dumps"]
    if dumped:  # written only when the pass changed something
        g = ir.load(dumped["fold_constants"])
        assert len(g) == sum(result.ops_after.values())


def test_check_passes_names_the_pass_that_changes_an_output(tmp_path, monkeypatch):
    def negate_relu(graph):
        """Wrong on purpose: Relu becomes Neg."""
        for node in graph.nodes:
            if node.op_type == "Relu":
                node.op_type = "Neg"
                return 1
        return 0

    monkeypatch.setitem(P._REGISTRY, "negate_relu", negate_relu)
    with pytest.raises(ir.ParityError, match="pass 'negate_relu' changed output"):
        mmconvert.optimize(EXAMPLE, tmp_path / "m.onnx", passes=["remove_noops", "negate_relu"], check_passes=True)
    assert not (tmp_path / "m.onnx").exists()
    result = mmconvert.optimize(EXAMPLE, tmp_path / "ok.onnx", check_passes=True)
    assert result.parity.exit_code == 0


def test_simplify_runs_onnxsim_or_says_how_to_install_it(tmp_path):
    try:
        import onnxsim  # noqa: F401
    except ImportError:
        r = run("optimize", EXAMPLE, "-o", str(tmp_path / "m.onnx"), "--simplify")
        assert r.returncode == 2 and "mmconvert[simplify]" in r.stderr
        return
    result = mmconvert.optimize(EXAMPLE, tmp_path / "m.onnx", simplify=True)
    assert result.passes[0].name == "onnxsim" and result.parity.exit_code == 0


def test_convert_optimize_to_onnx_runs_the_same_list(tmp_path):
    result = mmconvert.convert(EXAMPLE, tmp_path / "m.onnx", to="onnx", optimize=True)
    assert [r.name for r in result.passes][1:] == optimizer_passes("onnx")
    assert result.parity.exit_code == 0


# ---------------------------------------------------------------- real models
def _differential(path: str, tmp_path) -> dict:
    case = C.light_case(path)
    out = tmp_path / "opt.onnx"
    result = mmconvert.optimize(path, out, validate=False)
    model = onnx.load(str(out))
    inputs, expected = case.data_sets[0]
    reference = C.run_model(case.model, case.model, inputs)
    got = C.run_model(str(out), model, inputs)
    for g, r in zip(got, reference):
        np.testing.assert_allclose(g, r, atol=1e-5, rtol=1e-5)
    assert [o.name for o in model.graph.output] == [o.name for o in case.model.graph.output]
    return result


@pytest.mark.parametrize("name", ["light_squeezenet", "light_inception_v2"])
def test_light_models_optimize_to_the_same_outputs(name, tmp_path):
    result = _differential(os.path.join(C.light_dir(), f"{name}.onnx"), tmp_path)
    before, after = sum(result.ops_before.values()), sum(result.ops_after.values())
    assert after < before
    assert "BatchNormalization" not in result.ops_after or name != "light_inception_v2"


@pytest.mark.slow
@pytest.mark.parametrize("path", C.light_models(), ids=lambda p: os.path.basename(p)[:-5])
def test_every_light_model_optimizes_to_the_same_outputs(path, tmp_path):
    _differential(path, tmp_path)


def test_pytorch_writes_the_fused_ops_as_the_calls_a_person_would(tmp_path):
    pytest.importorskip("torch")
    import sys as _sys

    _sys.path.insert(0, os.path.join(ROOT, "tests"))
    from test_optimizer_passes import NORM_CONSTS, _layer_norm_nodes, init, vi
    from onnx import helper as h

    b, heads, s, d = 2, 2, 4, 8
    nodes = [h.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]), h.make_node("MatMul", ["q", "kt"], ["sc"]),
             h.make_node("Mul", ["sc", "scale"], ["scaled"]), h.make_node("Add", ["scaled", "mask"], ["m"]),
             h.make_node("Softmax", ["m"], ["p"], axis=-1), h.make_node("MatMul", ["p", "v"], ["att"])]
    nodes += _layer_norm_nodes("att", "ln")
    nodes += [h.make_node("Pow", ["ln", "two"], ["ln_sq"]), h.make_node("ReduceMean", ["ln_sq", "axes"], ["ms"]),
              h.make_node("Add", ["ms", "eps"], ["ms_eps"]), h.make_node("Sqrt", ["ms_eps"], ["rms"]),
              h.make_node("Div", ["ln", "rms"], ["rn"]), h.make_node("Mul", ["rn", "gamma"], ["y"])]
    model = h.make_model(h.make_graph(
        nodes, "g", [vi(n, [b, heads, s, d]) for n in "qkv"] + [vi("mask", [b, 1, s, s])], [vi("y", [b, heads, s, d])],
        NORM_CONSTS + [init("scale", np.float32(0.3))]), opset_imports=[onnx.helper.make_opsetid("", 18)])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    result = mmconvert.convert(str(path), tmp_path / "pt", to="pytorch", optimize=True)
    assert result.parity.exit_code == 0
    assert {"Attention", "LayerNormalization", "RMSNormalization"} <= set(result.ops_after)
    src = (tmp_path / "pt" / "model.py").read_text()
    assert "F.scaled_dot_product_attention(" in src and "attn_mask=" in src and "scale=0.3" in src
    assert "nn.LayerNorm(8" in src and "F.rms_norm(" in src


def _bench_models():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import optimize_models

    return optimize_models


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bert", "bert_torchscript", "t5_encoder", "gpt2", "llama", "vit", "resnet", "convnext",
                                  "mobilenet_v2", "keras_resnet50", "keras_mobilenet_v2", "keras_efficientnet_b0"])
def test_exported_models_optimize_to_the_same_outputs(name, tmp_path):
    """torch.onnx and tf2onnx exports (built once, cached under benchmarks/_work/optimize/):
    fewer nodes, the same outputs at atol 1e-5, and the PyTorch code from the optimized graph
    matches too."""
    path = _bench_models().build(name)
    if path is None:
        pytest.skip(f"{name} could not be exported here")
    result = mmconvert.optimize(path, tmp_path / "opt.onnx", atol=1e-5, rtol=1e-5)
    assert result.parity.exit_code == 0, result.parity.summary()
    assert sum(result.ops_after.values()) <= sum(result.ops_before.values())


def test_dump_after_cli(tmp_path):
    out = tmp_path / "m.onnx"
    r = run("optimize", EXAMPLE, "-o", str(out), "--dump-after", "fold_batchnorm,fuse_gelu", "--no-validate")
    assert r.returncode == 0, r.stderr
    assert f"IR after fold_batchnorm: {out}.after-fold_batchnorm" in r.stdout
    assert "fuse_gelu changed nothing" in r.stdout
    g = ir.load(f"{out}.after-fold_batchnorm")
    assert "BatchNormalization" not in g.op_histogram()
    r = run("optimize", EXAMPLE, "-o", str(tmp_path / "n2.onnx"), "--dump-after", "no_such_pass")
    assert r.returncode == 2 and "unknown pass" in r.stderr


def _nchw_relu_between_transposes():
    """x (NHWC) -> Transpose to NCHW -> Relu -> + per-channel bias -> Transpose back: one pair."""
    h, T = onnx.helper, onnx.TensorProto
    bias = onnx.numpy_helper.from_array(np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1), "bias")
    nodes = [h.make_node("Transpose", ["x"], ["t1"], perm=[0, 3, 1, 2], name="t1"),
             h.make_node("Relu", ["t1"], ["r"], name="r"), h.make_node("Add", ["r", "bias"], ["a"], name="a"),
             h.make_node("Transpose", ["a"], ["y"], perm=[0, 2, 3, 1], name="t2")]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 4, 4, 3])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, 4, 4, 3])], [bias])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 18)])


def test_cancelling_pairs_finds_a_pair_and_the_optimizer_removes_it(tmp_path):
    from mmconvert.ir.passes.transpose import cancelling_pairs

    path = tmp_path / "m.onnx"
    onnx.save(_nchw_relu_between_transposes(), str(path))
    assert cancelling_pairs(mmconvert.load(str(path))) == [("t1", "t2")]
    result = mmconvert.optimize(str(path), tmp_path / "opt.onnx")
    assert result.parity.exit_code == 0
    assert cancelling_pairs(result.graph) == [] and "Transpose" not in result.ops_after


@pytest.mark.slow
@pytest.mark.parametrize("name,to", [("keras_resnet50", "pytorch"), ("resnet", "tensorflow")])
def test_emitted_code_holds_no_cancelling_transposes(name, to, tmp_path):
    """The PyTorch code from a tf2onnx-exported keras ResNet50 and the TensorFlow code from a
    torch.onnx-exported ResNet: no pair of Transposes that undo each other is left, and the
    code still matches the source."""
    from mmconvert.ir.passes.transpose import cancelling_pairs

    path = _bench_models().build(name)
    if path is None:
        pytest.skip(f"{name} could not be exported here")
    result = mmconvert.convert(path, tmp_path / "out", to=to)
    assert result.parity.exit_code == 0, result.parity.summary()
    emitted = result.graph
    if to == "tensorflow":
        from mmconvert.backends.tensorflow import prepare

        emitted = prepare(result.graph)
    assert cancelling_pairs(emitted) == []
    assert emitted.op_histogram().get("Transpose", 0) <= 2  # at most one in (the input) and one out
