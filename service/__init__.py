"""The serving side: FastAPI + ONNX Runtime. Never imports torch. Not built yet."""
