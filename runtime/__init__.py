"""ONNX Runtime for everyone — the service, the export's checks, the benchmarks and the
command line: the model repository's format and reader, the catalog of what it holds, the
sessions, the classifier and translator runtimes, and the NumPy beam search that drives the
decoder-step graph. Imports ``core`` only; never torch."""
