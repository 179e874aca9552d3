"""Packaging: one top-level package, ``mmconvert``; the folders ``ir``, ``frontends``,
``backends`` and ``validators`` of the repository are its subpackages (everything else is in
pyproject.toml)."""

from setuptools import find_namespace_packages, setup

SUBPACKAGES = ("ir", "frontends", "backends", "validators")

packages = ["mmconvert"] + [f"mmconvert.{p}" for p in find_namespace_packages(include=[f"{s}*" for s in SUBPACKAGES])
                            if "__pycache__" not in p]
setup(
    packages=packages,
    package_dir={"mmconvert": "mmconvert", **{f"mmconvert.{s}": s for s in SUBPACKAGES}},
    package_data={"mmconvert.validators": ["render/*.json", "render/*.xsd"]},
)
