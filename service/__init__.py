"""The serving side: FastAPI + ONNX Runtime, never torch.

``engine/`` batches requests onto the ``runtime`` of each model, ``api/`` is the HTTP
layer, ``app`` wires it together and ``server`` runs it under uvicorn with a graceful drain.
"""
