"""Real models through the TensorFlow backend, against ONNX Runtime at atol 1e-4.

- the 9 light ONNX zoo models (default run), and their SavedModel and float32 TFLite
  exports (``-m slow``: the TFLite converter takes a while);
- real architectures: ``transformers`` models exported with torch.onnx and
  ``keras.applications`` models exported with tf2onnx; a few run by default, the others
  and every export under ``-m slow``;
- the layout contract: no transpose between the first convolution and the final
  pooling in the emitted code of light_resnet50 and of Keras' MobileNetV2.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest

import conformance
from tf_harness import emit

pytest.importorskip("tensorflow")

ATOL, RTOL = 1e-4, 1e-3
LIGHT = conformance.light_models()


def _ids(paths):
    return [os.path.basename(p)[:-5] for p in paths]


def test_all_light_models_present():
    assert len(LIGHT) == 9


def _ill_conditioned_softmax(model, inputs):
    """The model cut before its final Softmax, when that Softmax is ill-conditioned: its logits
    are so large that one float32 step of them moves the output by more than the tolerance
    (the light files' constant weights give squeezenet logits of 1.6e10, where any other
    summation order turns the uniform 0.001 into a one-hot); else None."""
    import copy

    import onnx

    last = model.graph.node[-1]
    if last.op_type != "Softmax" or last.output[0] != model.graph.output[0].name:
        return None
    cut = copy.deepcopy(model)
    cut.graph.node.pop()
    del cut.graph.output[:]
    cut.graph.output.append(onnx.ValueInfoProto(name=last.input[0]))
    sess = conformance.session(cut)
    logits = sess.run(None, dict(zip(conformance.feed_names(cut), inputs)))[0]
    return (cut, logits) if np.abs(logits).max() * np.finfo(np.float32).eps > ATOL else None


@pytest.mark.parametrize("path", LIGHT, ids=_ids(LIGHT))
def test_light_model(path, tmp_path):
    case = conformance.light_case(path)
    inputs, expected = case.data_sets[0]
    cut = _ill_conditioned_softmax(case.model, list(inputs))
    if cut is not None:  # the conv stack is checked on the logits, relative to their size
        model, logits = cut
        got = emit(model, str(tmp_path / "out")).run(list(inputs))
        np.testing.assert_allclose(got[0], logits, rtol=RTOL, atol=ATOL)
        return
    runner = emit(path, str(tmp_path / "out"))
    got = runner.run(list(inputs))
    assert got[0].shape == expected[0].shape
    np.testing.assert_allclose(got[0], expected[0], rtol=RTOL, atol=ATOL)


def _convert_with_exports(source, folder, **options):
    import mmconvert

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mmconvert.convert(source, folder, to="tensorflow", saved_model=True, tflite=True, atol=ATOL,
                                 rtol=RTOL, **options)


def _assert_all_match(result):
    assert result.parity.status == "pass", result.parity.summary()
    assert set(result.exports) == {"saved_model", "tflite"}
    for kind, report in result.exports.items():
        assert report.status == "pass", (kind, report.summary())


@pytest.mark.slow
@pytest.mark.parametrize("path", LIGHT, ids=_ids(LIGHT))
def test_light_model_exports(path, tmp_path):
    _assert_all_match(_convert_with_exports(path, str(tmp_path / "out")))


def _call_body(folder) -> list[str]:
    src = open(os.path.join(folder, "model.py")).read()
    return src[src.index("def __call__"):].splitlines()


def assert_no_transpose_inside(folder):
    """No tf.transpose between the first convolution and the last pooling of ``__call__``."""
    lines = _call_body(folder)
    first = next(i for i, ln in enumerate(lines) if re.search(r"tf\.nn\.(depthwise_)?conv", ln))
    last = max(i for i, ln in enumerate(lines) if re.search(r"(avg|max)_pool|reduce_mean\(", ln))
    inside = [ln.strip() for ln in lines[first:last] if "tf.transpose(" in ln]
    assert first < last and not inside, inside


def test_light_resnet50_runs_channels_last(tmp_path):
    path = next(p for p in LIGHT if p.endswith("light_resnet50.onnx"))
    emit(path, str(tmp_path / "out"))
    assert_no_transpose_inside(str(tmp_path / "out"))
    manifest = __import__("json").load(open(tmp_path / "out" / "manifest.json"))
    assert manifest["layouts"], "the channels-last tensors are recorded for per-layer parity"


# ----------------------------------------------------------------- real architectures
T_DEFAULT = ("bert", "gpt2", "vit", "resnet")
T_ALL = ("bert", "gpt2", "roberta", "distilbert", "albert", "electra", "mobilebert", "t5_encoder", "llama", "vit",
         "resnet", "convnext", "swin")
K_DEFAULT = ("MobileNetV2",)


def _marks(name, default):
    return [] if name in default else [pytest.mark.slow]


def _check_close(got, ref):
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL)
    # random-init Keras models can have tiny logits: hold the error to their scale too
    assert np.abs(got - ref).max() <= RTOL * np.abs(ref).max() + 1e-30


def _transformer_onnx(name, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from real_models import build, export_onnx

    module, example = build(name)
    path = str(tmp_path / f"{name}.onnx")
    export_onnx(module, example, path)
    return path, example.numpy()


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n, T_DEFAULT)) for n in T_ALL])
def test_transformer(name, tmp_path):
    import onnx

    path, x = _transformer_onnx(name, tmp_path)
    runner = emit(path, str(tmp_path / "tf"))
    ref = conformance.run_model(path, onnx.load(path), [x])[0]
    _check_close(runner.run([x])[0], ref)


@pytest.mark.slow
@pytest.mark.parametrize("name", T_ALL)
def test_transformer_exports(name, tmp_path):
    path, _ = _transformer_onnx(name, tmp_path)
    _assert_all_match(_convert_with_exports(path, str(tmp_path / "tf")))


def _keras_onnx(name, tmp_path):
    pytest.importorskip("tf2onnx")
    from real_models import keras_model, keras_to_onnx

    model = keras_model(name)
    path = keras_to_onnx(model, str(tmp_path / f"{name}.onnx"))
    x = np.random.default_rng(0).standard_normal((2, *model.input_shape[1:])).astype(np.float32)
    return model, path, x


def _keras_all():
    from real_models import KERAS

    return KERAS


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n, K_DEFAULT)) for n in _keras_all()])
def test_keras_application(name, tmp_path):
    import onnx

    model, path, x = _keras_onnx(name, tmp_path)
    runner = emit(path, str(tmp_path / "tf"))
    ref = conformance.run_model(path, onnx.load(path), [x])[0]
    _check_close(runner.run([x])[0], ref)
    _check_close(runner.run([x])[0], model(x).numpy())  # and the Keras model itself
    if name == "MobileNetV2":
        assert_no_transpose_inside(str(tmp_path / "tf"))
        assert "tf.transpose(" not in "\n".join(_call_body(str(tmp_path / "tf")))  # NHWC in, NHWC inside


@pytest.mark.slow
@pytest.mark.parametrize("name", _keras_all())
def test_keras_application_exports(name, tmp_path):
    _, path, _ = _keras_onnx(name, tmp_path)
    _assert_all_match(_convert_with_exports(path, str(tmp_path / "tf")))


def test_transformer_with_dynamic_batch_and_sequence(tmp_path):
    """BERT exported with a symbolic batch and sequence: one trace serves every size."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import onnx

    from real_models import build, export_onnx

    module, example = build("bert")
    path = str(tmp_path / "bert.onnx")
    export_onnx(module, example, path, ({0: torch.export.Dim("batch", max=32), 1: torch.export.Dim("seq", max=63)},))
    runner = emit(path, str(tmp_path / "tf"))
    src = open(tmp_path / "tf" / "model.py").read()
    assert "tf.TensorSpec([None, None], tf.int64)" in src
    proto = onnx.load(path)
    for shape in ((2, 8), (3, 5)):
        x = np.random.default_rng(sum(shape)).integers(0, 100, shape)
        _check_close(runner.run([x])[0], conformance.run_model(path, proto, [x])[0])
