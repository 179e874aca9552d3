import os
import sys

# tests/conformance.py is a helper module shared by the suites and the benchmarks
sys.path.insert(0, os.path.dirname(__file__))
