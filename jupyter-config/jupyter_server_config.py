# Jupyter server configuration for churnkit (used by scripts/lab.sh and the compose stack).
# Token: JUPYTER_TOKEN, default "mlops-demo". Port: JUPYTER_PORT, default 8888.
import os
import pathlib

c = get_config()  # noqa: F821 (provided by Jupyter)

root = pathlib.Path(os.environ.get("CHURNKIT_ROOT", pathlib.Path(__file__).resolve().parents[1]))
c.ServerApp.ip = os.environ.get("JUPYTER_IP", "127.0.0.1")
c.ServerApp.port = int(os.environ.get("JUPYTER_PORT", "8888"))
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.root_dir = str(root / "notebooks")
c.IdentityProvider.token = os.environ.get("JUPYTER_TOKEN", "mlops-demo")
# Rust cells can take a while the first time a kernel builds churnkit: never cull busy kernels.
c.MappingKernelManager.cull_busy = False
# scripts/lab.sh may run as root (a fresh CI-style machine); the compose image runs as a user.
c.ServerApp.allow_root = True
