"""Server memory while one session views digit after digit of an uploaded network.

    .venv/bin/python bench/server_memory.py [--root DIR] [--network widest|finding2|seed]
        [--digits 20] [--cap-gb 4] [--out bench/results/server_memory]

What it measures, step by step: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from safetensors.numpy import save  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from bench.networks import append_results, finding2, widest  # noqa: E402
from bench.server import free_port, stop, wait_http  # noqa: E402
from bench.st_client import Session  # noqa: E402
from viz.network.card import expected_tensors  # noqa: E402

UPLOADER = "A .safetensors checkpoint of a zoo architecture"


def seed() -> list[dict]:
    from model.architectures import ARCHITECTURES
    return ARCHITECTURES["seed"].layers()


NETWORKS = {"widest": widest, "finding2": finding2, "seed": seed}


def checkpoint(layers: list[dict], arch: str) -> bytes:
    """A safetensors file of ``layers`` with small random weights (BatchNorm: statistics of a
    fresh layer, mean 0 and variance 1)."""
    rng = np.random.default_rng(0)
    tensors: dict[str, np.ndarray] = {}
    for name, (dtype, shape) in expected_tensors(layers).items():
        if dtype == "I64":  # num_batches_tracked
            tensors[name] = np.zeros(shape, np.int64)
        elif name.endswith(("running_mean", "running_var")):
            tensors[name] = np.full(shape, float(name.endswith("var")), np.float32)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            tensors[name] = (rng.standard_normal(shape, dtype=np.float32)
                             * np.float32(1 / np.sqrt(fan_in)))
    return save(tensors, metadata={"model_card": json.dumps({"arch": arch, "layers": layers})})


def facts(layers: list[dict]) -> dict:
    from viz.network.layers import activation_elements
    from viz.teaching.lab import analyse
    report = analyse(layers)
    return {"params": report.params, "macs": report.macs,
            "activations": activation_elements(list(report.layers))}


# ---------------------------------------------------------------------------------------------
# The server, capped
# ---------------------------------------------------------------------------------------------

def rss(pid: int) -> int:
    """Resident bytes of ``pid`` (0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def start(root: Path, port: int, as_bytes: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "streamlit", "run", str(root / "app.py"),
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--global.developmentMode", "false",
           "--server.enableXsrfProtection", "false"]
    env = {**os.environ, "PYTHONPATH": str(root)}

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))

    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=out,
                                start_new_session=True, preexec_fn=cap)


class Watchdog(threading.Thread):
    """Kills the server's process group when its resident size passes ``cap`` bytes; keeps
    the peak it saw (sampled every 50 ms)."""

    def __init__(self, proc: subprocess.Popen, cap: int) -> None:
        super().__init__(daemon=True)
        self.proc, self.cap = proc, cap
        self.peak = 0
        self.killed = False
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set() and self.proc.poll() is None:
            now = rss(self.proc.pid)
            self.peak = max(self.peak, now)
            if now > self.cap:
                self.killed = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                return
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# The session: an upload, then digits
# ---------------------------------------------------------------------------------------------

class UploadSession(Session):
    """A :class:`Session` that also knows its server-side id and can upload a file."""

    session_id = ""

    async def connect(self) -> None:
        await super().connect()
        recv = self.ws.recv

        async def spy():
            data = await recv()
            fm = ForwardMsg()
            fm.ParseFromString(data)
            if fm.WhichOneof("type") == "new_session":
                sid = fm.new_session.initialize.session_id
                if sid:
                    self.session_id = sid
            return data

        self.ws.recv = spy

    async def upload(self, label: str, name: str, data: bytes):
        """Upload ``data`` as the browser does and rerun with the uploader's new state."""
        widget = self.widget("file_uploader", label)
        msg = BackMsg()
        msg.file_urls_request.request_id = uuid.uuid4().hex
        msg.file_urls_request.file_names.append(name)
        msg.file_urls_request.session_id = self.session_id
        await self.ws.send(msg.SerializeToString())
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await self.ws.recv())
            if fm.WhichOneof("type") == "file_urls_response":
                urls = fm.file_urls_response.file_urls[0]
                break
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{urls.upload_url}",
                                     data=body, method="PUT", headers={
                                         "Content-Type": f"multipart/form-data; boundary={boundary}"})
        await asyncio.to_thread(urllib.request.urlopen, req, None, 60)
        state = WidgetState(id=widget.id)
        state.file_uploader_state_value.uploaded_file_info.append(UploadedFileInfo(
            name=name, size=len(data), file_id=urls.file_id,
            file_urls=FileURLs(file_id=urls.file_id, upload_url=urls.upload_url,
                               delete_url=urls.delete_url)))
        return await self.set(widget, state)


def sample_state(session: Session, k: int) -> tuple:
    slider = session.widget("slider", "Sample")
    state = WidgetState(id=slider.id)
    state.double_array_value.data.append(k)
    return slider, state


async def drive(port: int, pid: int, data: bytes, name: str, digits: int) -> dict:
    session = UploadSession(port, "", request_timeout=120)
    rows = []

    def settle() -> int:
        first = rss(pid)
        time.sleep(1.0)
        return max(first, rss(pid))

    try:
        reply = await session.open()
        rows.append({"step": "page opened", "seconds": reply.seconds, "rss": settle(),
                     "errors": reply.errors})
        reply = await session.upload(UPLOADER, name, data)
        refused = [e for e in reply.errors if "cannot be used" in e]
        rows.append({"step": "upload (digit 1)", "seconds": reply.seconds, "rss": settle(),
                     "errors": reply.errors})
        if refused:
            return {"rows": rows, "refused": refused[0]}
        for k in range(2, digits + 1):
            slider, state = sample_state(session, k)
            reply = await session.set(slider, state)
            rows.append({"step": f"digit {k}", "seconds": reply.seconds, "rss": settle(),
                         "errors": reply.errors})
            if reply.errors or not reply.finished:
                break
    except Exception as exc:  # noqa: BLE001 - the server was killed or died: record it
        rows.append({"step": "stopped", "seconds": 0.0, "rss": rss(pid),
                     "errors": [f"{type(exc).__name__}: {exc}"]})
    finally:
        with contextlib.suppress(Exception):
            await session.close()
    return {"rows": rows, "refused": None}


def run(root: Path, network: str, digits: int, cap_gb: float, as_gb: float, log: Path) -> dict:
    layers = NETWORKS[network]()
    data = checkpoint(layers, network)
    port = free_port()
    proc = start(root, port, int(as_gb * 2**30), log)
    dog = Watchdog(proc, int(cap_gb * 2**30))
    dog.start()
    try:
        wait_http(port, 120)
        result = asyncio.run(drive(port, proc.pid, data, f"{network}.safetensors", digits))
    finally:
        dog.done.set()
        stop(proc)
    return {"root": str(root), "network": network, **facts(layers), "file_bytes": len(data),
            "cap_rss_bytes": int(cap_gb * 2**30), "cap_as_bytes": int(as_gb * 2**30),
            "killed_by_watchdog": dog.killed, "peak_rss": dog.peak, **result}


def table(res: dict) -> list[str]:
    mb = 1e6
    lines = [f"{res['root']}: network {res['network']} ({res['params']:,} parameters, "
             f"{res['macs'] / 1e6:.0f} MMAC, {res['activations']:,} activation values = "
             f"{4 * res['activations'] / mb:.0f} MB per image; file {res['file_bytes'] / mb:.1f}"
             f" MB)"]
    if res["refused"]:
        lines.append(f"  upload refused: {res['refused'][:300]}")
    lines.append(f"  {'step':<18} {'seconds':>8} {'RSS MB':>8} {'growth':>8}")
    prev = None
    for row in res["rows"]:
        grow = "" if prev is None else f"{(row['rss'] - prev) / mb:+.0f}"
        lines.append(f"  {row['step']:<18} {row['seconds']:8.2f} {row['rss'] / mb:8.0f} "
                     f"{grow:>8}" + (f"  {'; '.join(row['errors'])[:160]}" if row['errors']
                                     else ""))
        prev = row["rss"]
    digits = [r for r in res["rows"] if r["step"].startswith(("digit", "upload"))]
    if len(digits) >= 5:
        times = [r["seconds"] for r in digits[1:]]
        lines.append(f"  growth from digit 5 to digit {len(digits)}: "
                     f"{(digits[-1]['rss'] - digits[4]['rss']) / mb:+.0f} MB; "
                     f"median time per new digit {sorted(times)[len(times) // 2]:.2f} s")
    elif len(digits) >= 2:
        times = [r["seconds"] for r in digits[1:]]
        lines.append(f"  growth per digit after the first: "
                     f"{(digits[-1]['rss'] - digits[0]['rss']) / (len(digits) - 1) / mb:+.0f} "
                     f"MB; median time per new digit {sorted(times)[len(times) // 2]:.2f} s")
    lines.append(f"  peak RSS {res['peak_rss'] / mb:.0f} MB"
                 + (" (killed by the watchdog at the cap)" if res["killed_by_watchdog"] else ""))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout whose app.py runs")
    ap.add_argument("--network", choices=list(NETWORKS), default="widest")
    ap.add_argument("--digits", type=int, default=20)
    ap.add_argument("--cap-gb", type=float, default=4.0, help="kill the server above this RSS")
    ap.add_argument("--as-gb", type=float, default=8.0, help="RLIMIT_AS of the server")
    ap.add_argument("--label", default="", help="a name for this run in the results")
    ap.add_argument("--out", type=Path, default=None,
                    help="add the run to OUT.txt and OUT.json (e.g. bench/results/server_memory)")
    args = ap.parse_args()
    if not 1 <= args.digits <= 200:
        raise SystemExit("--digits must be between 1 and 200 (the shipped samples)")
    log = Path(f"/tmp/server_memory_{os.getpid()}.log")
    res = run(args.root.resolve(), args.network, args.digits, args.cap_gb, args.as_gb, log)
    res.update(label=args.label, machine=f"{platform.node()} {os.cpu_count()} cores",
               when=time.strftime("%Y-%m-%d %H:%M"), server_log=str(log))
    lines = ([f"## {args.label}"] if args.label else []) + table(res)
    print("\n".join(lines))
    if args.out is not None:
        append_results(args.out, lines, [res])


if __name__ == "__main__":
    main()
