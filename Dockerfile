# One stack-runtime server stack host: gunicorn's master with uvicorn workers, run in the
# exec form so that it receives the container's SIGTERM itself. See docs/deployment/container.md.
# Build (podman: add --format docker, or the HEALTHCHECK is dropped):
#   docker build -t stack-runtime .
# Run (a drain takes up to the call limit plus 15 s: --stop-timeout 330):
#   docker run -e INTEGRATOR_EXTENSION_SYSTEM_TOKEN=... -p 8080:8080 --stop-timeout 330 stack-runtime
# The extensions in ./extensions are built in, with the packages their requirements.txt lists.

FROM python:3.11-slim AS build
# A C compiler for the result check, the log lines and the plainest requests
# (src/stack_runtime/core/_plain.c, core/_lines.c, server/_request.c); only this stage has it.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md constraints.txt ./
COPY src ./src
# stack-runtime and every package it needs, as wheels, at the versions constraints.txt pins,
# and their list with each one's SHA-256.
RUN pip wheel --no-cache-dir --wheel-dir /wheels --constraint constraints.txt . \
    && cd /wheels && sha256sum *.whl > /wheels.sha256

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STACK_EXTENSIONS_DIR=/app/extensions \
    PORT=8080
RUN groupadd --system --gid 10001 stack \
    && useradd --system --uid 10001 --gid stack --home-dir /app --shell /usr/sbin/nologin stack \
    && install -d -o stack -g stack /app
# The list of the wheels installed, kept in the image. Copying it also makes a builder that
# caches steps by their text alone (podman) install again whenever the wheels change.
COPY --from=build /wheels.sha256 /usr/local/share/stack-runtime/wheels.sha256
# The wheels are mounted from the build stage for this one step, not copied into a layer.
# The C modules are optional to pip: importing them here fails the build when they were
# not built (a base image without Python's headers, say) instead of shipping without them.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index /wheels/*.whl \
    && python -c "import stack_runtime.core._plain, stack_runtime.core._lines, stack_runtime.server._request"
WORKDIR /app
# The extensions, owned by root: the host process reads them and cannot change them.
COPY extensions /app/extensions
# What the extensions import besides the standard library and stack-runtime's own packages:
# extensions/requirements.txt, when there is one, held to the versions constraints.txt pins.
RUN --mount=type=bind,source=constraints.txt,target=/tmp/constraints.txt \
    if [ -f extensions/requirements.txt ]; then \
        pip install --no-cache-dir --constraint /tmp/constraints.txt \
            --requirement extensions/requirements.txt; \
    fi
USER stack
EXPOSE 8080
# /livez answers 503 once the host drains. (Kept by docker and by podman --format docker.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/livez', timeout=2)"]
# A drain takes up to the call limit plus 15 s, and the stop timeout cannot be set in an
# image: give the container that long to stop (docker run --stop-timeout 330, Kubernetes
# terminationGracePeriodSeconds: 330 plus any preStop wait), or the engine kills the drain after 10 s.
STOPSIGNAL SIGTERM
CMD ["stack-runtime", "serve"]
