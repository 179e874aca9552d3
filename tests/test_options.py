"""Options are declared (each frontend's load options, each backend's emit options, the
parity step's) and anything else is refused, naming the closest valid one: a typo is an
error, never a silently ignored keyword."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import mmconvert
from mmconvert.api import load_options, parity_options
from mmconvert.backends import get_backend
from mmconvert.ir.errors import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn.onnx")


@pytest.mark.parametrize("call, typo, meant", [
    (lambda out, **kw: mmconvert.convert(EXAMPLE, out, to="onnx", **kw), "atoll", "atol"),
    (lambda out, **kw: mmconvert.convert(EXAMPLE, out, to="onnx", **kw), "optimise", "optimize"),
    (lambda out, **kw: mmconvert.convert(EXAMPLE, out, to="onnx", **kw), "opst", "opset"),
    (lambda out, **kw: mmconvert.validate(EXAMPLE, EXAMPLE, **kw), "sample", "samples"),
    (lambda out, **kw: mmconvert.optimize(EXAMPLE, out, **kw), "rtoll", "rtol"),
    (lambda out, **kw: mmconvert.load(EXAMPLE, **kw), "infer_shape", "infer_shapes"),
    (lambda out, **kw: mmconvert.inspect(EXAMPLE, **kw), "upgrade_opsets", "upgrade_opset"),
])
def test_unknown_keyword_names_the_closest_option(tmp_path, call, typo, meant):
    out = str(tmp_path / "out.onnx")
    with pytest.raises(InputError) as e:
        call(out, **{typo: 1})
    assert f"unknown option '{typo}'" in str(e.value) and f"did you mean '{meant}'" in str(e.value)
    assert not os.path.exists(out)


def test_an_option_of_another_target_is_refused(tmp_path):
    with pytest.raises(InputError, match="unknown option 'saved_model'"):
        mmconvert.convert(EXAMPLE, str(tmp_path / "m.onnx"), to="onnx", saved_model=True)


def test_declared_options_still_work(tmp_path):
    result = mmconvert.convert(EXAMPLE, str(tmp_path / "m.onnx"), to="onnx", opset=17, atol=1e-5, samples=1,
                               seed=3, infer_shapes=True, trust_source_ops=True)
    assert result.opset == 17 and result.parity.passed and result.parity.seed == 3


def test_every_option_has_help_text():
    from mmconvert.ir.options import Option

    declared = {**parity_options(), **load_options("onnx"), **load_options("pytorch"), **load_options("tensorflow")}
    for target in ("onnx", "pytorch", "tensorflow"):
        declared.update(get_backend(target).OPTIONS)
    assert len(declared) > 20
    assert all(isinstance(v, Option) and len(v.help) > 10 for v in declared.values()), declared


def test_emit_and_load_take_only_their_declared_options():
    import inspect

    from mmconvert.frontends import get_frontend

    for target in ("onnx", "pytorch", "tensorflow"):
        backend = get_backend(target)
        params = inspect.signature(backend.emit).parameters
        assert not any(p.kind == p.VAR_KEYWORD for p in params.values()), target  # no **_ignored
        assert set(backend.OPTIONS) == set(list(params)[2:]), target
    for fw in ("onnx", "ir", "tensorflow"):
        frontend = get_frontend(fw)
        params = inspect.signature(getattr(frontend, "open_source", frontend.load)).parameters
        assert not any(p.kind == p.VAR_KEYWORD for p in params.values()), fw
        assert set(frontend.OPTIONS) <= set(params), fw


def test_cli_target_flags_are_the_backends_declarations():
    """Each backend option with a command-line spelling is a flag of ``convert``, and the flags
    of ``convert`` beyond the common ones are exactly those."""
    from mmconvert.cli import convert
    from mmconvert.ir.options import flag_name

    flags = {opt for p in convert.params for opt in p.opts}
    declared = {flag_name(name) for t in ("onnx", "pytorch", "tensorflow")
                for name, o in get_backend(t).OPTIONS.items() if o.cli != "api"}
    assert declared >= {"--opset", "--saved-model", "--tflite", "--tflite-quantize", "--inputs-as-nhwc",
                        "--format-code"}
    assert declared <= flags


def test_cli_builds_a_flag_for_a_new_backend_option(tmp_path):
    """A backend that declares a new option gets its flag, its usage check and its value in the
    API call, with no edit to the CLI."""
    code = """
import sys
from mmconvert.backends import get_backend
from mmconvert.ir.options import Option
pt = get_backend("pytorch")
pt.OPTIONS = {**pt.OPTIONS, "line_width": Option("the width model.py is laid out at", cli="int")}
seen = {}
real = pt.emit
def emit(graph, path, format_code=True, line_width=None):
    seen["line_width"] = line_width
    return real(graph, path, format_code=format_code)
pt.emit = emit
from mmconvert.cli import cli
try:
    cli.main(sys.argv[1:], standalone_mode=False)
finally:
    print("SEEN", seen)
"""
    base = [sys.executable, "-c", code, "convert", EXAMPLE, "-o"]
    r = subprocess.run(base + [str(tmp_path / "pt"), "--to", "pytorch", "--line-width", "88", "--no-validate"],
                       capture_output=True, text=True, cwd=ROOT)
    assert "SEEN {'line_width': 88}" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(base + [str(tmp_path / "m.onnx"), "--to", "onnx", "--line-width", "88"],
                       capture_output=True, text=True, cwd=ROOT)
    assert "--line-width: only with --to pytorch" in r.stdout + r.stderr and "SEEN {}" in r.stdout


def test_cli_flag_of_another_target_is_a_usage_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mmconvert", "convert", EXAMPLE, "--to", "onnx", "-o",
                        str(tmp_path / "m.onnx"), "--tflite-quantize", "float16"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "--tflite-quantize: only with --to tensorflow" in r.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_cli_unknown_flag_is_a_usage_error():
    r = subprocess.run([sys.executable, "-m", "mmconvert", "convert", EXAMPLE, "--to", "onnx", "-o", "x.onnx",
                        "--atoll", "1"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "--atoll" in r.stderr and "Traceback" not in r.stderr


def test_cli_opset_only_with_the_onnx_target(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mmconvert", "convert", EXAMPLE, "--to", "pytorch", "-o",
                        str(tmp_path / "pt"), "--opset", "13"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "--opset: only with --to onnx" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "pt").exists()


def test_every_emit_option_of_onnx_and_pytorch_works(tmp_path):
    """The declared emit options do what they say (TensorFlow's: tests/tensorflow)."""
    onnx_out = tmp_path / "m.onnx"
    result = mmconvert.convert(EXAMPLE, str(onnx_out), to="onnx", opset=18, external_data=True, validate=False)
    assert result.opset == 18 and (tmp_path / "m.onnx.data").exists()
    plain = mmconvert.convert(EXAMPLE, str(tmp_path / "plain"), to="pytorch", format_code=False, validate=False)
    laid_out = mmconvert.convert(EXAMPLE, str(tmp_path / "laid"), to="pytorch", validate=False)
    assert plain.output and laid_out.output
    code = (tmp_path / "plain" / "model.py").read_text()
    compile(code, "model.py", "exec")
    r = subprocess.run([sys.executable, "-m", "mmconvert", "convert", EXAMPLE, "--to", "pytorch", "-o",
                        str(tmp_path / "cli_plain"), "--no-format-code", "--no-validate"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cli_plain" / "model.py").read_text() == code
