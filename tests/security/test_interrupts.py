"""SIGINT / SIGTERM leave no output and no temporary files; after SIGKILL the next run
removes the staging folder the killed one left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def big_model(tmp_path_factory):
    """About 130 MB of weights: long enough to be interrupted at several points."""
    folder = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(8):
        inits.append(numpy_helper.from_array(rng.standard_normal((2048, 2048)).astype(np.float32), f"layer{i}.weight"))
        nodes.append(helper.make_node("MatMul", [prev, f"layer{i}.weight"], [f"h{i}"], name=f"layer{i}"))
        prev = f"h{i}"
    g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2048])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 2048])], inits)
    path = folder / "big.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString())
    return path


def _start(src, out):
    return subprocess.Popen([sys.executable, "-m", "mmconvert", "convert", str(src), "--to", "pytorch", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _staging(folder):
    return [p for p in os.listdir(folder) if p.startswith(".mmconvert-tmp-")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_leaves_no_output_and_no_temporary_files(tmp_path, big_model, sig):
    interrupted = 0
    for delay in (0.0, 0.3, 1.0, 2.0):  # after the work has begun: while emitting, writing, validating
        out = tmp_path / f"out_{delay}"
        proc = _start(big_model, out)
        _wait_for_staging(tmp_path, proc)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err
        assert not _staging(tmp_path), f"{sig.name} after {delay}s left {_staging(tmp_path)}"
        assert proc.returncode in (0, 128 + sig), (proc.returncode, err)  # never killed by the signal itself
        if proc.returncode == 0 or "written whole" in err:  # the artifact was committed before the signal
            assert sorted(os.listdir(out)) == ["manifest.json", "model.py", "weights.safetensors"]
        else:
            assert "interrupted" in err and "nothing was written" in err and not out.exists()
            interrupted += 1
    assert interrupted >= 2


def _wait_for_staging(folder, proc):
    deadline = time.time() + 120
    while not _staging(folder) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert _staging(folder), "the conversion never staged anything"


def test_after_sigkill_the_next_run_cleans_up(tmp_path, big_model):
    out = tmp_path / "out"
    proc = _start(big_model, out)
    _wait_for_staging(tmp_path, proc)
    proc.kill()
    proc.wait()
    assert _staging(tmp_path) and not out.exists()  # what a SIGKILL leaves
    r = subprocess.run([sys.executable, "-m", "mmconvert", "convert", str(big_model), "--to", "onnx",
                        "-o", str(tmp_path / "again.onnx"), "--no-validate"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not _staging(tmp_path)
