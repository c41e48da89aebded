# Jupyter Lab with the evcxr Rust kernel for the churnkit notebooks.
#   - the pinned Rust toolchain of the base image, plus rust-src (evcxr's type inference needs it)
#   - evcxr_jupyter (pinned), JupyterLab + nbclient (pinned) in a venv
#   - the "rust" kernelspec for the non-root user, written like scripts/jupyter-setup.sh does
#   - the churnkit notebook engine (churnkit-engine, release build, stripped) that the notebooks'
#     churnkit-cells crate loads: CHURNKIT_ENGINE in the kernelspec
#   - churnkit-cells pre-built into the evcxr build directory (/var/cache/evcxr, a named volume
#     in docker-compose.yml) so the first cell is fast
# Base image as a build ARG so a local test can substitute a stand-in base.
ARG RUST_IMAGE=rust:1.95-slim-bookworm
FROM ${RUST_IMAGE}

ARG EVCXR_VERSION=0.22.0
ARG JUPYTERLAB_VERSION=4.6.6
ARG NBCLIENT_VERSION=0.11.0
ARG UID=1000
ARG GID=1000
# 0 skips the pre-build of churnkit-cells inside evcxr.
ARG PREBUILD_NOTEBOOK_DEPS=1

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

ENV VIRTUAL_ENV=/opt/jupyter \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv "${VIRTUAL_ENV}" \
    && "${VIRTUAL_ENV}/bin/pip" install --no-cache-dir \
       "jupyterlab==${JUPYTERLAB_VERSION}" "nbclient==${NBCLIENT_VERSION}"
ENV PATH=/opt/jupyter/bin:${PATH}

# As root, before the user exists: rust-src goes into the image's RUSTUP_HOME (/usr/local/rustup),
# evcxr_jupyter into /usr/local/bin. The install uses a throw-away CARGO_HOME and target dir so
# the image's CARGO_HOME stays as the base image left it (writable for the kernel's user).
RUN rustup component add rust-src \
    && CARGO_HOME=/tmp/cargo-install CARGO_TARGET_DIR=/tmp/evcxr-target \
       cargo install --locked --root /usr/local --version "${EVCXR_VERSION}" evcxr_jupyter \
    && rm -rf /tmp/cargo-install /tmp/evcxr-target /usr/local/.crates.toml /usr/local/.crates2.json

# The user that runs Jupyter and the kernel. EVCXR_TMPDIR (/var/cache/evcxr) is deliberately not
# under $HOME: evcxr links cells with a relative rpath that only resolves when the path from the
# build directory to the toolchain climbs all the way to / (see scripts/jupyter-setup.sh).
RUN (getent group "${GID}" >/dev/null || groupadd --gid "${GID}" churnkit) \
    && useradd --uid "${UID}" --gid "${GID}" --create-home --shell /bin/bash churnkit \
    && mkdir -p /var/cache/evcxr /workspace/notebooks \
    && chown -R "${UID}:${GID}" /var/cache/evcxr /workspace

USER ${UID}:${GID}
ENV EVCXR_TMPDIR=/var/cache/evcxr \
    EVCXR_CONFIG_DIR=/workspace/jupyter-config/evcxr
# The kernelspec, in the user's Jupyter data dir, with the same fields as scripts/jupyter-setup.sh:
# evcxr's own install first (its version.txt stops a kernel from re-installing over the spec),
# then our kernel.json over its plain one.
RUN mkdir -p "${HOME}/.local/share/jupyter/kernels/rust" \
    && evcxr_jupyter --install >/dev/null \
    && python -c 'import json, sys; json.dump({"argv": ["/usr/local/bin/evcxr_jupyter", "--control_file", "{connection_file}"], "display_name": "Rust", "language": "rust", "interrupt_mode": "message", "env": {"EVCXR_TMPDIR": "/var/cache/evcxr", "EVCXR_CONFIG_DIR": "/workspace/jupyter-config/evcxr", "CHURNKIT_ENGINE": "/opt/churnkit/libchurnkit_engine.so"}}, open(sys.argv[1], "w"), indent=1)' \
       "${HOME}/.local/share/jupyter/kernels/rust/kernel.json" \
    && jupyter kernelspec list

# Only what the kernel compiles and evcxr's config before the pre-build, so that editing notebooks,
# data, the server config or scripts does not redo it (churnkit/tests never enter the context).
# churnkit is a workspace member: it needs the root manifest.
COPY --chown=${UID}:${GID} Cargo.toml Cargo.lock /workspace/
COPY --chown=${UID}:${GID} churnkit /workspace/churnkit
COPY --chown=${UID}:${GID} jupyter-config/evcxr /workspace/jupyter-config/evcxr
WORKDIR /workspace/notebooks

# The engine: churnkit's notebook layer in release mode, built once here (the cells only load
# it). Its target directory is thrown away; the stripped library stays at /opt/churnkit.
USER root
RUN mkdir -p /opt/churnkit \
    && CARGO_TARGET_DIR=/tmp/engine-target cargo build --release --locked --manifest-path /workspace/Cargo.toml -p churnkit-engine \
    && strip --strip-debug -o /opt/churnkit/libchurnkit_engine.so /tmp/engine-target/release/libchurnkit_engine.so \
    && rm -rf /tmp/engine-target
USER ${UID}:${GID}

# Pre-build: run the notebooks' first cell once, at build time, through the real kernel. evcxr
# canonicalises the path, so the notebooks' `path = "../churnkit/cells"` reuses this build.
RUN if [ "${PREBUILD_NOTEBOOK_DEPS}" = "1" ]; then \
      python -c 'import nbformat as n; nb = n.v4.new_notebook(); nb.cells = [n.v4.new_code_cell(":dep churnkit-cells = { path = \"/workspace/churnkit/cells\" }"), n.v4.new_code_cell("use churnkit_cells::*;")]; n.write(nb, "/tmp/prebuild.ipynb")' \
      && jupyter execute --kernel_name=rust --timeout=-1 --startup_timeout=300 /tmp/prebuild.ipynb \
      && rm -f /tmp/prebuild.ipynb; \
    fi

# The server config, the notebooks and the sample data (compose bind-mounts notebooks/ and data/
# over these; the image also runs on its own).
COPY --chown=${UID}:${GID} jupyter-config /workspace/jupyter-config
COPY --chown=${UID}:${GID} notebooks /workspace/notebooks
COPY --chown=${UID}:${GID} data/sample_data.csv /workspace/data/sample_data.csv
RUN mkdir -p /workspace/data/processed /workspace/models /workspace/metrics

ENV JUPYTER_CONFIG_DIR=/workspace/jupyter-config \
    CHURNKIT_ROOT=/workspace \
    JUPYTER_IP=0.0.0.0 \
    JUPYTER_PORT=8888
EXPOSE 8888
# /api answers without a token.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=12 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8888/api', timeout=4)"]
CMD ["jupyter", "lab"]
