"""The serving side: FastAPI + ONNX Runtime, never torch.

``repository`` reads model versions, ``runtime/`` drives their graphs, ``engine/``
batches requests onto them, ``api/`` is the HTTP layer, ``app`` wires it together and
``server`` runs it under uvicorn with a graceful drain.
"""
