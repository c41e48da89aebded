#!/usr/bin/env python3
"""Run cells on a kernel of a running Jupyter server, the way JupyterLab does: start the kernel
through the REST API, execute over the kernel's websocket channel, shut it down.

Used by scripts/compose-smoke.sh against the compose stack's Jupyter Lab. Prints one line per cell
("cell N: <seconds> s, outputs: <kinds>") and the cell's text outputs indented beneath it.
Exits non-zero if the kernel cannot start, a cell errors or times out, a cell writes anything to
stderr but cargo's build progress (evcxr reports `?` errors and panics there and carries on),
or --expect text never appears in any output.

Usage: jupyter-remote-exec.py --url http://127.0.0.1:8888 --token T --kernel rust \
         --cell 'CODE' [--cell 'CODE' ...] [--expect TEXT ...] [--timeout SECONDS]
Needs websocket-client (a dependency of jupyter_server, so it is in the project venv).
"""
import argparse
import datetime
import json
import re
import sys
import time
import urllib.request
import uuid

import websocket

# Build chatter evcxr prints on stderr while it compiles a :dep; not an error.
NOISE = re.compile(r"^\s*(Compiling|Checking|Finished|Downloaded|Downloading|Updating|Locking|Adding|Blocking|Loading startup)\b")


def rest(url, token, method, path, body=None):
    req = urllib.request.Request(
        url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def execute(ws, session, code, timeout):
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "compose-smoke", "session": session,
                   "msg_type": "execute_request", "version": "5.3",
                   "date": datetime.datetime.now(datetime.timezone.utc).isoformat()},
        "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    outputs, reply, idle = [], None, False
    deadline = time.monotonic() + timeout
    while not (reply and idle):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no reply within {timeout} s")
        ws.settimeout(left)
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        content = msg["content"]
        if msg.get("channel") == "shell" and kind == "execute_reply":
            reply = content
        elif kind == "status" and content.get("execution_state") == "idle":
            idle = True
        elif kind in ("stream", "display_data", "execute_result", "error"):
            outputs.append((kind, content))
    return reply, outputs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--kernel", default="rust")
    ap.add_argument("--cell", action="append", required=True)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    url = args.url.rstrip("/")

    try:
        kernel = rest(url, args.token, "POST", "/api/kernels", {"name": args.kernel, "path": ""})
    except (OSError, ValueError) as e:  # URLError and HTTPError are OSErrors
        print(f"jupyter-remote-exec: FAIL: cannot start a {args.kernel} kernel at {url}: {e}", file=sys.stderr)
        return 1
    ws_url = url.replace("http", "ws", 1) + f"/api/kernels/{kernel['id']}/channels?token={args.token}"
    failed, seen = [], ""
    try:
        ws = websocket.create_connection(ws_url, timeout=60)
        session = uuid.uuid4().hex
        for n, code in enumerate(args.cell, 1):
            t0 = time.monotonic()
            try:
                reply, outputs = execute(ws, session, code, args.timeout)
            except TimeoutError as e:
                failed.append(f"cell {n}: {e}")
                break
            kinds, texts, bad_stderr = [], [], None
            for kind, content in outputs:
                if kind == "stream":
                    kinds.append(content["name"])
                    text = content["text"]
                    if content["name"] == "stderr":
                        # evcxr prints an error returned through `?` to stderr and carries on:
                        # as in the notebook test, any stderr line but cargo's progress fails.
                        bad = [line for line in text.splitlines() if line.strip() and not NOISE.match(line)]
                        if bad and not bad_stderr:
                            bad_stderr = bad[0]
                elif kind == "error":
                    kinds.append("error")
                    text = f"{content['ename']}: {content['evalue']}"
                    failed.append(f"cell {n}: {text}")
                else:
                    data = content.get("data", {})
                    kinds.extend(sorted(data))
                    text = data.get("text/plain", "")
                    seen += data.get("text/html", "")
                seen += text
                texts.append(text)
            if bad_stderr:
                failed.append(f"cell {n}: stderr: {bad_stderr}")
            if reply.get("status") != "ok":
                failed.append(f"cell {n}: execute_reply status {reply.get('status')}: {reply.get('evalue', '')}")
            print(f"cell {n}: {time.monotonic() - t0:.1f} s, outputs: {', '.join(kinds) or 'none'}")
            for text in texts:
                for line in text.strip().splitlines()[:12]:
                    print(f"    {line[:160]}")
            if failed:
                break
        ws.close()
    finally:
        rest(url, args.token, "DELETE", f"/api/kernels/{kernel['id']}")
    for want in args.expect:
        if want not in seen:
            failed.append(f"expected text never shown: {want!r}")
    for f in failed:
        print(f"jupyter-remote-exec: FAIL: {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
