"""Real architectures through the PyTorch frontend (``tests/pytorch_zoo.py``: 16 models from
``transformers`` configs, random weights, nothing downloaded): module -> ONNX and module ->
PyTorch, each checked against the module itself at atol 1e-4; parameter names kept in the
ONNX initializers and the emitted ``state_dict``; the original state dict loads with
``strict=True``; BERT and ViT with dynamic batch/sequence at two other sizes.

The whole file takes about a minute on 2 cores.  The TensorFlow target is a follow-up:
its test skips until ``--to tensorflow`` exists.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import mmconvert  # noqa: E402
import pytorch_zoo as Z  # noqa: E402

ATOL = 1e-4


def _emitted(folder: str):
    spec = importlib.util.spec_from_file_location(f"_zoo_{abs(hash(folder))}", os.path.join(folder, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_model()


def _names_kept(params: list[str], names: set[str]) -> float:
    return sum(p in names for p in params) / len(params)


@pytest.mark.parametrize("name", Z.NAMES)
def test_architecture(name, tmp_path):
    import onnx

    model, example, _, _ = Z.build(name)
    params = [n for n, _ in model.named_parameters()]
    for to, out in (("onnx", tmp_path / "m.onnx"), ("pytorch", tmp_path / "pt")):
        result = mmconvert.convert(model, str(out), to=to, example_inputs=example, atol=ATOL)
        assert result.parity.reference_runner == "pytorch"  # the module itself ran the reference
        assert result.parity.status == "pass", result.parity.summary()
        assert result.parity.summary()["max_abs"] <= ATOL
        assert result.graph.metadata["pytorch_route"]["path"] == "native"
    inits = {i.name for i in onnx.load(str(tmp_path / "m.onnx")).graph.initializer}
    assert _names_kept(params, inits) >= 0.95
    emitted = _emitted(str(tmp_path / "pt"))
    assert _names_kept(params, set(emitted.state_dict())) >= 0.95
    emitted.load_state_dict(model.state_dict(), strict=True)


@pytest.mark.parametrize("name", ["bert", "vit"])
def test_dynamic_batch_and_sequence_at_other_sizes(name, tmp_path):
    import onnxruntime as ort

    model, example, dynamic, make = Z.build(name)
    mmconvert.convert(model, str(tmp_path / "m.onnx"), to="onnx", example_inputs=example, dynamic_shapes=dynamic)
    result = mmconvert.convert(model, str(tmp_path / "pt"), to="pytorch", example_inputs=example,
                               dynamic_shapes=dynamic)
    for input_name, dims in dynamic.items():
        for axis, label in dims.items():
            assert result.graph.type_of(input_name).shape[axis] == label
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    emitted = _emitted(str(tmp_path / "pt"))
    src = (tmp_path / "pt" / "model.py").read_text()
    assert "reshape(2," not in src and "expand(2," not in src  # no example size baked in
    for batch, seq in ((3, 5), (1, 13)):
        feeds = make(batch, seq)
        with torch.no_grad():
            ref = [t.numpy() for t in Z.flat_outputs(model(**feeds))]
            got_pt = [t.numpy() for t in Z.flat_outputs(emitted(*feeds.values()))]
        got_onnx = sess.run(None, {k: v.numpy() for k, v in feeds.items()})
        for r, a, b in zip(ref, got_onnx, got_pt):
            assert r.shape == a.shape == b.shape and r.shape[0] == batch
            np.testing.assert_allclose(a, r, rtol=1e-3, atol=ATOL)
            np.testing.assert_allclose(b, r, rtol=1e-3, atol=ATOL)


def _tensorflow_target(name, tmp_path):
    """PyTorch module -> TensorFlow code: matches the module, and the parameters are the
    TensorFlow variables' names (a channels-last kernel carries a ``_hwio``-style suffix)."""
    pytest.importorskip("tensorflow")
    model, example, dynamic, make = Z.build(name)
    params = [n for n, _ in model.named_parameters()]
    result = mmconvert.convert(model, str(tmp_path / "tf"), to="tensorflow", example_inputs=example, atol=ATOL,
                               dynamic_shapes=dynamic)
    assert result.parity.status == "pass", result.parity.summary()
    emitted = _emitted(str(tmp_path / "tf"))
    variables = {v.name.split(":")[0] for v in emitted.variables}
    assert _names_kept(params, variables) >= 0.95
    return model, emitted, dynamic, make


@pytest.mark.parametrize("name", ["bert", "vit"])
def test_tensorflow_target_with_dynamic_batch_and_sequence(name, tmp_path):
    """BERT and ViT to TensorFlow with dynamic dims, run at two other sizes."""
    model, emitted, _, make = _tensorflow_target(name, tmp_path)
    for batch, seq in ((3, 5), (1, 13)):
        feeds = make(batch, seq)
        with torch.no_grad():
            ref = [t.numpy() for t in Z.flat_outputs(model(**feeds))]
        out = emitted(*[v.numpy() for v in feeds.values()])
        got = [np.asarray(t) for t in (out if isinstance(out, (list, tuple)) else [out])]
        for r, g in zip(ref, got):
            assert r.shape == g.shape and r.shape[0] == batch
            np.testing.assert_allclose(g, r, rtol=1e-3, atol=ATOL)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in Z.NAMES if n not in ("bert", "vit")])
def test_tensorflow_target_all_architectures(name, tmp_path):
    _tensorflow_target(name, tmp_path)
