"""The command line: results, help texts and exit codes (DESIGN.md contract)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import onnx
import pytest

import conformance as C

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn.onnx")


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mmconvert", *args], capture_output=True, text=True, cwd=cwd)


def test_convert_to_onnx(tmp_path):
    out = tmp_path / "m.onnx"
    r = run("convert", EXAMPLE, "--to", "onnx", "-o", str(out), "--no-validate")
    assert r.returncode == 0, r.stderr
    assert "converted" in r.stdout and out.exists()
    onnx.checker.check_model(str(out), full_check=True)


def test_convert_at_another_opset_and_json_report(tmp_path):
    out, rep = tmp_path / "m.onnx", tmp_path / "r.json"
    r = run("convert", EXAMPLE, "--to", "onnx", "-o", str(out), "--opset", "13", "--report", str(rep), "--json", "--no-validate")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["opset"] == 13 and json.loads(rep.read_text())["output"] == str(out)
    assert onnx.load(str(out)).opset_import[0].version == 13


def test_inspect_json():
    r = run("inspect", EXAMPLE, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["inputs"] == [{"name": "image", "type": "float32[batch, 3, 32, 32]"}]
    assert info["ops"]["Conv"] == 2 and info["opset_imports"] == {"ai.onnx": 17}
    assert info["parameters"] == 8 * 27 + 8 + 4 * 8 + 16 * 72 + 16 + 160 + 10


def test_inspect_table():
    r = run("inspect", EXAMPLE)
    assert r.returncode == 0 and "GlobalAveragePool" in r.stdout and "parameters:" in r.stdout


def test_ops_lists_the_onnx_backend():
    r = run("ops", "--to", "onnx", "--json")
    assert r.returncode == 0
    table = json.loads(r.stdout)
    assert "Conv" in table and "Attention" in table


@pytest.mark.parametrize("content", [b"", b"not a model at all\n"])
def test_unreadable_input_exits_2_with_one_line(tmp_path, content):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    r = run("inspect", str(bad))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.strip().startswith("error:")
    assert len(r.stderr.strip().splitlines()) == 1


def test_truncated_model_exits_2(tmp_path):
    data = open(C.light_models()[0], "rb").read()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(data[:300])
    r = run("convert", str(bad), "--to", "onnx", "-o", str(tmp_path / "o.onnx"))
    assert r.returncode == 2 and "truncated" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.onnx").exists()


def test_missing_path_exits_2(tmp_path):
    r = run("inspect", str(tmp_path / "nope.onnx"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_wrong_target_exits_2(tmp_path):
    r = run("convert", EXAMPLE, "--to", "caffe", "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "caffe" in r.stderr and "Traceback" not in r.stderr


def test_invalid_opset_exits_2(tmp_path):
    r = run("convert", EXAMPLE, "--to", "onnx", "-o", str(tmp_path / "x.onnx"), "--opset", "99")
    assert r.returncode == 2 and "--opset" in r.stderr


def test_unexpressible_opset_exits_3(tmp_path):
    # LayerNormalization exists from opset 17 on: asking for 16 is unsupported, and nothing is written
    r = run("convert", os.path.join(ROOT, "tests", "data", "layernorm.onnx"), "--to", "onnx",
            "-o", str(tmp_path / "x.onnx"), "--opset", "16")
    assert r.returncode == 3 and "LayerNormalization" in r.stderr
    assert not os.listdir(tmp_path)


def test_help_has_examples():
    for cmd in ("convert", "inspect", "ops"):
        r = run(cmd, "--help")
        assert r.returncode == 0 and "Example" in r.stdout


def test_ir_folder_is_a_source_too(tmp_path):
    import mmconvert

    mmconvert.save(mmconvert.load(EXAMPLE), tmp_path / "ir", to="ir")
    r = run("inspect", str(tmp_path / "ir"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ops"]["Conv"] == 2
    r = run("convert", str(tmp_path / "ir"), "--to", "onnx", "-o", str(tmp_path / "m.onnx"))
    assert r.returncode == 0, r.stderr
    assert "PASS" in r.stdout  # parity against the IR written out as ONNX


def test_verbose_lists_the_pipeline(tmp_path):
    pytest.importorskip("torch")
    r = run("convert", EXAMPLE, "--to", "pytorch", "-o", str(tmp_path / "pt"), "--no-validate", "--verbose")
    assert r.returncode == 0, r.stderr
    for name in ("normalize", "remove_dead_nodes", "remove_unused_initializers", "fold_constants"):
        assert f"pass {name}:" in r.stdout
    r = run("convert", EXAMPLE, "--to", "onnx", "-o", str(tmp_path / "m.onnx"), "--no-validate", "--json")
    passes = [p["pass"] for p in json.loads(r.stdout)["passes"]]
    assert passes == ["normalize"]  # the onnx target keeps the source's structure
    r = run("convert", EXAMPLE, "--to", "onnx", "-o", str(tmp_path / "o.onnx"), "--no-validate", "--json", "--optimize")
    assert "fold_constants" in [p["pass"] for p in json.loads(r.stdout)["passes"]]
