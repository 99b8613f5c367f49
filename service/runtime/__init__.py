"""ONNX Runtime sessions for the exported graphs, and the decoding that drives them."""
