"""Vetrina: self-hosted shoppable video streaming."""

__version__ = "0.1.0"
