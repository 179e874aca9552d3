"""A TensorFlow / Keras source is untrusted: ops with effects outside the model are refused
before any of them runs (ir/tf_safety.py).

Each hostile SavedModel computes an ordinary ``x * 2`` beside one op reaching outside the
model; tf2onnx would drop that op (no output depends on it), so without the check the
conversion passed parity while the parity reference ran it.  A marker file shows whether
anything ran.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("tf2onnx")

import mmconvert  # noqa: E402
from mmconvert.ir.errors import UnsafeSourceError  # noqa: E402

SPEC = tf.TensorSpec([None, 3], tf.float32, name="x")


def _save(path, serve, resource=None):
    module = tf.Module()
    module.serve = tf.function(serve, input_signature=[SPEC])
    if resource is not None:
        module.resource = resource
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return str(path)


def _hostile(root, marker, secret):
    """name -> (SavedModel path, the op its message names)."""
    m, s = str(marker), str(secret)

    def write_file(x):
        tf.io.write_file(m, "ran")
        return {"y": x * 2}

    def read_file(x):
        tf.io.read_file(s)  # discarded
        return {"y": x * 2}

    def gfile(x):
        tf.io.matching_files("gs://bucket/x*")
        return {"y": x * 2}

    def save_v2(x):
        tf.raw_ops.SaveV2(prefix=m, tensor_names=["x"], shape_and_slices=[""], tensors=[x])
        return {"y": x * 2}

    def print_file(x):
        tf.print(x, output_stream="file://" + m)
        return {"y": x * 2}

    def tfrecord(x):
        ds = tf.data.TFRecordDataset([s])
        for _ in ds.take(1):
            pass
        return {"y": x * 2}

    cases = {"write_file": (write_file, "WriteFile"), "read_file": (read_file, "ReadFile"),
             "gfile": (gfile, "MatchingFiles"), "save_v2": (save_v2, "SaveV2"),
             "print_file": (print_file, "PrintV2"), "tfrecord": (tfrecord, "Dataset")}
    return {name: (_save(root / name, fn), op) for name, (fn, op) in cases.items()}


def _load_time_resource(root, marker):
    """A resource whose creation (run by tf.saved_model.load) writes a file."""
    m = str(marker)

    class Writer(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self):
            tf.io.write_file(m, "ran at load")
            return tf.raw_ops.HashTableV2(key_dtype=tf.int64, value_dtype=tf.int64)

        def _initialize(self):
            return tf.no_op()

    def serve(x):
        return {"y": x * 2}

    return _save(root / "load_time", serve, resource=Writer())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_tf")
    marker, secret = root / "marker", root / "secret"
    secret.write_bytes(b"secret")
    models = _hostile(root, marker, secret)
    models["load_time"] = (_load_time_resource(root, marker), "WriteFile")
    if marker.exists():  # tf.saved_model.save traced the functions; a resource may have been created
        marker.unlink()

    def plain(x):
        return {"y": x * 2}

    return {"root": root, "marker": marker, "models": models, "plain": _save(root / "plain", plain)}


CASES = ["write_file", "read_file", "gfile", "save_v2", "print_file", "tfrecord", "load_time"]


@pytest.mark.parametrize("case", CASES)
def test_hostile_savedmodel_is_refused(built, case, tmp_path):
    path, op = built["models"][case]
    with pytest.raises(UnsafeSourceError, match=op) as e:
        mmconvert.convert(path, str(tmp_path / "m.onnx"), to="onnx")
    assert e.value.exit_code == 2
    assert "--trust-source-ops" in str(e.value) and "\n" not in str(e.value)
    assert op in (e.value.op or "")
    with pytest.raises(UnsafeSourceError, match=op):
        mmconvert.inspect(path)
    assert not built["marker"].exists(), f"{case}: the op ran"
    assert not (tmp_path / "m.onnx").exists()


def test_message_names_function_and_category(built, tmp_path):
    path, _ = built["models"]["write_file"]
    with pytest.raises(UnsafeSourceError) as e:
        mmconvert.convert(path, str(tmp_path / "m.onnx"), to="onnx")
    text = str(e.value)
    assert "WriteFile (file system)" in text and "function __inference" in text, text
    assert "effects outside the model" in text


def test_cli_refuses_write_file(built, tmp_path):
    path, _ = built["models"]["write_file"]
    run = subprocess.run([sys.executable, "-m", "mmconvert", "convert", path, "--to", "onnx", "-o",
                          str(tmp_path / "m.onnx")], capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    assert "WriteFile" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
    assert not built["marker"].exists()


def test_trusted_write_file_converts_and_reports_dropped(built, tmp_path):
    path, _ = built["models"]["write_file"]
    try:
        result = mmconvert.convert(path, str(tmp_path / "m.onnx"), to="onnx", trust_source_ops=True)
        assert result.exit_code == 0 and result.parity.passed
        dropped = result.graph.metadata["dropped_ops"]
        assert any(d["op"] == "WriteFile" and d["function"].startswith("__inference") for d in dropped), dropped
        assert built["marker"].exists()  # trusted: the parity reference ran it (that is what trust means)
    finally:
        if built["marker"].exists():
            built["marker"].unlink()


def test_plain_savedmodel_converts(built, tmp_path):
    result = mmconvert.convert(built["plain"], str(tmp_path / "m.onnx"), to="onnx")
    assert result.exit_code == 0 and result.parity.passed
    assert result.graph.metadata["dropped_ops"] == []


def test_saved_model_runner_checks_candidate(built):
    from mmconvert.validators.runners.saved_model_runner import Runner

    with pytest.raises(UnsafeSourceError, match="WriteFile"):
        Runner(built["models"]["write_file"][0])
    runner = Runner(built["plain"])
    np.testing.assert_allclose(runner.run([np.ones((1, 3), np.float32)])[0], 2 * np.ones((1, 3)))
    assert not built["marker"].exists()


def test_saver_functions_are_not_run_by_load(tmp_path):
    """The claim check_saved_model_file relies on: tf.saved_model.load never runs the saver's
    restore function (a WriteFile put into __inference__traced_restore_* does not run)."""
    from tensorflow.core.protobuf import saved_model_pb2

    from mmconvert.ir.tf_safety import check_saved_model_file

    module = tf.Module()
    module.v = tf.Variable(3.0)
    module.serve = tf.function(lambda x: {"y": x * module.v}, input_signature=[SPEC])
    path = str(tmp_path / "sm")
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    marker = tmp_path / "restored"
    pb = os.path.join(path, "saved_model.pb")
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString(open(pb, "rb").read())
    patched = 0
    for f in saved.meta_graphs[0].graph_def.library.function:
        if "_traced_restore_" in f.signature.name or "_traced_save_" in f.signature.name:
            for name, value in (("fn", str(marker)), ("contents", "ran")):
                node = f.node_def.add(name=f"evil_{name}", op="Const")
                node.attr["dtype"].type = tf.string.as_datatype_enum
                node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
            f.node_def.add(name="evil", op="WriteFile", input=["evil_fn:output:0", "evil_contents:output:0"])
            f.control_ret["evil"] = "evil"
            patched += 1
    assert patched == 2
    with open(pb, "wb") as fh:
        fh.write(saved.SerializeToString())
    assert check_saved_model_file(path) == []  # the saver's functions are not checked ...
    loaded = tf.saved_model.load(path)
    np.testing.assert_allclose(loaded.signatures["serving_default"](x=tf.ones((1, 3)))["y"], 3 * np.ones((1, 3)))
    assert not marker.exists()  # ... because loading never runs them


# ------------------------------------------------------------------------------ Keras files
def _dense_model():
    inp = keras.Input((3,), name="x")
    return keras.Model(inp, keras.layers.Dense(2, name="d")(inp))


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keras") / "m.keras"
    _dense_model().save(str(path))
    return path


def _rewrite(src, dst, *, config=None, extra=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "config.json" and config is not None:
                data = json.dumps(config(json.loads(data))).encode()
            zout.writestr(info, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return str(dst)


def _bomb(src, dst, declared=4_000_000_000):
    """``src`` plus a small member whose headers declare ``declared`` bytes (patched in place)."""
    _rewrite(src, dst, extra={"bomb.bin": b"\0" * 4096})
    data = bytearray(open(dst, "rb").read())
    with zipfile.ZipFile(dst) as z:
        info = z.getinfo("bomb.bin")
    # the local header: uncompressed size at +22; the central directory entry: at +24
    struct.pack_into("<I", data, info.header_offset + 22, declared)
    pos = -1
    while True:
        pos = data.find(b"PK\x01\x02", pos + 1)
        if pos < 0:
            break
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + name_len]) == b"bomb.bin":
            struct.pack_into("<I", data, pos + 24, declared)
    open(dst, "wb").write(data)
    return str(dst)


def _os_system(config):
    config["config"]["layers"][1]["config"]["kernel_initializer"] = {
        "module": "os", "class_name": "system", "config": {"command": "touch MARKER"}, "registered_name": "system"}
    return config


def _builtins_eval(config):
    config["config"]["layers"][1]["config"]["activation"] = {
        "module": "builtins", "class_name": "function", "config": "eval", "registered_name": "eval"}
    return config


def _lambda_file(path, marker):
    inp = keras.Input((3,), name="x")
    out = keras.layers.Lambda(lambda t: t * 2, name="double")(inp)
    keras.Model(inp, out).save(str(path))
    return str(path)


@pytest.mark.parametrize("case", ["traversal", "absolute", "bomb", "os_system", "builtins_eval", "lambda",
                                  "lambda_h5"])
def test_hostile_keras_file_is_refused(keras_file, case, tmp_path):
    marker = tmp_path / "MARKER"
    src = tmp_path / "evil.keras"
    if case == "traversal":
        path, want = _rewrite(keras_file, src, extra={"../evil": b"x"}), "outside the archive"
    elif case == "absolute":
        path, want = _rewrite(keras_file, src, extra={"/tmp/evil": b"x"}), "outside the archive"
    elif case == "bomb":
        path, want = _bomb(keras_file, src), "zip bomb"
    elif case == "os_system":
        path, want = _rewrite(keras_file, src, config=_os_system), "os.system"
    elif case == "builtins_eval":
        path, want = _rewrite(keras_file, src, config=_builtins_eval), "builtins.function"
    elif case == "lambda":
        path, want = _lambda_file(src, marker), "Lambda layer carries Python bytecode"
    else:  # a legacy .h5: the model_config attribute, read with h5py
        path, want = _lambda_file(tmp_path / "evil.h5", marker), "Lambda layer carries Python bytecode"
    with pytest.raises(UnsafeSourceError, match=want) as e:
        mmconvert.convert(path, str(tmp_path / "m.onnx"), to="onnx")
    assert e.value.exit_code == 2
    assert "load the model yourself" in str(e.value)
    assert not marker.exists() and not (tmp_path.parent / "evil").exists()


def test_keras_safe_mode_alone(keras_file, tmp_path):
    """What Keras 3's own safe_mode refuses (so the frontend's check is not the only guard):
    a Lambda's bytecode and an object from a module it does not know (it does not import it)."""
    lam = _lambda_file(tmp_path / "lambda.keras", None)
    with pytest.raises(ValueError, match="safe_mode"):
        keras.saving.load_model(lam, safe_mode=True)
    evil = _rewrite(keras_file, tmp_path / "os.keras", config=_os_system)
    with pytest.raises((TypeError, ValueError), match="Could not interpret initializer identifier"):
        keras.saving.load_model(evil, safe_mode=True)
    assert not os.path.exists("MARKER")


def test_plain_keras_file_converts(keras_file, tmp_path):
    result = mmconvert.convert(str(keras_file), str(tmp_path / "m.onnx"), to="onnx")
    assert result.exit_code == 0 and result.parity.passed
