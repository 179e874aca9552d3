"""Installing mmconvert adds one top-level package, ``mmconvert``: its IR, frontends,
backends and validators are subpackages, so PyPI's ``validators`` (or ``ir``, ``backends``)
installed beside it is neither shadowed nor shadows it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBPACKAGES = ("ir", "frontends", "backends", "validators")
OLD_IMPORT = re.compile(rf"^\s*(from|import) ({'|'.join(SUBPACKAGES)})(\.|\s|$)", re.M)


def _python_files():
    for top in ("mmconvert", *SUBPACKAGES, "tests", "benchmarks", "scripts"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            if "__pycache__" in folder:
                continue
            yield from (os.path.join(folder, f) for f in files if f.endswith(".py"))


def test_no_module_imports_a_subpackage_as_top_level():
    found = []
    for path in _python_files():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        found += [f"{os.path.relpath(path, ROOT)}: {m.group(0).strip()}" for m in OLD_IMPORT.finditer(text)]
    assert not found, "import these through mmconvert (from mmconvert.ir import ...):\n" + "\n".join(found)


def test_subpackages_are_mmconvert_subpackages():
    import mmconvert
    import mmconvert.validators.core

    assert mmconvert.validators.core.__name__ == "mmconvert.validators.core"
    assert not any(name.split(".")[0] in SUBPACKAGES for name in sys.modules), \
        [n for n in sys.modules if n.split(".")[0] in SUBPACKAGES]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("setuptools", minversion="68")
    src = tmp_path_factory.mktemp("src")
    for name in ("mmconvert", *SUBPACKAGES):
        shutil.copytree(os.path.join(ROOT, name), src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src),
                        "-w", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (path,) = [p for p in out.iterdir() if p.suffix == ".whl"]
    return path


def test_wheel_has_one_top_level_package(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"mmconvert"}
    for sub in SUBPACKAGES:
        assert f"mmconvert/{sub}/__init__.py" in names
    assert "mmconvert/validators/render/parity-report.schema.json" in names
    assert "mmconvert/backends/codegen/core.py" in names  # a folder without __init__.py is packaged too


def test_installed_beside_a_validators_package_both_import(wheel, tmp_path):
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                        str(target), str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    # a stand-in for PyPI's validators (the data-validation package), installed beside it
    (target / "validators").mkdir()
    (target / "validators" / "__init__.py").write_text("WHO = 'the other validators package'\n")
    code = ("import validators, mmconvert, mmconvert.validators.core, mmconvert.frontends, mmconvert.backends;"
            "print(validators.WHO); print(mmconvert.__file__); print(mmconvert.validators.core.__file__);"
            "r = mmconvert.convert(%r, %r, to='onnx'); print(r.parity.status)")
    out = tmp_path / "tiny.onnx"
    # -S: no site processing, so this checkout's editable install is not on the path; the
    # dependencies (onnx, onnxruntime ...) come from this interpreter's site-packages
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), sysconfig.get_paths()["purelib"],
                                                       sysconfig.get_paths()["platlib"]]))
    r = subprocess.run([sys.executable, "-S", "-c", code % (os.path.join(ROOT, "examples", "tiny_cnn.onnx"), str(out))],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    who, top, core, status = r.stdout.split("\n")[:4]
    assert who == "the other validators package"
    assert top.startswith(str(target)) and core.startswith(str(target / "mmconvert" / "validators"))
    assert status == "pass" and out.exists()
