"""The typed errors users see (defined in ``ir.errors``, re-exported here)."""

from mmconvert.ir.errors import (GraphValidationError, InputError, MMConvertError, ModelLoadError,
                       OpsetConversionError, ParityError, UnsafeSourceError, UnsupportedError,
                       UnsupportedOpsError)

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT, EXIT_UNSUPPORTED, EXIT_INTERNAL = 0, 1, 2, 3, 4

__all__ = [
    "MMConvertError", "InputError", "ModelLoadError", "GraphValidationError", "UnsupportedError",
    "UnsupportedOpsError", "OpsetConversionError", "ParityError", "UnsafeSourceError",
    "EXIT_OK", "EXIT_MISMATCH", "EXIT_BAD_INPUT", "EXIT_UNSUPPORTED", "EXIT_INTERNAL",
]
