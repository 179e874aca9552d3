"""PyTorch backend: ``ir.Graph`` -> a folder with ``model.py`` (a ``torch.nn.Module``) and its weights.

See docs/pytorch-backend.md for the artifact and what the emitted code looks like.
"""

from .emitter import generate, missing_ops, save, supported_ops

REQUIRES = "torch"

__all__ = ["REQUIRES", "generate", "missing_ops", "save", "supported_ops"]
