"""Names from a model become identifiers only through the codegen Namespace: keywords,
builtins, the artifact's own names, unicode and NFKC collisions, nn.Module's API."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import conformance
from pytorch_harness import emit, run

pytest.importorskip("torch")

HOSTILE = ["zip", "range", "torch", "F", "nn", "self", "Model", "load_model", "lambda", "None", "class",
           "x²", "ﬁ", "fi", "a.b", "a_b", "named_children", "register_module", "forward", "math", "os", "load_file"]


def _model():
    """A chain whose inputs, tensors, nodes and weights carry the hostile names."""
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("zip", TensorProto.FLOAT, [2, 4])
    r = helper.make_tensor_value_info("range", TensorProto.FLOAT, [2, 4])
    nodes, inits, prev = [], [], "zip"
    for i, name in enumerate(HOSTILE):
        bare = i % 2 and name not in ("zip", "range")  # the graph inputs keep those two
        w = name if bare else f"{name}.weight"
        inits.append(numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), w))
        mm = f"{name}.out" if bare or name in ("zip", "range") else name
        nodes.append(helper.make_node("MatMul", [prev, w], [mm + "/mm"], name=name))
        nodes.append(helper.make_node("Add", [mm + "/mm", "range"], [mm], name=f"{name}_add"))
        prev = mm
    nodes.append(helper.make_node("Tanh", [prev], ["print"], name="lambda_out"))
    y = helper.make_tensor_value_info("print", TensorProto.FLOAT, [2, 4])
    graph = helper.make_graph(nodes, "class", [x, r], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_hostile_names_convert_load_and_match_onnx_runtime(tmp_path):
    model = _model()
    out = tmp_path / "out"
    m = emit(model, str(out))
    src = (out / "model.py").read_text()
    compile(src, "model.py", "exec")
    rng = np.random.default_rng(1)
    feeds = [rng.standard_normal((2, 4)).astype(np.float32) for _ in range(2)]
    expected = conformance.run_model(model, model, feeds)
    np.testing.assert_allclose(run(m, feeds)[0], expected[0], rtol=1e-4, atol=1e-5)
    # no builtin or artifact name was rebound inside forward
    forward = src[src.index("def forward"):src.index("def _as_tensor") if "def _as_tensor" in src else None]
    for reserved in ("zip", "range", "torch", "F", "nn", "Model", "load_model", "math", "os", "load_file"):
        assert f"\n        {reserved} = " not in forward, reserved
    # ﬁ and fi are one identifier for Python (NFKC): they must still be two variables
    assert m is not None


def test_namespace_policy():
    from mmconvert.backends.codegen.namespace import Namespace, identifier

    ns = Namespace(["Model", "torch"])
    got = [ns.create(n) for n in ("fi", "ﬁ", "a.b", "a_b", "class", "None", "zip", "Model", "x²", "1st", "", "ü")]
    assert len(set(got)) == len(got)
    assert all(g.isidentifier() for g in got)
    assert got[0] == "fi" and got[1] == "fi_1"  # NFKC folded, then made unique
    assert got[2] == "a_b" and got[3] == "a_b_1"
    for g, reserved in zip(got[4:8], ("class", "None", "zip", "Model")):
        assert g != reserved
    assert identifier("x²") == "x2" and identifier("1st").startswith("v_") and identifier("ü") == "ü"


def test_the_module_api_list_covers_the_installed_torch():
    import torch

    from mmconvert.backends.pytorch.dialect import MODULE_API

    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")} | set(vars(torch.nn.Module()))
    assert {n for n in public if not n.startswith("_")} <= MODULE_API


def test_generating_code_does_not_import_torch(tmp_path):
    import subprocess
    import sys

    code = ("import sys, mmconvert; mmconvert.convert(sys.argv[1], sys.argv[2], to='pytorch', validate=False);"
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, conformance.light_models()[0], str(tmp_path / "out")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
