"""The IR's canonical opset and schema look-ups through ``onnx.defs``.

Why 28: it is the newest default-domain opset of the pinned ``onnx`` (1.23), and
ONNX Runtime 1.32 runs models that declare it.  Normalizing *up* to the newest opset
only ever walks adapters in the direction ONNX itself documents (attributes becoming
inputs, semantics pinned down), so every frontend (torch.onnx emits 18, tf2onnx 15-18,
old zoo files 7-9) converges on the one vocabulary the backends implement.  See
docs/architecture.md, "Canonical opset".
"""

from __future__ import annotations

from functools import lru_cache

import onnx.defs

CANONICAL_OPSET = 28
DEFAULT_DOMAINS = ("", "ai.onnx")


def is_default_domain(domain: str) -> bool:
    return domain in DEFAULT_DOMAINS


@lru_cache(maxsize=None)
def get_schema(op_type: str, version: int, domain: str = ""):
    """The schema in force for ``op_type`` at ``version`` of ``domain`` (None if none)."""
    domain = "" if is_default_domain(domain) else domain
    try:
        return onnx.defs.get_schema(op_type, version, domain)
    except onnx.defs.SchemaError:
        return None


@lru_cache(maxsize=None)
def schema_versions(op_type: str, domain: str = "") -> tuple[int, ...]:
    """Every since_version the op has had, ascending."""
    domain = "" if is_default_domain(domain) else domain
    return tuple(sorted({s.since_version for s in onnx.defs.get_all_schemas_with_history()
                         if s.name == op_type and s.domain == domain}))
