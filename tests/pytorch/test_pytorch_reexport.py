"""Quality bar: the emitted module re-exports to ONNX (torch.onnx.export) and the
re-exported file reproduces the outputs on ONNX Runtime."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import conformance as C  # noqa: E402
from pytorch_harness import emit  # noqa: E402

@pytest.mark.parametrize("path", C.light_models(), ids=lambda p: os.path.basename(p)[:-5])
def test_emitted_module_reexports_to_onnx(path, tmp_path):
    case = C.light_case(path)
    inputs, expected = case.data_sets[0]
    model = emit(path, str(tmp_path / "pt"))
    out = tmp_path / "reexported.onnx"
    args = tuple(torch.from_numpy(np.array(x)) for x in inputs)
    torch.onnx.export(model, args, str(out), dynamo=True, verbose=False)
    sess = C.session(str(out))
    got = sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), inputs)})
    C.check_outputs(got, expected, rtol=1e-3, atol=1e-4)
