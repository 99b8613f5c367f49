"""attnserve: train, export and serve residual-attention NLP models."""

__version__ = "0.1.0"
