"""Training loops: ``attnserve train classifier|translator``."""
