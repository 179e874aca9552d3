"""PyTorch frontend: sources, names, dynamic dims, the module as the parity reference, the
torch.onnx route, errors and the CLI (small modules; real architectures are in
``test_frontend_pytorch_models.py``)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import mmconvert  # noqa: E402
from mmconvert.frontends import detect  # noqa: E402
from mmconvert.ir.errors import InputError, UnsupportedError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = torch.nn.Conv2d(c, c, 3, padding=1)
        self.norm = torch.nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x))) + x


class Net(torch.nn.Module):
    """Convolutions in a ModuleList, a LayerNorm, a Linear head and a plain parameter."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.blocks = torch.nn.ModuleList([Block(8), Block(8)])
        self.norm = torch.nn.LayerNorm(8)
        self.head = torch.nn.Linear(8, 5)
        self.scale = torch.nn.Parameter(torch.rand(5) + 0.5)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x.mean(dim=(2, 3)))
        return self.head(x) * self.scale


def net():
    torch.manual_seed(0)
    model = Net().eval()
    with torch.no_grad():
        for b in model.blocks:
            b.norm.running_mean.normal_()
            b.norm.running_var.uniform_(0.5, 1.5)
    return model


def load_emitted(folder):
    spec = importlib.util.spec_from_file_location(f"_emitted_{abs(hash(folder))}", os.path.join(folder, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_model()


X = torch.randn(2, 3, 16, 16)


# ------------------------------------------------------------------ detection and sources
def test_detects_modules_programs_files_and_specs(tmp_path):
    model = net()
    assert detect(model) == "pytorch"
    program = torch.export.export(model, (X,))
    assert detect(program) == "pytorch"
    torch.export.save(program, str(tmp_path / "m.pt2"))
    assert detect(str(tmp_path / "m.pt2")) == "pytorch"
    assert detect("mypackage.models:make_model") == "pytorch"  # a factory spec, not a path
    with pytest.raises(InputError, match="no such file"):
        detect(str(tmp_path / "missing.onnx"))


def test_pickled_module_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(net(), str(path))
    with pytest.raises(InputError, match="unpickling runs code"):
        mmconvert.load(str(path))


# ------------------------------------------------------------------ names
def test_names_come_from_the_module():
    model = net()
    graph = mmconvert.load(model, example_inputs=(X,))
    params = [n for n, _ in model.named_parameters()]
    assert set(params) <= set(graph.initializers)  # every parameter under its own dotted path
    names = {n.name for n in graph.nodes}
    # the node computing a module's result is named after the module
    assert {"stem", "blocks.0.conv", "blocks.1.norm", "norm", "head"} <= names
    assert graph.metadata["pytorch_route"]["path"] == "native"
    assert graph.metadata["source_format"] == "pytorch"
    scopes = graph.node("blocks.0.conv").metadata["pkg.torch.onnx.name_scopes"]
    assert "'blocks.0'" in scopes and "'blocks.0.conv'" in scopes


def test_emitted_pytorch_takes_the_original_state_dict(tmp_path):
    model = net()
    result = mmconvert.convert(model, str(tmp_path / "pt"), to="pytorch", example_inputs=(X,))
    assert result.parity.status == "pass" and result.parity.reference_runner == "pytorch"
    emitted = load_emitted(str(tmp_path / "pt"))
    assert set(emitted.state_dict()) == set(model.state_dict())
    emitted.load_state_dict(model.state_dict(), strict=True)
    src = (tmp_path / "pt" / "model.py").read_text()
    assert "self.blocks = nn.ModuleList(nn.Module() for _ in range(2))" in src
    assert "self.blocks[0].conv = nn.Conv2d(" in src and "self.head = nn.Linear(8, 5)" in src
    assert "self.scale = nn.Parameter(" in src
    with torch.no_grad():
        np.testing.assert_allclose(emitted(X).numpy(), model(X).numpy(), rtol=1e-5, atol=1e-5)


def test_onnx_initializers_keep_the_dotted_names(tmp_path):
    import onnx

    model = net()
    mmconvert.convert(model, str(tmp_path / "m.onnx"), to="onnx", example_inputs=(X,))
    proto = onnx.load(str(tmp_path / "m.onnx"))
    inits = {i.name for i in proto.graph.initializer}
    assert {n for n, _ in model.named_parameters()} <= inits
    assert "head" in {n.name for n in proto.graph.node}


def test_tied_parameters_keep_both_names(tmp_path):
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(20, 8)
            self.out = torch.nn.Linear(8, 20, bias=False)
            self.out.weight = self.embed.weight

        def forward(self, ids):
            return self.out(self.embed(ids))

    torch.manual_seed(0)
    model = Tied().eval()
    ids = torch.randint(0, 20, (2, 5))
    result = mmconvert.convert(model, str(tmp_path / "pt"), to="pytorch", example_inputs=(ids,))
    assert result.parity.status == "pass"
    assert "embed.weight" in result.graph.initializers  # the name named_parameters() gives
    emitted = load_emitted(str(tmp_path / "pt"))
    emitted.load_state_dict(model.state_dict(), strict=True)


# ------------------------------------------------------------------ dynamic dims
def test_dynamic_dims_stay_symbolic_in_every_target(tmp_path):
    import onnxruntime as ort

    model = net()
    for to, out in (("onnx", tmp_path / "m.onnx"), ("pytorch", tmp_path / "pt")):
        result = mmconvert.convert(model, str(out), to=to, example_inputs=(X,),
                                   dynamic_shapes={"x": {0: "batch", 2: "height", 3: "width"}})
        assert str(result.graph.type_of("x")) == "float32[batch, 3, height, width]"
        assert str(result.graph.type_of(result.graph.outputs[0])) == "float32[batch, 5]"
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    emitted = load_emitted(str(tmp_path / "pt"))
    for shape in ((3, 3, 20, 12), (1, 3, 8, 8)):
        x = torch.randn(*shape)
        with torch.no_grad():
            ref = model(x).numpy()
            np.testing.assert_allclose(emitted(x).numpy(), ref, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(sess.run(None, {"x": x.numpy()})[0], ref, rtol=1e-4, atol=1e-5)


def test_example_dim_of_one_on_a_dynamic_axis_warns_and_stays_dynamic():
    with pytest.warns(UserWarning, match="example size is 1"):
        graph = mmconvert.load(net(), example_inputs=(X[:1],), dynamic_shapes={"x": {0: "batch"}})
    assert graph.type_of("x").shape[0] == "batch"


def test_torch_export_dynamic_shapes_are_passed_through():
    batch = torch.export.Dim("batch")
    graph = mmconvert.load(net(), example_inputs=(X,), dynamic_shapes=({0: batch},))
    assert graph.type_of("x").shape[0] == "batch"


# ------------------------------------------------------------------ other sources
def test_exported_program_and_pt2_file(tmp_path):
    model = net()
    program = torch.export.export(model, (X,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    path = str(tmp_path / "m.pt2")
    torch.export.save(program, path)
    for source in (program, path):
        result = mmconvert.convert(source, str(tmp_path / f"pt_{type(source).__name__}"), to="pytorch",
                                   dynamic_shapes={"x": {0: "batch"}})
        assert result.parity.status == "pass"
        assert result.graph.type_of("x").shape[0] == "batch"  # named by dynamic_shapes (a .pt2 keeps no names)
    assert path in mmconvert.load(path).source_files


def test_torchscript_file_goes_through_torch_onnx(tmp_path):
    model = net()
    path = str(tmp_path / "m.pt")
    torch.jit.save(torch.jit.script(model), path)
    result = mmconvert.convert(path, str(tmp_path / "pt"), to="pytorch", input_shapes={"x": [2, 3, 16, 16]})
    assert result.parity.status == "pass"
    route = result.graph.metadata["pytorch_route"]
    assert route["path"] in ("native", "torch.onnx.export(dynamo=False), the TorchScript exporter")
    assert {n for n, _ in model.named_parameters()} <= set(result.graph.initializers)
    load_emitted(str(tmp_path / "pt")).load_state_dict(model.state_dict(), strict=True)


# ------------------------------------------------------------------ the torch.onnx route
class WithTopK(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(8, 8)
        self.norm = torch.nn.LayerNorm(8)

    def forward(self, x):
        return torch.topk(self.norm(self.proj(x)), 3, dim=-1).values


@pytest.mark.parametrize("capture", ["auto", "dynamo", "torchscript"])
def test_torch_onnx_route_keeps_names(capture, tmp_path):
    torch.manual_seed(0)
    model = WithTopK().eval()
    x = torch.randn(2, 4, 8)
    result = mmconvert.convert(model, str(tmp_path / "pt"), to="pytorch", example_inputs=(x,), capture=capture)
    assert result.parity.status == "pass"
    route = result.graph.metadata["pytorch_route"]
    assert route["path"].startswith("torch.onnx.export")
    if capture == "auto":  # an op without a native mapping: the route says which and why
        assert "aten.topk" in route["reason"]
    # no merged or pre-transposed weights: every parameter keeps its name, in ONNX and in PyTorch
    assert {"proj.weight", "proj.bias", "norm.weight", "norm.bias"} <= set(result.graph.initializers)
    assert "proj" in {n.name for n in result.graph.nodes}
    emitted = load_emitted(str(tmp_path / "pt"))
    emitted.load_state_dict(model.state_dict(), strict=True)
    assert "nn.Linear(8, 8)" in (tmp_path / "pt" / "model.py").read_text()


def test_native_route_can_be_required():
    with pytest.raises(UnsupportedError, match="aten.topk"):
        mmconvert.load(WithTopK().eval(), example_inputs=(torch.randn(2, 8),), capture="native")


# ------------------------------------------------------------------ errors
class Branchy(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x - 1


def test_data_dependent_control_flow_is_unsupported_with_a_hint():
    with pytest.raises(UnsupportedError, match="data-dependent control flow") as e:
        mmconvert.load(Branchy(), example_inputs=(torch.randn(2, 3),))
    assert e.value.exit_code == 3 and "torch.cond" in e.value.hint and "\n" not in e.value.message


def test_inputs_that_do_not_fit_forward():
    with pytest.raises(InputError, match="do not match forward"):
        mmconvert.load(net(), example_inputs=(X, X))
    with pytest.raises(InputError, match="fails on the example inputs.*channels"):
        mmconvert.load(net(), example_inputs=(torch.randn(2, 4, 16, 16),))
    with pytest.raises(InputError, match="needs example inputs"):
        mmconvert.load(net())
    with pytest.raises(InputError, match="no input named 'y'"):
        mmconvert.load(net(), input_shapes={"y": [2, 3, 16, 16]})


# ------------------------------------------------------------------ per layer
def test_per_layer_reference_values_come_from_module_hooks(tmp_path):
    model = net()
    mmconvert.convert(model, str(tmp_path / "pt"), to="pytorch", example_inputs=(X,), validate=False)
    report = mmconvert.validate(model, str(tmp_path / "pt"), example_inputs=(X,), per_layer=True)
    assert report.status == "pass" and report.first_divergent is None
    compared = {layer.tensor for layer in report.layers if layer.status == "pass"}
    assert {"stem", "blocks.0.conv", "head"} <= compared


# ------------------------------------------------------------------ CLI
FACTORY = textwrap.dedent('''
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(50, 16)
            self.layer = torch.nn.Linear(16, 16)

        def forward(self, input_ids):
            return self.layer(self.embed(input_ids)).relu()

    def make():
        torch.manual_seed(0)
        return Tiny().eval()

    def broken():
        raise RuntimeError("weights are missing")
''')


def _cli(tmp_path, *args):
    pkg = tmp_path / "userpkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(FACTORY)
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "mmconvert", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


def test_cli_converts_a_factory_with_dynamic_dims(tmp_path):
    r = _cli(tmp_path, "convert", "userpkg.models:make", "--to", "onnx", "-o", "tiny.onnx", "--input-shape",
             "input_ids:2,7", "--input-dtype", "input_ids:int64", "--dynamic", "input_ids:0=batch,1=seq")
    assert r.returncode == 0, r.stderr
    assert "route: native ATen mapping" in r.stdout and "run by torch" in r.stdout
    import onnx

    proto = onnx.load(str(tmp_path / "tiny.onnx"))
    dims = [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "seq"]
    assert {"embed.weight", "layer.weight", "layer.bias"} <= {i.name for i in proto.graph.initializer}


@pytest.mark.parametrize("args, code, text", [
    (["userpkg.models:broken", "--input-shape", "input_ids:2,7"], 2, "the factory raised RuntimeError: weights are missing"),
    (["userpkg.models:make"], 2, "needs example inputs"),
    (["userpkg.models:make", "--input-shape", "ids:2,7"], 2, "no input named 'ids'"),
    (["userpkg.nothere:make", "--input-shape", "input_ids:2,7"], 2, "no module named 'userpkg.nothere'"),
    (["userpkg.models:make", "--input-shape", "input_ids:2,7", "--dynamic", "input_ids:batch"], 2, "NAME:AXIS=DIM"),
])
def test_cli_errors_are_one_line_with_an_exit_code(tmp_path, args, code, text):
    r = _cli(tmp_path, "convert", *args, "--to", "onnx", "-o", "x.onnx")
    assert r.returncode == code, r.stderr
    assert text in r.stderr and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.startswith("error")]) == 1
    assert not (tmp_path / "x.onnx").exists()


def test_warnings_do_not_leak_from_a_clean_conversion(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mmconvert.convert(net(), str(tmp_path / "m.onnx"), to="onnx", example_inputs=(X,))
    assert not [w for w in caught if "mmconvert" in str(w.filename) or "frontends" in str(w.filename)]
