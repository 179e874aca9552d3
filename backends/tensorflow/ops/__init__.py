"""Op handlers of the TensorFlow backend, one module per op family.

Importing this package registers every handler with :mod:`backends.tensorflow.registry`.
"""

from . import (activation, control, conv, elementwise, linalg, misc, norm, pool, reduce, resize, rnn,  # noqa: F401
               sequence, shape, strings, tensor)

from mmconvert.backends.codegen.pylists import register_all as _shared  # noqa: E402 - sequences, optionals, aliases
from ..registry import REGISTRY as _REGISTRY  # noqa: E402

_shared(_REGISTRY)
