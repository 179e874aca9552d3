"""The documented CI parity step (docs/ci.md) works: it passes on a good conversion
and fails the build (exit 1) when the artifact is wrong."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import onnx
import pytest
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn.onnx")
BIN = os.path.dirname(sys.executable)


def _env():
    return dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))


@pytest.mark.parametrize("target", ["onnx", "pytorch"])
def test_parity_script_passes_and_writes_reports(tmp_path, target):
    if target == "pytorch":
        pytest.importorskip("torch")
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "parity-step.sh"), EXAMPLE, target, str(tmp_path)],
                       capture_output=True, text=True, env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((tmp_path / "tiny_cnn.parity.json").read_text())
    assert report["status"] == "pass" and report["per_layer_mode"] == "accumulated"
    assert (tmp_path / "tiny_cnn.junit.xml").exists() and (tmp_path / "tiny_cnn.parity.html").exists()


def test_validate_fails_the_build_on_a_wrong_artifact(tmp_path):
    out = tmp_path / "m.onnx"
    subprocess.run([sys.executable, "-m", "mmconvert", "convert", EXAMPLE, "--to", "onnx", "-o", str(out)], check=True,
                   capture_output=True)
    m = onnx.load(str(out))
    for t in m.graph.initializer:
        if t.name == "head.fc.bias":
            arr = numpy_helper.to_array(t).copy()
            arr[0] += 0.5
            t.CopyFrom(numpy_helper.from_array(arr, t.name))
    onnx.save(m, str(out))
    r = subprocess.run([sys.executable, "-m", "mmconvert", "validate", EXAMPLE, str(out), "--per-layer",
                        "--junit", str(tmp_path / "j.xml")], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "head.fc" in r.stdout
    assert "<failure" in (tmp_path / "j.xml").read_text()


def test_precommit_hook_entry_from_the_docs_runs(tmp_path):
    pytest.importorskip("torch")
    doc = open(os.path.join(ROOT, "docs", "ci.md")).read()
    entry = re.search(r"entry: bash -c '(.*)' --", doc).group(1)
    r = subprocess.run(["bash", "-c", entry, "--", EXAMPLE], cwd=tmp_path, capture_output=True, text=True, env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "build" / "parity" / "tiny_cnn_pt" / "model.py").exists()
