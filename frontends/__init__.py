"""Frontends: one module per source framework, each turning a model into an ``ir.Graph``."""
