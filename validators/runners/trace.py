"""Per-layer capture for runners of emitted Python code (PyTorch, TensorFlow): the model's
forward function runs under a trace function (``sys.settrace``) that watches its frame
and, at every line, copies each newly bound local the manifest maps to IR tensors; in
isolated mode ``rebind`` may replace that local by the reference value, so every following
statement runs on reference inputs."""

from __future__ import annotations

import ctypes
import sys
from typing import Callable


def manifest_locals(manifest: dict, tensors) -> dict[str, list[str]]:
    """Local variable -> the IR tensors among ``tensors`` the manifest says it holds."""
    wanted = set(tensors)
    idents: dict[str, list[str]] = {}
    for tensor, expr in manifest.get("tensors", {}).items():
        if expr.isidentifier() and tensor in wanted:
            idents.setdefault(expr, []).append(tensor)
    return idents


def capture_locals(code, call: Callable[[], object], idents: dict[str, list[str]], is_value: Callable,
                   to_numpy: Callable, rebind: Callable | None = None) -> dict:
    """Run ``call()``; return {tensor: array} for the locals of ``code``'s frame in ``idents``.
    ``rebind(tensor, value)`` returns a replacement for the local (or None to keep it)."""
    captured: dict = {}
    seen: set[str] = set()

    def local_trace(frame, event, arg):
        if event not in ("line", "return"):
            return local_trace
        locals_ = frame.f_locals
        fresh = [k for k in idents if k not in seen and k in locals_]
        changed = False
        for ident in fresh:
            seen.add(ident)
            value = locals_[ident]
            if not is_value(value):
                continue
            for tensor in idents[ident]:
                captured[tensor] = to_numpy(value)
            if rebind is not None and event == "line":
                for tensor in idents[ident]:
                    new = rebind(tensor, value)
                    if new is not None:
                        locals_[ident] = new
                        changed = True
                        break
        if changed:
            ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
        return local_trace

    def global_trace(frame, event, arg):
        return local_trace if frame.f_code is code else None

    old = sys.gettrace()
    sys.settrace(global_trace)
    try:
        call()
    finally:
        sys.settrace(old)
    return captured
