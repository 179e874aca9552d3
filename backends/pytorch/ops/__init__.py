"""Op handlers of the PyTorch backend, one module per op family.

Importing this package registers every handler with :mod:`backends.pytorch.registry`.
"""

from . import (activation, attention, control, conv, elementwise, linalg, misc, norm,  # noqa: F401
               pool, reduce, resize, rnn, sequence, shape, tensor)

from mmconvert.backends.codegen.pylists import register_all as _shared  # noqa: E402 - sequences, optionals, aliases
from ..registry import REGISTRY as _REGISTRY  # noqa: E402

_shared(_REGISTRY)
