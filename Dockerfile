# One stack-runtime server stack host: gunicorn's master with uvicorn workers, run in the
# exec form so that it receives the container's SIGTERM itself. See "Running behind nginx"
# in README.md. Build:  docker build -t stack-runtime .
# Run with your own extensions mounted over the bundled examples:
#   docker run -e INTEGRATOR_EXTENSION_SYSTEM_TOKEN=... -v "$PWD/extensions:/app/extensions:ro" \
#     -p 8080:8080 --stop-timeout 330 stack-runtime

FROM python:3.11-slim AS build
# A C compiler for the result check, the log lines and the plainest requests
# (src/stack_runtime/_plain.c, _lines.c, _request.c); only this stage has it.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STACK_EXTENSIONS_DIR=/app/extensions \
    PORT=8080
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin stack
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
# The bundled examples; mount or copy your own extensions folder here instead.
COPY extensions /app/extensions
USER stack
EXPOSE 8080
# /livez answers 503 once the host drains.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/livez', timeout=2)"]
# A drain takes up to the call limit plus 15 s: give the container that long to stop
# (docker run --stop-timeout 330, Kubernetes terminationGracePeriodSeconds: 330).
STOPSIGNAL SIGTERM
CMD ["stack-runtime", "serve"]
