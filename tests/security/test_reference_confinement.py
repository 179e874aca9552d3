"""The parity reference (the source run by its own framework) runs confined: its working
directory is a fresh folder in the output's staging area, credential variables are out of
its environment, and both are back afterwards.  Ops the conversion dropped are named in
every report form."""

from __future__ import annotations

import json
import os

import pytest

import mmconvert
from mmconvert.ir.sandbox import confined, credential_names
from mmconvert.validators.report import OutputReport, ParityReport


def test_confined_hides_credentials_and_moves_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    monkeypatch.setenv("MY_SERVICE_PASSWORD", "pw")
    monkeypatch.setenv("MMCONVERT_HARMLESS", "kept")
    assert {"AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "MY_SERVICE_PASSWORD"} <= set(credential_names())
    assert "MMCONVERT_HARMLESS" not in credential_names()
    before = os.getcwd()
    work = tmp_path / "staging" / "reference-cwd"
    with confined(str(work)) as path:
        assert os.getcwd() == os.path.realpath(path) == os.path.realpath(work)
        assert "AWS_SECRET_ACCESS_KEY" not in os.environ and "HF_TOKEN" not in os.environ
        assert "MY_SERVICE_PASSWORD" not in os.environ
        assert os.environ["MMCONVERT_HARMLESS"] == "kept"
        open("relative-write", "w").close()  # a relative path lands in the confined folder
        assert (work / "relative-write").exists()
    assert os.getcwd() == before
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "s3cr3t" and os.environ["HF_TOKEN"] == "hf_x"
    assert not work.exists()  # removed with what the source left there


def test_confined_restores_on_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp")
    before = os.getcwd()
    with pytest.raises(RuntimeError):
        with confined():
            raise RuntimeError("boom")
    assert os.getcwd() == before and os.environ["GITHUB_TOKEN"] == "ghp"


def test_reference_run_of_convert_is_confined(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
    seen: list[tuple[str, bool]] = []

    class Spy(torch.nn.Module):
        def forward(self, x):
            if not torch.compiler.is_compiling():  # record the eager calls (the parity reference)
                seen.append((os.getcwd(), "AWS_SECRET_ACCESS_KEY" in os.environ))
            return x * 2

    out = tmp_path / "out" / "spy.onnx"
    os.makedirs(out.parent)
    result = mmconvert.convert(Spy(), str(out), to="onnx", example_inputs=(torch.ones(2, 3),))
    assert result.parity.passed and out.exists()
    reference_calls = [(cwd, env) for cwd, env in seen if "reference-cwd" in cwd]
    assert reference_calls, seen
    for cwd, has_secret in reference_calls:
        assert os.path.dirname(os.path.dirname(cwd)) == os.path.realpath(out.parent)  # <out>/.mmconvert-tmp-*/reference-cwd
        assert os.path.basename(os.path.dirname(cwd)).startswith(".mmconvert-tmp-")
        assert not has_secret
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "s3cr3t"
    assert sorted(os.listdir(out.parent)) == ["spy.onnx"]  # no staging or working folder left


def _report_with_dropped() -> ParityReport:
    return ParityReport(reference="sm/", candidate="out.onnx", target="onnx", status="pass",
                        outputs=[OutputReport(name="y", status="pass", dtype="float32", shape=[2])],
                        dropped=[{"op": "WriteFile", "function": "__inference_serve_12", "node": "WriteFile"}])


def test_dropped_ops_are_named_in_every_report_form():
    from rich.console import Console

    from mmconvert.validators import render

    report = _report_with_dropped()
    assert report.summary()["dropped"] == ["WriteFile in __inference_serve_12"]
    console = Console(record=True, width=120)
    render.print_report(report, console)
    assert "dropped: WriteFile in __inference_serve_12" in console.export_text()
    text = render.to_json(report)
    assert json.loads(text)["dropped"][0]["op"] == "WriteFile"
    assert render.from_json(text).dropped == report.dropped
    assert "dropped: WriteFile in __inference_serve_12" in render.to_junit(report)
    assert "WriteFile in __inference_serve_12" in render.to_html(report)


def test_report_with_dropped_ops_matches_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from mmconvert.validators import render

    schema_path = os.path.join(os.path.dirname(render.__file__), "parity-report.schema.json")
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.validate(json.loads(render.to_json(_report_with_dropped())), schema)
