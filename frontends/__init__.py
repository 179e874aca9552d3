"""Frontends: one module per source framework, each turning a model into an ``ir.Graph``.

Every frontend module exposes the same names, so the API and the CLI reach a new source
framework without an if-chain (``--from`` choices come from :data:`FRONTENDS`):

- ``NAME``: the framework's name (``--from NAME``);
- ``REQUIRES``: the pip extra it needs (``None`` if none);
- ``detect(source) -> bool``: whether ``source`` (a path or an in-memory model) is this
  framework's, judged by content (a file's bytes, a folder's files, an object's type),
  cheaply and without importing a framework the source does not need;
- ``detect_spec(text) -> bool`` (optional): whether a string that is no path names a model
  this frontend loads (``package.module:factory`` for a PyTorch module), without importing
  anything;
- ``load(source, **options) -> ir.Graph``: the model as a validated graph at its own
  opset (the pipeline's ``normalize`` stage brings it to the canonical one); the paths it
  read go to ``graph.source_files`` so that no output ever replaces them;
- ``open_source(source, **options) -> LoadedSource`` (optional): the graph together with
  the parity reference, a runner of the source in its own framework (``ir/runner.py``'s
  protocol) built from the very model ``load`` read and checked.  A frontend without it
  (ONNX, IR) is judged on ONNX Runtime running the source as ONNX (``reference=None``);
  :func:`open_source` gives every frontend that shape.

Detection asks the frontends in :data:`FRONTENDS` order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mmconvert.ir.errors import InputError, UnsupportedError
from mmconvert.ir.graph import Graph
from mmconvert.ir.plugins import load_plugin

FRONTENDS = ("onnx", "ir", "pytorch", "tensorflow")
# when no frontend recognizes a file's content, its suffix names the frontend whose loader
# then says precisely what is wrong with it ("empty file", "truncated" ...)
SUFFIXES = {".onnx": "onnx", ".pt2": "pytorch", ".pt": "pytorch", ".pth": "pytorch", ".ptl": "pytorch",
            ".keras": "tensorflow", ".h5": "tensorflow", ".hdf5": "tensorflow"}


def get_frontend(name: str):
    """The frontend module for ``name``."""
    return load_plugin(f"mmconvert.frontends.{name}", name, FRONTENDS, "framework")


@dataclass
class LoadedSource:
    """A loaded source: its graph and the runner of the source itself (the parity reference;
    None: the source as ONNX, on ONNX Runtime)."""

    graph: Graph
    reference: Any = None  # an ir.runner.RunnerProtocol


def open_source(framework: str, source, **options) -> LoadedSource:
    """``source`` loaded by the ``framework`` frontend, with its parity reference when the
    frontend has one (see the module docstring)."""
    frontend = get_frontend(framework)
    if hasattr(frontend, "open_source"):
        return frontend.open_source(source, **options)
    return LoadedSource(frontend.load(source, **options))


def detect_spec(text: str) -> str | None:
    """The frontend whose ``detect_spec`` claims ``text`` (a source that is not a path), or None."""
    for name in FRONTENDS:
        try:
            frontend = get_frontend(name)
        except (InputError, UnsupportedError):
            continue
        if getattr(frontend, "detect_spec", None) and frontend.detect_spec(text):
            return name
    return None


def detect(source) -> str:
    """The name of the frontend that recognizes ``source``."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            spec = detect_spec(path)
            if spec:
                return spec
            raise InputError(f"{path}: no such file or folder")
    for name in FRONTENDS:
        if get_frontend(name).detect(source):
            return name
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        by_suffix = SUFFIXES.get(os.path.splitext(os.fspath(source))[1].lower())
        if by_suffix:
            return by_suffix
    what = os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"a {type(source).__name__}"
    raise InputError(f"{what}: cannot tell which framework this model is from",
                     hint=f"pass --from / framework= (one of {', '.join(FRONTENDS)})")
