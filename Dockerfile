# syntax=docker/dockerfile:1
# One image for every konkurs process: the command picks the process, for example
#   docker run -p 8001:8001 konkurs:0.1.0 konkurs api intake --host 0.0.0.0
# Build with `docker build -t konkurs:0.1.0 .` (docker-compose.yml does it for you).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
COPY schemas schemas
COPY services services

# The dev extra brings grpcio-tools and mypy-protobuf for the code generation; it is
# installed here only, so none of it reaches the final image.
RUN pip install '.[dev]' \
 && mkdir -p build/gen/python \
 && python -m grpc_tools.protoc -I schemas --python_out=build/gen/python \
        --mypy_out=build/gen/python $(find schemas -name '*.proto') \
 && (cd schemas && find . -name '*.py' -exec cp --parents {} ../build/gen/python \;) \
 && python -m compileall -q build/gen/python

# The runtime: the project and its runtime dependencies in a virtual environment that the
# final stage copies whole. Both stages use the same base image, so its interpreter path
# (/usr/local/bin/python3.11) is valid there too.
RUN python -m venv /opt/konkurs \
 && /opt/konkurs/bin/pip install .


FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="konkurs" \
      org.opencontainers.image.description="Event-sourced services for a competitive selection programme"

# A fixed numeric uid, so that Kubernetes can check `runAsNonRoot` without resolving names.
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/konkurs \
        --shell /usr/sbin/nologin konkurs

COPY --from=build /opt/konkurs /opt/konkurs
COPY --from=build /src/build/gen/python /opt/konkurs/gen

# KONKURS_HOME is where a worker keeps its faust state. Its default is derived from the
# source tree, which in an installed package is a read-only place under /opt/konkurs/lib.
ENV PATH=/opt/konkurs/bin:$PATH \
    PYTHONPATH=/opt/konkurs/gen \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KONKURS_HOME=/home/konkurs/.local

USER 10001:10001
WORKDIR /home/konkurs

CMD ["konkurs", "--help"]
