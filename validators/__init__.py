"""Numerical parity: a reference (the source as ONNX on ONNX Runtime) against a candidate
artifact, per output and per layer, with reports for people and for CI."""

from .report import LayerReport, OutputReport, ParityReport, SCHEMA_VERSION

__all__ = ["LayerReport", "OutputReport", "ParityReport", "SCHEMA_VERSION"]
