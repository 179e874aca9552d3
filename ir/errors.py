"""Typed errors for the whole product, in one module.

``ir`` is the bottom of the dependency graph, so the error types live here and
``mmconvert.errors`` re-exports them.  Every error carries the process exit code
the CLI uses for it (see DESIGN.md: 1 parity mismatch, 2 bad input, 3 unsupported).
"""

from __future__ import annotations


class MMConvertError(Exception):
    """Base class: an expected failure with a message that says what to do."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class InputError(MMConvertError):
    """Bad usage or unreadable input: a missing path, a wrong option (exit 2)."""

    exit_code = 2


class ModelLoadError(InputError):
    """The file exists but is not a model we can read (truncated, wrong format)."""


class UnsafeSourceError(InputError):
    """The source would run code or reach outside the conversion (a pickle that names a
    callable, an op with file-system, network or process effects): refused before any of
    it ran (exit 2).  ``op`` and ``where`` name the offending op (or archive member) and the
    function (or file) that holds it; ``--trust-source-ops`` (``trust_source_ops=True``)
    lets an op through, never a pickle."""

    def __init__(self, message: str, *, op: str | None = None, where: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.op = op
        self.where = where


class GraphValidationError(InputError):
    """The graph breaks an ONNX rule: unknown op, wrong attribute, dangling tensor."""

    def __init__(self, message: str, *, node: str | None = None, hint: str | None = None):
        if node is not None:
            message = f"node '{node}': {message}"
        super().__init__(message, hint=hint)
        self.node = node


class UnsupportedError(MMConvertError):
    """Something valid that this version cannot handle (exit 3)."""

    exit_code = 3


class UnsupportedOpsError(UnsupportedError):
    """A target lacks handlers for some ops; lists every one before any work is done."""

    def __init__(self, target: str, missing: dict[tuple[str, str], list[str]]):
        self.target = target
        self.missing = missing
        lines = [f"{target} backend does not support {len(missing)} op type(s):"]
        for (domain, op), nodes in sorted(missing.items()):
            shown = ", ".join(nodes[:5]) + (", ..." if len(nodes) > 5 else "")
            lines.append(f"  {(domain + '::') if domain else ''}{op} x{len(nodes)}: {shown}")
        super().__init__("\n".join(lines))


class OpsetConversionError(UnsupportedError):
    """A node cannot be moved between opset versions."""

    def __init__(self, message: str, *, node: str | None = None):
        super().__init__(f"node '{node}': {message}" if node else message)
        self.node = node


class ParityError(MMConvertError):
    """The converted model's outputs differ from the reference (exit 1)."""

    exit_code = 1
