# The churnkit pipeline worker: `docker compose run --rm pipeline churnkit preprocess|train|evaluate`.
# Multi-stage: the Rust image builds the binary, a slim Debian image runs it as a non-root user.
# Cargo's `dist` profile (thin LTO, one codegen unit, stripped): the release profile keeps line
# tables for backtraces, which makes a ~300 MB binary.
# Base images as build ARGs so a local test can substitute stand-in bases.
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
WORKDIR /src
# Only what the workspace build reads (see .dockerignore for what never enters the context).
COPY Cargo.toml Cargo.lock ./
COPY churnkit ./churnkit
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked -p churnkit-cli \
    && install -m 0755 target/dist/churnkit /usr/local/bin/churnkit

FROM ${DEBIAN_IMAGE}
ARG UID=1000
ARG GID=1000
# ca-certificates: the system CA store, for HTTPS tracking servers. No fonts: the charts use the
# font bundled in the binary.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN (getent group "${GID}" >/dev/null || groupadd --gid "${GID}" churnkit) \
    && useradd --uid "${UID}" --gid "${GID}" --create-home --shell /usr/sbin/nologin churnkit \
    && mkdir -p /workspace/data /workspace/models /workspace/metrics /workspace/mlruns \
    && chown -R "${UID}:${GID}" /workspace
COPY --from=builder /usr/local/bin/churnkit /usr/local/bin/churnkit
USER ${UID}:${GID}
WORKDIR /workspace
# No ENTRYPOINT: the guide's commands name the binary (`... pipeline churnkit train`).
CMD ["churnkit", "pipeline"]
