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


def check_opsets(opset_imports: dict[str, int]) -> None:
    """Refuse opset versions the installed onnx does not know (they would be read as the
    newest it knows, silently changing what ops mean)."""
    from .errors import GraphValidationError, UnsupportedError

    for domain, version in opset_imports.items():
        if not isinstance(domain, str) or not isinstance(version, int) or isinstance(version, bool) \
                or not 1 <= version < 2**31:
            raise GraphValidationError(f"opset import of domain {domain!r} has version {version!r}")
    newest = onnx.defs.onnx_opset_version()
    version = opset_imports.get("", opset_imports.get("ai.onnx"))
    if version is not None and version > newest:
        raise UnsupportedError(f"the model uses opset {version}, newer than the {newest} the installed onnx"
                               f" {onnx.__version__} knows", hint=f"upgrade onnx and mmconvert, or export the model"
                               f" at opset {CANONICAL_OPSET} or lower")
