"""The conversion matrix (``benchmarks/zoo.py``): its own logic, fast, and a representative
handful of its cells (``-m slow``), run through the same code as the full matrix."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import zoo  # noqa: E402

from mmconvert.ir.errors import GraphValidationError, UnsupportedOpsError  # noqa: E402
from mmconvert.validators.report import OutputReport, ParityReport  # noqa: E402


def _results():
    models = {
        "onnx:light_a": {"source": "onnx", "name": "light_a", "family": "onnx light zoo", "batches": [1]},
        "pytorch:net": {"source": "pytorch", "name": "net", "family": "built (PyTorch)", "batches": [1, 3]},
        "tensorflow:kn": {"source": "tensorflow", "name": "kn", "family": "built (Keras)", "batches": [1, 3]},
    }

    def ours(model, target, status="pass", **kw):
        return {"model": model, "target": target, "tool": "mmconvert", "status": status, "max_abs": 2e-6,
                "convert_s": 1.5, "latency_ratio": 0.9, "worker_s": 60.0, **kw}

    cells = [ours("onnx:light_a", "pytorch"), ours("onnx:light_a", "tensorflow"),
             ours("pytorch:net", "onnx"),
             ours("pytorch:net", "tensorflow", "fail", max_abs=0.5,
                  reason="parity: output 'y' max abs 0.5; first diverging node 'pool' (MaxPool)"),
             ours("tensorflow:kn", "onnx", latency_error="bug: Fail: ORT refuses the file"),
             ours("tensorflow:kn", "pytorch"),
             {"model": "onnx:light_a", "target": "pytorch", "tool": "onnx2torch", "status": "fail",
              "reason": "NotImplementedError: Dropout-7", "wall_s": 120.0},
             {"model": "onnx:light_a", "target": "tensorflow", "tool": "onnx2tf", "status": "pass", "max_abs": 1e-6,
              "wall_s": 120.0},
             {"model": "pytorch:net", "target": "onnx", "tool": "torch.onnx", "status": "pass", "max_abs": 1e-6,
              "wall_s": 120.0}]
    return {"meta": {"date": "2026-01-02",
                     "versions": {"ours": {"torch": "2.13.0"}, "peers": {"onnx2tf": "1.29.24"}}},
            "models": models, "cells": cells}


def test_summary_counts_per_direction():
    rows = {(r["source"], r["target"]): r for r in zoo.summary(_results())}
    assert len(rows) == 6
    assert (rows[("pytorch", "tensorflow")]["passed"], rows[("pytorch", "tensorflow")]["cells"]) == (0, 1)
    assert rows[("onnx", "pytorch")]["peer"] == "onnx2torch" and rows[("onnx", "pytorch")]["peer_passed"] == 0
    assert rows[("onnx", "tensorflow")]["peer_passed"] == 1
    assert rows[("tensorflow", "pytorch")]["peer"] is None


def test_page_has_summary_tables_failures_and_versions():
    page = zoo.render(_results())
    assert "**5 of 6 cells pass (83.3%)**" in page
    assert "| PyTorch -> TensorFlow | 0/1 (0%) | 0 | no single-tool peer | - |" in page
    assert "| ONNX -> PyTorch | 1/1 (100%) | 1 | onnx2torch | 0/1 |" in page
    assert "[op support](op-support.md)" in page
    assert "2026-01-02" in page and "onnx2tf 1.29.24" in page and "torch 2.13.0" in page
    assert "Run time: 3 min for mmconvert's cells" in page and "6 min for the peers'" in page  # one worker per model
    # the failing cell is listed with its reason, the peer's failure apart
    assert "- **net** (PyTorch -> TensorFlow): parity: output 'y' max abs 0.5; first diverging node 'pool' (MaxPool)" in page
    assert "onnx2torch, **light_a** -> PyTorch: NotImplementedError: Dropout-7" in page
    assert "- **kn** (TensorFlow -> ONNX): bug: Fail: ORT refuses the file" in page  # passed, but not timed
    row = next(ln for ln in page.splitlines() if ln.startswith("| net |"))
    assert "**fail**" in row and "| pass (1e-06) |" in row  # ours failing, torch.onnx passing beside it
    for table in [ln for ln in page.splitlines() if ln.startswith("| model |")]:
        header = table.count("|")
        sep = page.splitlines()[page.splitlines().index(table) + 1]
        assert sep.count("|") == header


def test_reason_of_unsupported_ops_names_them():
    e = UnsupportedOpsError("tensorflow", {("", "DeformConv"): ["a", "b"], ("com.x", "Foo"): ["c"]})
    assert zoo.error_reason(e) == "unsupported on tensorflow: DeformConv x2, com.x::Foo x1"
    e = GraphValidationError("unknown attribute 'k'", node="conv1")
    assert zoo.error_reason(e) == "GraphValidationError: node 'conv1': unknown attribute 'k'"


def _fails_inside_the_project():
    raise KeyError("perm")


def test_reason_of_a_bug_names_where_it_happened():
    try:
        _fails_inside_the_project()
    except KeyError as e:
        reason = zoo.error_reason(e)
    assert reason.startswith("bug: KeyError: 'perm' at tests/test_zoo_matrix.py:")
    assert reason.endswith("(_fails_inside_the_project)")


def test_reason_of_a_parity_failure_names_output_and_first_diverging_node():
    report = ParityReport(reference="m", candidate="c", target="pytorch", status="fail", outputs=[
        OutputReport("ok", "pass", max_abs=1e-7),
        OutputReport("logits", "fail", max_abs=0.031, mismatch_fraction=0.125, atol=1e-4, rtol=1e-3)])
    first = {"node": "layer1.conv", "op_type": "Conv", "tensor": "t", "max_abs": 0.02, "input_max_abs": 1e-7}
    reason = zoo.parity_reason(report.to_dict(), first)
    assert reason == ("parity: output 'logits' max abs 0.031 (12.5% of elements beyond atol 0.0001 + rtol 0.001);"
                      " first diverging node 'layer1.conv' (Conv), max abs 0.02 from inputs within 1e-07")
    report.outputs[1] = OutputReport("logits", "fail", message="shape [2, 3] != reference [2, 4]")
    assert zoo.parity_reason(report.to_dict()) == "parity: output 'logits': shape [2, 3] != reference [2, 4]"


def test_compare_judges_peers_like_the_validator():
    rng = np.random.default_rng(0)
    ref = [[rng.standard_normal((1, 4, 5, 6)).astype(np.float32)], [rng.standard_normal((3, 4, 5, 6)).astype(np.float32)]]
    assert zoo.compare(ref, ref)[:2] == ("pass", 0.0)
    nhwc = [[np.transpose(s[0], (0, 2, 3, 1)).copy()] for s in ref]  # onnx2tf's layout: permuted back
    assert zoo.compare(ref, nhwc)[0] == "pass"
    off = [[s[0] + np.float32(1e-2)] for s in ref]
    status, worst, reason = zoo.compare(ref, off)
    assert status == "fail" and worst == pytest.approx(1e-2, rel=1e-3) and "output 0" in reason
    assert zoo.compare(ref, [[], []])[0] == "fail"


def test_merge_replaces_the_same_cell_only():
    results = _results()
    n = len(results["cells"])
    zoo.merge(results, [{"model": "pytorch:net", "target": "tensorflow", "tool": "mmconvert", "status": "pass"}])
    assert len(results["cells"]) == n
    assert [c["status"] for c in results["cells"] if c["model"] == "pytorch:net" and c["target"] == "tensorflow"
            and c["tool"] == "mmconvert"] == ["pass"]


def test_a_worker_that_dies_leaves_its_remaining_cells_failed_with_why(monkeypatch):
    entry = zoo.Entry("pytorch:net", "pytorch", "net", "built (PyTorch)")
    done = {"model": entry.key, "target": "onnx", "tool": "mmconvert", "status": "pass"}
    monkeypatch.setattr(zoo, "_subprocess", lambda cmd, timeout: (["noise", "CELL " + json.dumps(done)],
                                                                   "timed out after 5 s"))
    cells = {c["target"]: c for c in zoo.run_model(entry, "/nonexistent", 5)}
    assert cells["onnx"]["status"] == "pass"
    assert cells["tensorflow"]["status"] == "fail"
    assert cells["tensorflow"]["reason"] == "worker stopped: timed out after 5 s"


def test_subprocess_reports_a_crash_by_its_last_error_line():
    lines, error = zoo._subprocess([sys.executable, "-c", "print('CELL {}'); raise SystemExit('ValueError: no')"], 60)
    assert lines == ["CELL {}"] and error == "ValueError: no"


# ----------------------------------------------------------------------------- cells (slow)
CELLS = [("onnx:light_squeezenet", "tensorflow"), ("pytorch:transformer_decoder", "tensorflow"),
         ("pytorch:lstm_tagger", "onnx"), ("tensorflow:mobilenet_dw", "pytorch"), ("tensorflow:unet", "onnx"),
         ("pytorch:resnet", "tensorflow")]


@pytest.mark.slow
@pytest.mark.parametrize("key,target", CELLS, ids=[f"{k}->{t}" for k, t in CELLS])
def test_matrix_cell(key, target, tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "LIGHT", str(tmp_path / "light"))
    entry = zoo.registry()[key]
    cell = zoo.run_cell(entry, zoo.build_source(entry), target, str(tmp_path))
    assert cell["status"] == "pass", cell.get("reason")
    assert cell["max_abs"] <= zoo.ATOL or cell["max_abs"] <= 1e-3 * cell["scale"]
    assert cell["scale"] > 0 and cell["batches"] == list(entry.batches)
    assert cell["latency_ratio"] > 0


def test_readme_summary_replaces_only_its_own_part():
    text = f"# x\n\n## What works today\n\n{zoo.BEGIN}\nold table\n{zoo.END}\n\n| path | what |\n\n## Next\n"
    new = zoo.update_readme(text, zoo.readme_summary(_results()))
    assert "old table" not in new and new.startswith("# x\n") and new.endswith("| path | what |\n\n## Next\n")
    assert "| PyTorch -> TensorFlow | 0 of 1 | none (two tools chained through ONNX) |" in new
    assert "| ONNX -> PyTorch | 1 of 1 | onnx2torch: 0 of 1 |" in new
    assert "5 of 6 model x direction cells pass (83.3%) over 3 architectures" in new
    assert "[support matrix](docs/support-matrix.md)" in new
    assert zoo.update_readme(new, "t") == zoo.update_readme(text, "t")  # idempotent
    with pytest.raises(ValueError):
        zoo.update_readme("# no markers\n", "t")


def test_subprocess_names_a_native_abort_by_its_check_line():
    code = ("import os, sys; sys.stderr.write('F0000 tensor_format.h:428] Check failed: index >= 0\\n');"
            " sys.stderr.flush(); os.abort()")
    _, error = zoo._subprocess([sys.executable, "-c", code], 60)
    assert error == "killed by signal 6: F0000 tensor_format.h:428] Check failed: index >= 0"
