"""Identifiers and literals for emitted source: the only ways a model's strings reach code.

A model file is untrusted input.  Every name from it becomes an identifier through
:class:`Namespace` (NFKC-normalized, checked with ``str.isidentifier``, never a keyword,
builtin or a name the artifact itself defines, unique); every other string becomes a
literal through :func:`pystr` (``repr``) or :func:`docstring` (a literal that
``ast.literal_eval`` proves equal to the text).  Numbers go through :func:`lit`.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import math
import re
import unicodedata
from typing import Any, Iterable

import numpy as np

# names the emitted code itself reads: Python keywords and every builtin
PYTHON_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
_SUFFIX = re.compile(r"^(.*?)_(\d+)$")


def identifier(name: str, default: str = "v") -> str:
    """A valid Python identifier that reads like ``name`` (not yet unique, not checked
    against reserved names: use :meth:`Namespace.create` for that).

    Python folds identifiers with NFKC when it parses them (``ﬁ`` is ``fi``), so the name
    is normalized first; then every character that cannot continue an identifier becomes
    ``_``, runs of ``_`` are squeezed, and a name that cannot start an identifier gets a
    prefix.
    """
    s = unicodedata.normalize("NFKC", str(name))
    s = "".join(ch if ("_" + ch).isidentifier() else "_" for ch in s)
    s = re.sub(r"_+", "_", s).strip("_")
    if not s:
        return default
    if not s.isidentifier():  # starts with a digit or another continue-only character
        s = f"{default}_{s}"
    s = unicodedata.normalize("NFKC", s)
    if not s.isidentifier():  # pragma: no cover - NFKC of a valid identifier stays valid
        return default
    return s


class Namespace:
    """One identifier namespace (torch.fx's policy): reserved names are never handed out,
    and each base name gets a counter (``x``, ``x_1``, ``x_2`` ...)."""

    def __init__(self, reserved: Iterable[str] = (), default: str = "v"):
        self._used: set[str] = set(PYTHON_RESERVED) | {unicodedata.normalize("NFKC", r) for r in reserved}
        self._next: dict[str, int] = {}
        self.default = default

    def reserve(self, *names: str) -> None:
        self._used.update(unicodedata.normalize("NFKC", n) for n in names)

    def __contains__(self, name: str) -> bool:
        return unicodedata.normalize("NFKC", name) in self._used

    def create(self, candidate: str) -> str:
        """A fresh identifier derived from ``candidate``."""
        base = identifier(candidate, self.default)
        name = base
        if name in self._used or keyword.iskeyword(name):
            m = _SUFFIX.match(base)
            if m and m.group(1):
                base = m.group(1)
            i = self._next.get(base, 1)
            name = f"{base}_{i}"
            while name in self._used:
                i += 1
                name = f"{base}_{i}"
            self._next[base] = i + 1
        self._used.add(name)
        return name


def pystr(value: str | bytes) -> str:
    """A Python literal for a string from a model."""
    return repr(value)


def docstring(text: str, indent: str = "") -> str:
    """A triple-quoted docstring for ``text`` when that literal provably means ``text``
    (``ast.literal_eval``), else its ``repr``: no text can end the literal early."""
    body = text.replace("\n", "\n" + indent) if indent else text
    if "\\" not in text and '"' not in text and all(ch.isprintable() or ch == "\n" for ch in text):
        literal = f'"""{body}"""'
        try:
            if ast.literal_eval(literal) == body:
                return literal
        except (SyntaxError, ValueError):
            pass
    return repr(text)


def comment(text: str) -> str:
    """``text`` made safe for a ``#`` comment: one line, printable characters only."""
    return "".join(ch if ch.isprintable() else " " for ch in str(text))


def lit(value: Any) -> str:
    """A Python literal for a number, bool, string or nested list (inf and nan through math)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(lit(v) for v in value) + "]"
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            return "math.nan"
        if math.isinf(f):
            return "math.inf" if f > 0 else "-math.inf"
        return repr(f)
    if isinstance(value, (str, bytes)):
        return pystr(value)
    if value is None:
        return "None"
    raise TypeError(f"no literal for a {type(value).__name__}")
