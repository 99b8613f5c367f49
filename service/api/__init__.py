"""The HTTP layer: routes, schemas, errors (no ONNX Runtime here)."""
