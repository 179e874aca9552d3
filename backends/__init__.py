"""Backends: one package per target, each emitting an artifact from an ``ir.Graph``."""
