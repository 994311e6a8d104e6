# The Agentspan server: `agentspan server run` on 0.0.0.0:6767, with the PostgreSQL driver
# so several replicas can share one database (deploy/docker-compose.yml).
#
#   docker build -t agentspan .
#   docker run -e AGENTSPAN_AUTH_TOKEN=... -p 127.0.0.1:6767:6767 -v agentspan-data:/data agentspan
#
# Binding 0.0.0.0 needs AGENTSPAN_AUTH_TOKEN in the environment (the server refuses to
# start without it), but the API does not check the token yet: publish the port only on
# a private network or behind an authenticating proxy. See docs/deploy.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what building the package needs, so edits to tests or docs do not rebuild this layer.
COPY pyproject.toml README.md /tmp/agentspan/
COPY src /tmp/agentspan/src
RUN pip install "/tmp/agentspan[postgres,mcp,pdf]" && rm -rf /tmp/agentspan

# A fixed uid keeps the ownership of a reused /data volume stable across rebuilds.
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin agentspan \
    && mkdir -p /data \
    && chown agentspan:agentspan /data
USER agentspan
WORKDIR /data

# The SQLite database (the default when AGENTSPAN_DATABASE_URL is not set) lives here. On
# SQLite run exactly one container per volume: the database admits one server.
ENV AGENTSPAN_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 6767

# The slim image has no curl; Python is there anyway. Checks the default port: adjust it
# if you pass --port.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import json, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:6767/health', timeout=4); sys.exit(0 if json.load(r).get('healthy') else 1)"]

# Exec form: the server is PID 1 and gets SIGTERM from `docker stop` directly. Extra
# arguments (--port, --log-level) are appended by `docker run ... agentspan <args>`.
ENTRYPOINT ["agentspan", "server", "run", "--host", "0.0.0.0"]
