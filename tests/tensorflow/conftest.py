"""TensorFlow backend tests: make ``tests/conformance.py`` importable as ``conformance``."""

import os
import sys

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
