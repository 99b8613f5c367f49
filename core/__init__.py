"""The torch-free foundation every side imports: text handling (normalisation,
placeholders, the subword tokenizer, model inputs), batching by length, hashing, and the
project's version. It imports nothing else of the project."""

__version__ = "0.1.0"
