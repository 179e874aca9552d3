"""A model file is untrusted input: one regression test per defect class of the security issue.

1. no string from a model becomes code;
2. no external data is read from outside the model's folder;
3. no existing output is replaced without --force, and never one mmconvert did not write;
4. nothing that is not an output (a device, a FIFO, the source) is written;
6. user and environment errors are typed, one line, and leave nothing behind.
(5, names that are legal but awkward, lives in tests/pytorch/test_pytorch_names.py.)
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import mmconvert
from mmconvert.ir.errors import InputError, ModelLoadError, UnsupportedError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn.onnx")


def cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "mmconvert", *args], capture_output=True, text=True, cwd=cwd,
                          env=env)


def _import(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_emitted_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def payload(canary) -> str:
    return f"__import__('pathlib').Path({str(canary)!r}).touch()"


def _relu_model(graph_name="g", node_name="relu", x="x", y="y", doc="", opset=18):
    nodes = [helper.make_node("Relu", [x], [y], name=node_name, doc_string=doc)]
    g = helper.make_graph(nodes, graph_name, [helper.make_tensor_value_info(x, TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info(y, TensorProto.FLOAT, [2, 3])], doc_string=doc)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], doc_string=doc)


# ----------------------------------------------------------------------------- 1. code
@pytest.mark.parametrize("where", ["graph_name", "doc_string", "node_name", "tensor_names"])
def test_no_model_string_becomes_code(tmp_path, where):
    pytest.importorskip("torch")
    canary = tmp_path / "canary"
    breakouts = [f'"""\n{payload(canary)}\n"""', f"'''\n{payload(canary)}\n'''", f"x\n{payload(canary)}\n#",
                 f"\\\n{payload(canary)}", f"\u2028{payload(canary)}"]
    for k, evil in enumerate(breakouts):
        kw = {"graph_name": {"graph_name": evil}, "doc_string": {"doc": evil}, "node_name": {"node_name": evil},
              "tensor_names": {"x": evil, "y": evil + "_out"}}[where]
        out = tmp_path / f"out{k}"
        result = mmconvert.convert(_relu_model(**kw), out, to="pytorch")  # the parity step imports model.py
        assert result.parity.passed
        _import(out / "model.py").load_model()
        assert not canary.exists(), f"{where}: {evil!r} ran as code"
        compile((out / "model.py").read_text(), "model.py", "exec")


# ------------------------------------------------------------------- 2. external data
def _external_model(folder, location):
    w = numpy_helper.from_array(np.ones((2, 3), np.float32), "w")
    w.ClearField("float_data")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "24")):
        w.external_data.add(key=k, value=v)
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w])
    path = folder / "m.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString())
    return path


@pytest.fixture
def secret(tmp_path):
    s = tmp_path / "secret.bin"
    s.write_bytes(np.full(6, 1234.5, np.float32).tobytes())
    return s


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink_file", "symlink_dir"])
def test_external_data_never_leaves_the_model_folder(tmp_path, secret, how):
    folder = tmp_path / "model"
    folder.mkdir()
    if how == "dotdot":
        location = "../secret.bin"
    elif how == "absolute":
        location = str(secret)
    elif how == "symlink_file":
        os.symlink(secret, folder / "w.bin")
        location = "w.bin"
    else:
        os.symlink(tmp_path, folder / "up")
        location = "up/secret.bin"
    path = _external_model(folder, location)
    with pytest.raises(ModelLoadError, match="outside|out of the model's folder|absolute"):
        mmconvert.load(str(path))
    for args in (("inspect", str(path)), ("convert", str(path), "--to", "onnx", "-o", str(tmp_path / "o.onnx"))):
        r = cli(*args)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.onnx").exists()


def test_external_data_inside_the_folder_still_works(tmp_path):
    folder = tmp_path / "model"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "w.bin").write_bytes(np.full(6, 2.0, np.float32).tobytes())
    path = _external_model(folder, "data/w.bin")
    g = mmconvert.load(str(path))
    assert g.initializers["w"].tolist() == [[2.0] * 3] * 2


# -------------------------------------------------------------- 3. existing outputs
def _src_in(folder):
    folder.mkdir(exist_ok=True)
    src = folder / "tiny.onnx"
    src.write_bytes(open(EXAMPLE, "rb").read())
    return src


def test_output_dot_never_deletes_the_source(tmp_path):
    work = tmp_path / "work"
    src = _src_in(work)
    (work / "notes.txt").write_text("mine")
    for extra in ([], ["--force"]):
        r = cli("convert", "tiny.onnx", "--to", "pytorch", "-o", ".", "--no-validate", *extra, cwd=work)
        assert r.returncode == 2, r.stderr
        assert "holds the source" in r.stderr or "already exists" in r.stderr
    assert src.read_bytes() == open(EXAMPLE, "rb").read() and (work / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(work)) == ["notes.txt", "tiny.onnx"]


def test_existing_outputs_need_force_and_must_be_ours(tmp_path):
    out = tmp_path / "out.onnx"
    out.write_text("precious")
    r = cli("convert", EXAMPLE, "--to", "onnx", "-o", str(out), "--no-validate")
    assert r.returncode == 2 and "--force" in r.stderr and out.read_text() == "precious"
    r = cli("convert", EXAMPLE, "--to", "onnx", "-o", str(out), "--no-validate", "--force")
    assert r.returncode == 0, r.stderr
    onnx.checker.check_model(str(out))
    folder = tmp_path / "theirs"
    folder.mkdir()
    (folder / "model.py").write_text("# someone's code\n")
    r = cli("convert", EXAMPLE, "--to", "pytorch", "-o", str(folder), "--no-validate", "--force")
    assert r.returncode == 2 and "not a folder mmconvert wrote" in r.stderr
    assert (folder / "model.py").read_text() == "# someone's code\n"


# ----------------------------------------------------------- 4. not outputs at all
def test_devices_fifos_links_and_the_source_are_never_written(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    src = _src_in(tmp_path / "src")
    before = src.read_bytes()
    link = tmp_path / "link.onnx"
    os.symlink(tmp_path / "elsewhere.onnx", link)
    for target, extra in ((os.devnull, ["--force"]), (str(fifo), ["--force"]), (str(src), ["--force"]),
                          (str(link), ["--force"])):
        r = cli("convert", str(src), "--to", "onnx", "-o", target, "--no-validate", *extra)
        assert r.returncode == 2, (target, r.stderr)
        assert "Traceback" not in r.stderr
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert src.read_bytes() == before
    assert not (tmp_path / "elsewhere.onnx").exists()


# -------------------------------------------------------------------- 6. errors
def test_environment_errors_are_typed_one_line_and_leave_nothing(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [
        ("convert", EXAMPLE, "--to", "onnx", "-o", str(afile / "m.onnx"), "--no-validate"),
        ("convert", EXAMPLE, "--to", "onnx", "-o", "/proc/m.onnx", "--no-validate"),
        ("convert", EXAMPLE, "--to", "onnx", "-o", str(tmp_path / "ok.onnx"), "--report", "/proc/r.json"),
        ("validate", EXAMPLE, EXAMPLE, "--junit", str(afile / "j.xml")),
    ]
    for args in cases:
        r = cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["afile"]  # the report was refused before any work


def test_a_huge_symbolic_dim_is_a_user_error(tmp_path):
    r = cli("convert", EXAMPLE, "--to", "onnx", "-o", str(tmp_path / "m.onnx"), "--dim", "batch=1000000000000")
    assert r.returncode == 2 and "--dim" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not os.listdir(tmp_path)  # the parity check could not run: nothing was written, and it says so
    assert "nothing was written" in r.stderr


def test_an_opset_newer_than_onnx_knows_is_refused(tmp_path):
    m = _relu_model(opset=99)
    m.ir_version = 10
    path = tmp_path / "m.onnx"
    path.write_bytes(m.SerializeToString())
    with pytest.raises(UnsupportedError, match="opset 99"):
        mmconvert.load(str(path))
    r = cli("convert", str(path), "--to", "onnx", "-o", str(tmp_path / "o.onnx"))
    assert r.returncode == 3 and not (tmp_path / "o.onnx").exists()


def test_a_scalar_bool_input_is_generated(tmp_path):
    g = helper.make_graph([helper.make_node("Not", ["flag"], ["y"])], "g",
                          [helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
                          [helper.make_tensor_value_info("y", TensorProto.BOOL, [])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    assert mmconvert.convert(m, tmp_path / "m.onnx", to="onnx").parity.passed


def test_usage_errors_are_one_line():
    for args in (("convert", EXAMPLE), ("convert", EXAMPLE, "--to", "nope", "-o", "x"), ("bogus",)):
        r = cli(*args)
        assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_onnx_runtime_messages_keep_the_shapes(tmp_path):
    data = tmp_path / "bad.npz"
    np.savez(data, image=np.zeros((1, 3, 7, 7), np.float32))
    r = cli("validate", EXAMPLE, EXAMPLE, "--inputs", str(data))
    assert r.returncode == 2 and "Got: 7 Expected: 32" in r.stderr.replace("\n", " "), r.stderr


def test_validate_pairs_outputs_by_name(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["x"], ["b"])]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [3]) for n in ("x", "a", "b")]
    ref = helper.make_model(helper.make_graph(nodes, "g", [vi[0]], [vi[1], vi[2]]),
                            opset_imports=[helper.make_opsetid("", 18)])
    swapped = helper.make_model(helper.make_graph(nodes, "g", [vi[0]], [vi[2], vi[1]]),
                                opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(ref, tmp_path / "ref.onnx")
    onnx.save(swapped, tmp_path / "cand.onnx")
    report = mmconvert.validate(str(tmp_path / "ref.onnx"), str(tmp_path / "cand.onnx"))
    assert report.passed and [o.name for o in report.outputs] == ["a", "b"]


def test_outputs_follow_the_umask_and_stale_staging_is_cleaned(tmp_path):
    pytest.importorskip("torch")
    dead = tmp_path / ".mmconvert-tmp-999999999-dead"
    dead.mkdir()
    (dead / "half.bin").write_bytes(b"x")
    alive = tmp_path / f".mmconvert-tmp-{os.getppid()}-live"
    alive.mkdir()
    old = os.umask(0o022)
    try:
        mmconvert.convert(EXAMPLE, tmp_path / "m.onnx", to="onnx", validate=False)
        mmconvert.convert(EXAMPLE, tmp_path / "pt", to="pytorch", validate=False)
    finally:
        os.umask(old)
    assert not dead.exists() and alive.exists()  # another live process's staging is left alone
    assert stat.S_IMODE(os.stat(tmp_path / "m.onnx").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "pt").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / "pt" / "model.py").st_mode) == 0o644
    manifest = json.loads((tmp_path / "pt" / "manifest.json").read_text())
    assert manifest["producer"] == "mmconvert" and manifest["target"] == "pytorch"


def test_the_api_refuses_like_the_cli(tmp_path):
    (tmp_path / "exists.onnx").write_text("x")
    with pytest.raises(InputError, match="already exists"):
        mmconvert.convert(EXAMPLE, tmp_path / "exists.onnx", to="onnx", validate=False)
    with pytest.raises(InputError, match="is the source"):
        mmconvert.convert(EXAMPLE, EXAMPLE, to="onnx", validate=False, force=True)


@pytest.mark.parametrize("to", ["pytorch", "tensorflow"])
def test_a_string_attribute_outside_its_values_is_an_invalid_model_in_every_backend(tmp_path, to):
    """Pad mode='bogus' is not an ONNX model: both code-emitting backends say so (exit 2, the
    node named) instead of writing code for some other mode."""
    pytest.importorskip("torch" if to == "pytorch" else "tensorflow")
    from mmconvert.ir.errors import GraphValidationError

    pads = numpy_helper.from_array(np.array([0, 1, 0, 1], np.int64), "pads")
    g = helper.make_graph([helper.make_node("Pad", ["x", "pads"], ["y"], mode="bogus", name="the_pad")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])], [pads])
    path = tmp_path / "m.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString())
    with pytest.raises(GraphValidationError, match="mode='bogus'") as e:
        mmconvert.convert(str(path), tmp_path / "out", to=to)
    assert e.value.exit_code == 2 and "the_pad" in str(e.value)
    assert not (tmp_path / "out").exists()
