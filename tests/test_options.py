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
    declared = {**parity_options(), **load_options("onnx"), **get_backend("onnx").OPTIONS}
    assert declared and all(isinstance(v, str) and v for v in declared.values())


def test_cli_unknown_flag_is_a_usage_error():
    r = subprocess.run([sys.executable, "-m", "mmconvert", "convert", EXAMPLE, "--to", "onnx", "-o", "x.onnx",
                        "--atoll", "1"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "--atoll" in r.stderr and "Traceback" not in r.stderr


def test_cli_opset_only_with_the_onnx_target(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mmconvert", "convert", EXAMPLE, "--to", "pytorch", "-o",
                        str(tmp_path / "pt"), "--opset", "13"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "--opset: only with --to onnx" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "pt").exists()
