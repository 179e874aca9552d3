"""IR frontend: an mmconvert IR folder (``graph.json`` + ``weights.safetensors``) or an
``ir.Graph`` in memory."""

from __future__ import annotations

import os

from mmconvert.ir.graph import Graph

NAME = "ir"
REQUIRES = None


def detect(source) -> bool:
    if isinstance(source, Graph):
        return True
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = os.path.join(os.fspath(source), "graph.json")
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            return b"mmconvert-ir" in f.read(4096)
    except OSError:
        return False


OPTIONS: dict = {}  # an IR folder takes no load option


def load(source, *, trust_source_ops: bool = False) -> Graph:
    """An IR folder (or a Graph, as it is); ``trust_source_ops`` changes nothing: nothing runs."""
    if isinstance(source, Graph):
        return source
    from mmconvert import ir

    graph = ir.load(os.fspath(source))
    graph.source_files = (os.path.abspath(os.fspath(source)),)
    return graph
