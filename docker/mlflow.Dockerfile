# MLflow tracking server for the churnkit compose stack.
#   sqlite backend + proxied artifacts under /mlflow (a named volume in docker-compose.yml),
#   one worker (small machines), job execution off, reachable as mlflow:5000 from the network.
# Base image as a build ARG so a local test can substitute a stand-in base.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

# Same pin as scripts/requirements-test.txt (what the test suite runs against).
ARG MLFLOW_VERSION=3.17.2
ARG UID=1000
ARG GID=1000

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false

# psycopg2 and boto3 (pins of scripts/requirements-team.txt): the `team` profile's PostgreSQL
# backend store and S3 artifact store.
ARG PSYCOPG2_VERSION=2.9.13
ARG BOTO3_VERSION=1.44.8
RUN pip install --no-cache-dir "mlflow[auth]==${MLFLOW_VERSION}" \
    "psycopg2-binary==${PSYCOPG2_VERSION}" "boto3==${BOTO3_VERSION}"

RUN (getent group "${GID}" >/dev/null || groupadd --gid "${GID}" mlflow) \
    && useradd --uid "${UID}" --gid "${GID}" --create-home --home-dir /home/mlflow --shell /usr/sbin/nologin mlflow \
    && mkdir -p /mlflow/artifacts \
    && chown -R "${UID}:${GID}" /mlflow

USER ${UID}:${GID}
WORKDIR /mlflow
VOLUME ["/mlflow"]
EXPOSE 5000

# python, not curl: the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=12 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]

CMD ["mlflow", "server", \
     "--host", "0.0.0.0", "--port", "5000", "--workers", "1", \
     "--backend-store-uri", "sqlite:////mlflow/mlflow.db", \
     "--artifacts-destination", "/mlflow/artifacts", \
     "--allowed-hosts", "mlflow:5000,localhost:5000,127.0.0.1:5000"]
