"""ONNX export of trained checkpoints (issue: ONNX export with dynamic axes). Not built yet."""
