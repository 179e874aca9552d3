"""Op handlers of the TensorFlow backend, one module per op family.

Importing this package registers every handler with :mod:`backends.tensorflow.registry`.
"""

from . import activation, conv, elementwise, linalg, norm, pool, reduce, shape, tensor  # noqa: F401
