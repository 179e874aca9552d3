"""rnn ops."""

from __future__ import annotations

from ..emitter import NodeCtx, lit, torch_dtype  # noqa: F401
from ..registry import register  # noqa: F401
