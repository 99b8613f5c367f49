# syntax=docker/dockerfile:1
# attnserve images, from one file:
#   docker build -t attnserve:cpu .                  # CPU (onnxruntime), the default target
#   docker build --target gpu -t attnserve:gpu .     # NVIDIA GPU (onnxruntime-gpu, CUDA 13)
# The runtime stages hold the service and its `serve` dependencies only (no torch, no
# compilers), run as a non-root user, bake in the default models (mount another
# repository on /app/model_repository to replace them) and honour every ATTNSERVE_* setting.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# onnxruntime-gpu 1.31.1 is built for CUDA 13 and cuDNN 9
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04

# ---- CPU: build the virtual environment -----------------------------------------------
FROM ${PYTHON_IMAGE} AS cpu-build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY runtime ./runtime
COPY attnserve ./attnserve
COPY service ./service
RUN /opt/venv/bin/pip install ".[serve]"

# ---- GPU: the same, on the CUDA runtime image, with onnxruntime-gpu --------------------
FROM ${CUDA_IMAGE} AS gpu-build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY runtime ./runtime
COPY attnserve ./attnserve
COPY service ./service
# onnxruntime and onnxruntime-gpu ship the same module: swap one for the other
RUN /opt/venv/bin/pip install ".[serve]" \
    && /opt/venv/bin/pip uninstall -y onnxruntime \
    && /opt/venv/bin/pip install "onnxruntime-gpu==1.31.1"

FROM ${CUDA_IMAGE} AS gpu
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /app attnserve
COPY --from=gpu-build /opt/venv /opt/venv
COPY --chown=10001:10001 model_repository /app/model_repository
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ATTNSERVE_HOST=0.0.0.0 \
    ATTNSERVE_PORT=8000 \
    ATTNSERVE_LOG_FORMAT=json \
    ATTNSERVE_MODEL_REPOSITORY=/app/model_repository \
    ATTNSERVE_DEVICE=cuda
USER 10001
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 CMD ["attnserve", "health"]
ENTRYPOINT ["attnserve", "serve"]

# ---- CPU runtime: the default target ---------------------------------------------------
FROM ${PYTHON_IMAGE} AS cpu
RUN useradd --system --uid 10001 --create-home --home-dir /app attnserve
COPY --from=cpu-build /opt/venv /opt/venv
COPY --chown=10001:10001 model_repository /app/model_repository
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ATTNSERVE_HOST=0.0.0.0 \
    ATTNSERVE_PORT=8000 \
    ATTNSERVE_LOG_FORMAT=json \
    ATTNSERVE_MODEL_REPOSITORY=/app/model_repository \
    ATTNSERVE_DEVICE=cpu
USER 10001
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 CMD ["attnserve", "health"]
ENTRYPOINT ["attnserve", "serve"]
