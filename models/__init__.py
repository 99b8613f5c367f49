"""The training side: corpora, tokenizers, PyTorch models, training and evaluation."""
