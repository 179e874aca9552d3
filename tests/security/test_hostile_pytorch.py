"""A PyTorch file is untrusted input: nothing in it runs (frontends/pytorch/safety.py).

Each hostile file is made here from a small ``torch.export.save`` (or ``torch.jit.save``) by
rewriting its zip: a pickle with a ``__reduce__`` payload where torch would unpickle, a shape
expression sympy would ``eval``, a node target torch would resolve by ``getattr``, an op with a
file effect.  ``mmconvert inspect`` (CLI, exit 2, one line, no traceback) and
``mmconvert.convert`` (``UnsafeSourceError``) refuse each, and the payload's marker file is
never made.  An ordinary ``.pt2`` and TorchScript file still convert with parity.
"""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import subprocess
import sys
import zipfile
from typing import Tuple

import pytest

torch = pytest.importorskip("torch")

import mmconvert  # noqa: E402
from mmconvert.ir.errors import UnsafeSourceError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return torch.relu(self.fc(x))


class Payload:
    """Unpickling it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path(self.marker).touch, ())


class FromFile(torch.nn.Module):
    def __init__(self, marker: str):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.marker = marker

    def forward(self, x):
        t = torch.from_file(self.marker, shared=True, size=4)
        return torch.relu(self.fc(x)) + t.sum()


class SetState(torch.nn.Module):
    """``__setstate__`` runs inside ``torch.jit.load``."""

    def __init__(self, marker: str):
        super().__init__()
        self.w = torch.ones(3)
        self.marker = marker

    def forward(self, x):
        return x * self.w

    @torch.jit.export
    def __getstate__(self) -> Tuple[torch.Tensor, str, bool]:
        return (self.w, self.marker, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, str, bool]):
        self.marker = state[1]
        self.w = state[0] + torch.from_file(state[1], shared=True, size=3)
        self.training = state[2]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    d = tmp_path_factory.mktemp("exports")
    m = Tiny().eval()
    static = d / "tiny.pt2"
    torch.export.save(torch.export.export(m, (torch.randn(2, 4),)), static)
    dynamic = d / "tiny_dyn.pt2"
    torch.export.save(torch.export.export(m, (torch.randn(2, 4),), dynamic_shapes=({0: torch.export.Dim("batch")},)),
                      dynamic)
    return {"static": str(static), "dynamic": str(dynamic)}


def _rewrite(src, dst, edit):
    """Copy the archive ``src`` to ``dst``; ``edit(members)`` changes the dict of relative
    member name -> bytes (the archive's root folder is kept)."""
    with zipfile.ZipFile(src) as z:
        names = z.namelist()
        root = names[0].split("/", 1)[0]
        members = {n.split("/", 1)[1]: z.read(n) for n in names}
    edit(members)
    with zipfile.ZipFile(dst, "w") as z:
        for rel, data in members.items():
            z.writestr(f"{root}/{rel}", data)
    return str(dst)


def _json_edit(name, fn):
    def edit(members):
        doc = json.loads(members[name])
        fn(doc)
        members[name] = json.dumps(doc).encode()
    return edit


def _use_pickle_weight(marker):
    def edit(members):
        cfg = json.loads(members["data/weights/model_weights_config.json"])
        entry = cfg["config"]["fc.weight"]
        entry["use_pickle"] = True
        members["data/weights/" + entry["path_name"]] = pickle.dumps(Payload(marker))
        members["data/weights/model_weights_config.json"] = json.dumps(cfg).encode()
    return edit


def _opaque_constant(marker):
    def edit(members):
        cfg = json.loads(members["data/constants/model_constants_config.json"])
        cfg["config"]["evil"] = {"path_name": "opaque_obj_0", "is_param": False, "use_pickle": True,
                                 "tensor_meta": None}
        members["data/constants/opaque_obj_0"] = pickle.dumps(Payload(marker))
        members["data/constants/model_constants_config.json"] = json.dumps(cfg).encode()
    return edit


def _set_expr(marker):
    def fn(doc):
        x = doc["graph_module"]["graph"]["tensor_values"]["x"]
        x["sizes"][0]["as_expr"]["expr_str"] = f"s77 + 0*len(str(__import__('pathlib').Path({str(marker)!r}).touch()))"
    return fn


def _set_target(doc):
    for node in doc["graph_module"]["graph"]["nodes"]:
        if node["target"] == "torch.ops.aten.relu.default":
            node["target"] = "torch.os.system"


def _set_guard(marker):
    def fn(doc):
        doc["guards_code"] = [f"__import__('pathlib').Path({str(marker)!r}).touch() is None"]
    return fn


def _lib_member(members):
    members["data/aotinductor/model/model.so"] = b"\x7fELF"


# case -> (which export, the edit given the marker, a word the message names)
CASES = {
    "sample_inputs": ("static", lambda m: lambda ms: ms.update({"data/sample_inputs/model.pt": pickle.dumps(Payload(m))}),
                      "data/sample_inputs/model.pt"),
    "legacy_weights": ("static", lambda m: lambda ms: ms.update({"data/weights/model.pt": pickle.dumps(Payload(m))}),
                       "data/weights/model.pt"),
    "use_pickle_weight": ("static", _use_pickle_weight, "use_pickle"),
    "opaque_constant": ("static", _opaque_constant, "opaque_obj_0"),
    "expr_str": ("dynamic", lambda m: _json_edit("models/model.json", _set_expr(m)), "shape expression"),
    "target": ("static", lambda m: _json_edit("models/model.json", _set_target), "torch.os.system"),
    "guards_code": ("static", lambda m: _json_edit("models/model.json", _set_guard(m)), "guard"),
    "aotinductor": ("static", lambda m: _lib_member, "aotinductor"),
}


def _torchscript(tmp_path, cls, marker):
    path = tmp_path / f"{cls.__name__}.pt"
    torch.jit.save(torch.jit.script(cls(str(marker))), str(path))
    return str(path)


@pytest.fixture(scope="module")
def hostile(exports, tmp_path_factory):
    """Every hostile file, each with its own marker; made once."""
    d = tmp_path_factory.mktemp("hostile")
    files = {}
    for case, (which, make, word) in CASES.items():
        marker = d / f"{case}.marker"
        files[case] = (_rewrite(exports[which], d / f"{case}.pt2", make(marker)), marker, word)
    for cls in (FromFile, SetState):
        marker = d / f"{cls.__name__}.marker"
        files[cls.__name__] = (_torchscript(d, cls, marker), marker, "aten::from_file")
    return files


def _no_marker(files):
    made = [case for case, (_, marker, _) in files.items() if os.path.exists(marker)]
    assert not made, f"a payload ran: {made}"


# one process runs the CLI's main() once per file (each real start costs seconds of imports);
# two files also go through a real ``python -m mmconvert`` start, side by side
_DRIVER = """
import contextlib, io, json, sys
from mmconvert.cli import main
results = {}
for case, path in json.loads(sys.argv[1]).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(["inspect", path])
            code = 0
        except SystemExit as e:
            code = e.code
    results[case] = [code, err.getvalue()]
print(json.dumps(results))
"""


def _check_cli(case, code, err, word, failures):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    if code != 2 or "Traceback" in err or len(lines) != 1 or word not in err:
        failures.append(f"{case}: exit {code}, stderr={err!r}")


def test_inspect_refuses_every_hostile_file(hostile):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), COLUMNS="400")
    real = ("sample_inputs", "FromFile")
    procs = {case: subprocess.Popen([sys.executable, "-m", "mmconvert", "inspect", hostile[case][0]], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for case in real}
    driver = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps({c: p for c, (p, _, _) in hostile.items()})],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert driver.returncode == 0, driver.stderr[-2000:]
    failures = []
    for case, (code, err) in json.loads(driver.stdout.strip().splitlines()[-1]).items():
        _check_cli(case, code, err, hostile[case][2], failures)
    for case, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        _check_cli(f"{case} (python -m mmconvert)", proc.returncode, err, hostile[case][2], failures)
    assert not failures, "\n".join(failures)
    _no_marker(hostile)


def test_convert_refuses_every_hostile_file(hostile, tmp_path):
    for case, (path, _, word) in hostile.items():
        with pytest.raises(UnsafeSourceError) as info:
            mmconvert.convert(path, str(tmp_path / f"{case}.onnx"), to="onnx")
        assert word in str(info.value), case
        assert not os.path.exists(tmp_path / f"{case}.onnx")
    _no_marker(hostile)


def test_trust_source_ops_passes_the_op_check(hostile):
    """With trust the op check is off: the module is captured (and from_file runs, which is
    what trusting the model's code means)."""
    path, marker, _ = hostile["FromFile"]
    try:
        mmconvert.inspect(path, trust_source_ops=True, input_shapes={"x": [2, 4]})
    except UnsafeSourceError as e:  # pragma: no cover - the failure this test is about
        pytest.fail(f"trust_source_ops=True still refused: {e}")
    except mmconvert.errors.MMConvertError:
        pass  # unsupported or unreadable after the check: fine
    finally:
        if os.path.exists(marker):
            os.remove(marker)


def test_trust_never_lets_a_pickle_through(hostile, tmp_path):
    for case in ("sample_inputs", "opaque_constant", "target", "expr_str"):
        path, marker, word = hostile[case]
        with pytest.raises(UnsafeSourceError) as info:
            mmconvert.load(path, trust_source_ops=True)
        assert word in str(info.value), case
        assert not os.path.exists(marker)


def _initializer_names(path):
    import onnx

    return {t.name for t in onnx.load(path).graph.initializer}


def test_ordinary_pt2_still_converts(exports, tmp_path):
    out = tmp_path / "tiny.onnx"
    result = mmconvert.convert(exports["static"], str(out), to="onnx")
    assert result.parity is not None and result.exit_code == 0
    assert any("fc.weight" in n for n in _initializer_names(str(out)))
    out2 = tmp_path / "tiny_dyn.onnx"
    mmconvert.convert(exports["dynamic"], str(out2), to="onnx")


def test_ordinary_torchscript_still_converts(tmp_path):
    path = tmp_path / "tiny_ts.pt"
    torch.jit.save(torch.jit.script(Tiny().eval()), str(path))
    out = tmp_path / "tiny_ts.onnx"
    result = mmconvert.convert(str(path), str(out), to="onnx", input_shapes={"x": [2, 4]})
    assert result.parity is not None and result.exit_code == 0
    assert any("fc.weight" in n for n in _initializer_names(str(out)))


def test_the_reference_comes_from_the_checked_load(hostile):
    """The parity reference is returned with the graph by the frontend (open_source), built
    from the source it checked: there is no second way in that could skip the checks."""
    from mmconvert.frontends import open_source

    path, marker, _ = hostile["FromFile"]
    with pytest.raises(UnsafeSourceError):
        open_source("pytorch", path, input_shapes={"x": [2, 4]})
    assert not os.path.exists(marker)


@pytest.mark.parametrize("case", ["sample_inputs", "legacy_weights", "use_pickle_weight", "opaque_constant"])
def test_second_guard_alone_stops_the_pickles(hostile, monkeypatch, case):
    """With the static archive check switched off, the guard around torch.export.load still
    keeps every pickle from running (and restores torch.load after)."""
    from mmconvert.frontends.pytorch import safety

    path, marker, _ = hostile[case]
    real_load = torch.load
    monkeypatch.setattr(safety, "check_pt2_archive", lambda *a, **k: None)
    with pytest.raises(UnsafeSourceError):
        safety.load_pt2(path)
    assert torch.load is real_load
    assert not os.path.exists(marker)
