"""The serving engine: batching and the model handlers (no HTTP here)."""
