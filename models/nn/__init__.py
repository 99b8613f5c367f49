"""Attention building blocks, written out so that ONNX export keeps every axis dynamic.

No ``nn.MultiheadAttention`` (its traced export freezes the batch size) and no Python
arithmetic on tensor sizes: reshapes use -1 or sizes read from tensors.
"""
