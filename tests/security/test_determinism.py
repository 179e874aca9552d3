"""Converting the same model twice gives byte-identical artifacts."""

from __future__ import annotations

import os

import pytest

import conformance as C
import mmconvert

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn.onnx")
SOURCES = [EXAMPLE] + [m for m in C.light_models() if any(k in m for k in ("resnet50", "inception_v1"))]


def _files(path):
    if os.path.isfile(path):
        return {os.path.basename(path): open(path, "rb").read()}
    return {f: open(os.path.join(path, f), "rb").read() for f in sorted(os.listdir(path))}


@pytest.mark.parametrize("target", ["onnx", "pytorch"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: os.path.basename(p)[:-5])
def test_twice_the_same_bytes(tmp_path, source, target):
    if target == "pytorch":
        pytest.importorskip("torch")
    name = "m.onnx" if target == "onnx" else "m"
    first, second = tmp_path / "a" / name, tmp_path / "b" / name
    mmconvert.convert(source, first, to=target, validate=False)
    mmconvert.convert(source, second, to=target, validate=False)
    a, b = _files(str(first)), _files(str(second))
    assert a.keys() == b.keys()
    for f in a:
        assert a[f] == b[f], f"{f} differs between two conversions"
