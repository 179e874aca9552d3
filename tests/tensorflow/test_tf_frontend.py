"""TensorFlow / Keras frontend: sources, names, layout, parity against the source itself.

The default set converts the small models built in ``keras_models`` and one
keras.applications model per check; the full keras.applications set is ``-m slow`` (and
``benchmarks/bench_tf_frontend.py``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("tf2onnx")

import keras_models  # noqa: E402 - tests/tensorflow is on the path (conftest)

import mmconvert  # noqa: E402
from mmconvert.frontends import detect  # noqa: E402
from mmconvert.ir.errors import InputError, UnsupportedError  # noqa: E402

ATOL = 1e-4
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _onnx_outputs(path, inputs):
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip([i.name for i in sess.get_inputs()], inputs)))


def _keras_outputs(model, inputs):
    out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    return [np.asarray(t) for t in keras.tree.flatten(out)]


def _torch_outputs(folder, inputs):
    from mmconvert.validators.runners.torch_runner import Runner

    return Runner(folder).run(inputs)


def _tf_outputs(folder, inputs):
    from mmconvert.validators.runners.tf_runner import Runner

    return Runner(folder).run(inputs)


def _check(model, out, to):
    """Convert ``model`` (validated against the Keras model itself), then compare the artifact
    with the Keras model on our own inputs; returns the result."""
    result = mmconvert.convert(model, str(out), to=to, atol=ATOL)
    assert result.parity.status == "pass", result.parity.summary()
    assert result.parity.reference_runner == "tensorflow"
    inputs = keras_models.sample_inputs(model, batch=3, seed=1)
    want = _keras_outputs(model, inputs)
    got = {"onnx": _onnx_outputs, "pytorch": _torch_outputs, "tensorflow": _tf_outputs}[to](str(out), inputs)
    assert len(got) == len(want)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, atol=ATOL, rtol=1e-3)
    layer, full = keras_models.names_surviving(model, keras_models.artifact_weight_names(str(out)))
    assert layer >= 0.95, f"only {layer:.0%} of the Keras weights are stored under their layer's name"
    return result


# ------------------------------------------------------------------ detection
def test_detect_by_content(tmp_path):
    model = keras_models.small_cnn()
    model.export(str(tmp_path / "saved"), verbose=False)
    model.save(str(tmp_path / "m.keras"))
    model.save(str(tmp_path / "m.h5"))
    for p in ("saved", "m.keras", "m.h5"):
        assert detect(str(tmp_path / p)) == "tensorflow"
    assert detect(model) == "tensorflow"
    renamed = tmp_path / "weights.bin"  # content, not suffix
    renamed.write_bytes((tmp_path / "m.keras").read_bytes())
    assert detect(str(renamed)) == "tensorflow"


def test_detect_does_not_import_tensorflow_for_other_files():
    code = ("import sys; from frontends import detect; print(detect('examples/tiny_cnn.onnx'));"
            " print('tensorflow' in sys.modules, 'tf2onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT), check=True).stdout.split()
    assert out == ["onnx", "False", "False"]


# ------------------------------------------------------------------ in-memory Keras models
@pytest.mark.parametrize("to", ["onnx", "pytorch", "tensorflow"])
@pytest.mark.parametrize("name", sorted(keras_models.SMALL))
def test_small_models(name, to, tmp_path):
    model = keras_models.SMALL[name]()
    out = tmp_path / ("m.onnx" if to == "onnx" else "m")
    result = _check(model, out, to)
    graph = result.graph
    # the TensorFlow target's channels-last kernels carry a layout suffix (conv/kernel_hwio);
    # _check has already found every weight under its layer's name in the artifact
    missing = [w.path for w in model.weights if w.path not in graph.initializers
               and not (to == "tensorflow" and any(n.startswith(w.path + "_") for n in graph.initializers))]
    assert not missing, f"weights not in the IR under their Keras names: {missing}"


def test_weights_and_nodes_keep_keras_names():
    from mmconvert.frontends.tensorflow import load

    model = keras_models.small_cnn()
    graph = load(model)
    assert {w.path for w in model.weights} <= set(graph.initializers)
    names = {n.name for n in graph.nodes}
    assert {"conv1_conv", "conv2", "dw", "fc", "fc/BiasAdd"} <= names
    everything = names | {t for n in graph.nodes for t in n.outputs} | set(graph.initializers)
    marks = ("ReadVariableOp", "PartitionedCall", ":0", "small_cnn_1")
    leftovers = [n for n in everything if any(s in n for s in marks) or n.rsplit("__", 1)[-1].isdigit()]
    assert not leftovers, leftovers
    assert graph.real_inputs == ["image"] and graph.outputs == ["fc"]
    assert graph.type_of("image").shape == ("batch", 32, 32, 3)
    assert graph.type_of("fc").shape == ("batch", 10)
    assert graph.metadata["source_format"] == "tensorflow"
    # the HWIO kernel is stored as the OIHW one Conv reads, under its own name
    assert graph.initializers["conv1_conv/kernel"].shape == (8, 3, 3, 3)
    np.testing.assert_array_equal(graph.initializers["conv1_conv/kernel"],
                                  np.transpose(model.get_layer("conv1_conv").kernel.numpy(), (3, 2, 0, 1)))


def test_batch_dim_stays_dynamic(tmp_path):
    model = keras_models.small_cnn()
    out = tmp_path / "m.onnx"
    mmconvert.convert(model, str(out), to="onnx", dims={"batch": 5})
    import onnx

    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"
    for batch in (1, 4):
        x = keras_models.sample_inputs(model, batch=batch)
        np.testing.assert_allclose(_onnx_outputs(str(out), x)[0], _keras_outputs(model, x)[0], atol=ATOL)


# ------------------------------------------------------------------ files: SavedModel, .keras, .h5
@pytest.fixture(scope="module")
def saved_sources(tmp_path_factory):
    model = keras_models.small_cnn()
    d = tmp_path_factory.mktemp("sources")
    model.export(str(d / "saved"), verbose=False)
    model.save(str(d / "m.keras"))
    model.save(str(d / "m.h5"))
    return model, d


def test_saved_model_node_names_are_keras_layer_names(saved_sources):
    _, d = saved_sources
    names = {n.name for n in mmconvert.load(str(d / "saved")).nodes}
    assert {"conv1_conv", "conv1_relu/Relu", "residual/Add", "pool/MaxPool2d", "gap/Mean", "fc"} <= names, names


def test_scope_cleaning_rules():
    from mmconvert.frontends.tensorflow.names import Renamer, learn_scopes

    scopes, suffixed = learn_scopes({"StatefulPartitionedCall/net_1/conv_1/convolution/ReadVariableOp": "conv/kernel",
                                     "StatefulPartitionedCall/net_1/inner_1/dense_1_2/MatMul/ReadVariableOp":
                                         "inner/dense_1/kernel"})
    assert scopes == {"net_1/conv_1": "conv", "net_1/inner_1/dense_1_2": "inner/dense_1", "net_1": ""} and suffixed
    r = Renamer(scopes, {"taken"}, keras_suffix=True)
    assert r.clean("StatefulPartitionedCall/net_1/conv_1/BiasAdd:0", tensor=True) == "conv/BiasAdd"
    assert r.clean("net_1/re_lu_1_2/Relu") == "re_lu_1/Relu"  # Keras' own re_lu_1, scoped re_lu_1_2
    assert r.clean("net_1/inner_1/dense_1_2/MatMul__17") == "inner/dense_1/MatMul"
    assert r.clean("net_1/conv_1/convolution/ReadVariableOp") == "conv/convolution"
    assert r.unique("a/x__1") == "a/x" and r.unique("a/x__2") == "a/x_1" and r.unique("a/x__1") == "a/x"
    assert r.unique("taken:0", tensor=True) == "taken_1"


@pytest.mark.parametrize("kind", ["saved", "m.keras", "m.h5"])
@pytest.mark.parametrize("to", ["onnx", "pytorch"])
def test_saved_sources_match_the_keras_model(saved_sources, kind, to, tmp_path):
    model, d = saved_sources
    out = tmp_path / ("m.onnx" if to == "onnx" else "m")
    result = mmconvert.convert(str(d / kind), str(out), to=to, atol=ATOL)
    assert result.parity.status == "pass" and result.parity.reference_runner == "tensorflow"
    assert {w.path for w in model.weights} <= set(result.graph.initializers)
    assert str(d / kind) in result.parity.reference
    x = keras_models.sample_inputs(model, batch=3, seed=2)
    got = _onnx_outputs(str(out), x) if to == "onnx" else _torch_outputs(str(out), x)
    np.testing.assert_allclose(got[0], _keras_outputs(model, x)[0], atol=ATOL, rtol=1e-3)
    again = mmconvert.validate(str(d / kind), str(out), atol=ATOL, seed=5)
    assert again.status == "pass" and again.reference_runner == "tensorflow"


def test_saved_model_signature_choice_and_errors(tmp_path):
    class Two(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="dense/kernel")

        @tf.function(input_signature=[tf.TensorSpec((None, 2), tf.float32, name="x")])
        def project(self, x):
            return {"y": tf.matmul(x, self.w)}

        @tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32, name="z")])
        def double(self, z):
            return {"twice": z * 2.0}

    module = Two()
    path = str(tmp_path / "two")
    tf.saved_model.save(module, path, signatures={"serving_default": module.project, "double": module.double})
    g = mmconvert.load(path)
    assert g.real_inputs == ["x"] and g.outputs == ["y"] and "dense/kernel" in g.initializers
    g2 = mmconvert.load(path, signature="double")
    assert g2.real_inputs == ["z"] and g2.outputs == ["twice"]
    result = mmconvert.convert(path, str(tmp_path / "d.onnx"), to="onnx", signature="double")
    assert result.parity.status == "pass"
    with pytest.raises(InputError, match="no signature 'nope'.*double, serving_default"):
        mmconvert.load(path, signature="nope")
    fixed = mmconvert.load(path, input_shapes={"x": [4, 2]})
    assert fixed.type_of("x").shape == (4, 2) and fixed.type_of("y").shape == (4, 3)
    with pytest.raises(InputError, match="'image', which is not an input"):
        mmconvert.load(path, input_shapes={"image": [1, 2]})


def test_cli_signature_and_exit_codes(tmp_path):
    model = keras_models.small_cnn()
    saved = str(tmp_path / "saved")
    model.export(saved, verbose=False)
    env = dict(os.environ, PYTHONPATH=ROOT)
    cli = [sys.executable, "-m", "mmconvert"]
    ok = subprocess.run(cli + ["convert", saved, "--to", "onnx", "-o", str(tmp_path / "m.onnx"),
                               "--signature", "serving_default"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "pass" in ok.stdout
    noise = [line for line in ok.stderr.splitlines() if line.strip()]
    assert not noise, noise  # TensorFlow's and tf2onnx's logging stay out of the user's terminal
    bad = subprocess.run(cli + ["convert", saved, "--to", "onnx", "-o", str(tmp_path / "n.onnx"),
                                "--signature", "nope"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "no signature 'nope'" in bad.stderr
    assert not (tmp_path / "n.onnx").exists()


def test_unreadable_keras_file_is_exit_2(tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError) as e:
        mmconvert.load(str(broken), framework="tensorflow")
    assert e.value.exit_code == 2


# ------------------------------------------------------------------ tf.function sources
def test_tf_function_with_signature_and_concrete_function(tmp_path):
    w = tf.Variable(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32), name="proj/kernel")

    @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32, name="features")])
    def f(x):
        return tf.nn.relu(tf.matmul(x, w)) + 1.0

    for source in (f, f.get_concrete_function()):
        result = mmconvert.convert(source, str(tmp_path / "f.onnx"), to="onnx", force=True)
        assert result.parity.status == "pass"
        assert result.graph.real_inputs == ["features"] and "proj/kernel" in result.graph.initializers
        x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
        np.testing.assert_allclose(_onnx_outputs(str(tmp_path / "f.onnx"), [x])[0], f(x).numpy(), atol=ATOL)


def test_tf_function_without_signature():
    @tf.function
    def g(a, b):
        return a * b

    with pytest.raises(InputError, match="no input_signature"):
        mmconvert.load(g)
    graph = mmconvert.load(g, input_shapes={"a": ["batch", 3], "b": ["batch", 3]})
    assert graph.real_inputs == ["a", "b"] and graph.type_of("a").shape == ("batch", 3)
    graph = mmconvert.load(g, example_inputs=(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)))
    assert graph.type_of(graph.real_inputs[0]).shape[1] == 3


def test_unsupported_tensorflow_ops_are_listed():
    @tf.function(input_signature=[tf.TensorSpec((None, 4, 4), tf.float32)])
    def f(x):
        s = tf.linalg.svd(x, compute_uv=False)
        return tf.linalg.svd(x + 1.0, compute_uv=False) + s

    with pytest.raises(UnsupportedError, match=r"Svd x2") as e:
        mmconvert.load(f)
    assert e.value.exit_code == 3


# ------------------------------------------------------------------ the conversion leaves nothing behind
def test_numpy_and_logging_are_left_as_they_were(capfd):
    had_product = "product" in np.__dict__
    levels = {n: logging.getLogger(n).level for n in ("tensorflow", "tf2onnx", "absl")}
    mmconvert.load(keras_models.small_cnn())
    assert ("product" in np.__dict__) == had_product
    assert {n: logging.getLogger(n).level for n in levels} == levels
    err = capfd.readouterr().err
    assert "tf2onnx" not in err and "Starting new session" not in err and "grappler" not in err


# ------------------------------------------------------------------ layout
def test_resnet50_pytorch_permutes_only_at_the_boundary(tmp_path):
    model = keras_models.application("ResNet50", input_shape=(64, 64, 3))
    out = tmp_path / "resnet50"
    result = mmconvert.convert(model, str(out), to="pytorch", atol=ATOL)
    assert result.parity.status == "pass", result.parity.summary()
    code = (out / "model.py").read_text()
    forward = code[code.index("def forward"):code.index("\ndef ", code.index("def forward"))]
    lines = [line.strip() for line in forward.splitlines() if ".permute(" in line]
    # NHWC in (the only transpose: the output is (batch, 1000) logits)
    assert len(lines) == 1 and lines[0].endswith("= input_layer.permute(0, 3, 1, 2)"), lines
    assert sum(1 for n in result.graph.nodes if n.op_type == "Transpose") == 1
    layer, _ = keras_models.names_surviving(model, keras_models.artifact_weight_names(str(out)))
    assert layer >= 0.95


# ------------------------------------------------------------------ keras.applications
DEFAULT_APPS = ["MobileNetV2"]


@pytest.mark.parametrize("name", DEFAULT_APPS)
def test_application_default(name, tmp_path):
    model = keras_models.application(name, input_shape=(96, 96, 3))
    _check(model, tmp_path / "m.onnx", "onnx")


@pytest.mark.slow
@pytest.mark.parametrize("to", ["onnx", "pytorch", "tensorflow"])
@pytest.mark.parametrize("name", sorted(keras_models.APPLICATIONS))
def test_application_full(name, to, tmp_path):
    model = keras_models.application(name)
    _check(model, tmp_path / ("m.onnx" if to == "onnx" else "m"), to)


# keras.saving.load_model fails on Keras' own .h5 of these (what it says)
KERAS_CANNOT_RELOAD_H5 = {"MobileNetV3Small": "Only input tensors may be passed as positional arguments",
                          "ConvNeXtTiny": "Unknown layer: 'LayerScale'"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(keras_models.APPLICATIONS) + sorted(keras_models.SMALL))
def test_saved_forms_give_the_same_results(name, tmp_path):
    model = keras_models.application(name) if name in keras_models.APPLICATIONS else keras_models.SMALL[name]()
    model.export(str(tmp_path / "saved"), verbose=False)
    model.save(str(tmp_path / "m.keras"))
    model.save(str(tmp_path / "m.h5"))
    x = keras_models.sample_inputs(model, batch=2, seed=3)
    want = _keras_outputs(model, x)
    for kind in ("saved", "m.keras", "m.h5"):
        out = tmp_path / f"{kind}.onnx"
        if kind == "m.h5" and name in KERAS_CANNOT_RELOAD_H5:
            # Keras 3.15 cannot read these legacy .h5 files back itself: the error says so, exit 2
            with pytest.raises(InputError, match="Keras cannot load it.*" + KERAS_CANNOT_RELOAD_H5[name]):
                mmconvert.convert(str(tmp_path / kind), str(out), to="onnx")
            continue
        result = mmconvert.convert(str(tmp_path / kind), str(out), to="onnx", atol=ATOL)
        assert result.parity.status == "pass", (kind, result.parity.summary())
        np.testing.assert_allclose(_onnx_outputs(str(out), x)[0], want[0], atol=ATOL, rtol=1e-3)
        # Keras may rename weights when it reloads a file (ConvNeXt's nested stem loses its prefix):
        # the names to find are those of the model the file holds
        held = model if kind == "saved" else keras.saving.load_model(str(tmp_path / kind), compile=False)
        layer, _ = keras_models.names_surviving(held, keras_models.artifact_weight_names(str(out)))
        assert layer >= 0.95, (kind, layer)
