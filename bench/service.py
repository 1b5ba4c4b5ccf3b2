"""Load benchmark of the studio service: N concurrent song requests against a local server.

Starts `tunesmith serve` (W workers) on a fresh data folder, then for each N in --levels sends
N hum uploads at once from N client threads, follows every job's Server-Sent Events to the end
and reports: throughput (songs per minute), p50/p95 latency from request to finished song,
queue wait (request to first stage), p50/p95 time per pipeline stage, errors (must be 0) and
peak memory (server + workers, from /proc). No peer: this is the capacity of one machine.

    python bench/service.py [--levels 1 4 16] [--workers 2] [--length 30]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from tunesmith import humsynth

STAGES = ("listen", "compose", "arrange", "render", "produce", "publish")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, *, method: str = "GET", token: str | None = None, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    return urllib.request.urlopen(req, timeout=600)


def _multipart(fields: dict[str, str], file_bytes: bytes) -> tuple[bytes, str]:
    boundary = "tunesmithbench"
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="hum.wav"\r\n'
              f"Content-Type: audio/wav\r\n\r\n".encode())
    out.write(file_bytes)
    out.write(f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _rss_peak_mb(pid: int) -> float:
    """VmHWM of a process and all its children, in MB."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += float(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def one_song(url: str, token: str, wav: bytes, seed: int, length_s: float) -> dict[str, Any]:
    t0 = time.time()
    body, ctype = _multipart({"style": "pop-ballad", "seed": str(seed), "length_s": str(length_s)}, wav)
    created = json.load(_request(f"{url}/api/songs/hum", method="POST", token=token, body=body,
                                 headers={"Content-Type": ctype}))
    stage_start: dict[str, float] = {}
    stage_time: dict[str, float] = {}
    first_stage = None
    status = None
    with _request(f"{url}/api/jobs/{created['job_id']}/events", token=token) as r:
        event = None
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "stage":
                    first_stage = first_stage or data["at"]
                    if data["event"] == "start":
                        stage_start[data["stage"]] = data["at"]
                    elif data["event"] == "done" and data["stage"] in stage_start:
                        stage_time[data["stage"]] = data["at"] - stage_start[data["stage"]]
                elif event == "end":
                    status = data["status"]
    return {"latency": time.time() - t0, "queue_wait": (first_stage or time.time()) - t0,
            "stages": stage_time, "ok": status == "done"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--length", type=float, default=30.0, help="song length in seconds")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="tunesmith-bench-"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TUNESMITH_PREVIEWS": "0", "TUNESMITH_JOBS_PER_HOUR": "100000",
           "TUNESMITH_JOB_BURST": "1000"}  # the bench measures capacity, not the rate limit
    server = subprocess.Popen([str(Path(sys.executable).parent / "tunesmith"), "serve", "--port",
                               str(port), "--workers", str(args.workers), "--data", str(data)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                _request(f"{url}/api/health")
                break
            except OSError:
                time.sleep(0.1)
        token = json.load(_request(f"{url}/api/users", method="POST",
                                   body=json.dumps({"name": "bench"}).encode(),
                                   headers={"Content-Type": "application/json"}))["token"]
        audio = humsynth.synthesize_hum(humsynth.demo_melody(seed=1), sample_rate=44100, seed=1)
        buf = io.BytesIO()
        sf.write(buf, audio, 44100, format="WAV", subtype="PCM_16")
        wav = buf.getvalue()
        print(f"tunesmith serve, {args.workers} workers, {os.cpu_count()} cores, "
              f"{args.length:.0f} s songs (pop-ballad)\n")
        print(f"{'N':>4}{'songs/min':>11}{'p50 s':>8}{'p95 s':>8}{'wait p50':>10}{'wait p95':>10}"
              f"{'errors':>8}{'peak MB':>9}   per stage p50/p95 s")
        for n in args.levels:
            results: list[dict[str, Any]] = []
            lock = threading.Lock()

            def run(i: int, n: int = n, results: list[dict[str, Any]] = results,
                    lock: threading.Lock = lock) -> None:
                try:
                    r = one_song(url, token, wav, seed=1000 * n + i, length_s=args.length)
                except Exception as exc:  # an error is a result of the bench, counted below
                    print(f"  request {i} failed: {exc}", file=sys.stderr)
                    r = {"ok": False, "error": str(exc), "latency": 0, "queue_wait": 0, "stages": {}}
                with lock:
                    results.append(r)

            t0 = time.time()
            threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.time() - t0
            ok = [r for r in results if r["ok"]]
            lat = np.array([r["latency"] for r in ok]) if ok else np.zeros(1)
            wait = np.array([r["queue_wait"] for r in ok]) if ok else np.zeros(1)
            per_stage = []
            for s in STAGES:
                xs = np.array([r["stages"][s] for r in ok if s in r["stages"]])
                if xs.size:
                    per_stage.append(f"{s} {np.percentile(xs, 50):.1f}/{np.percentile(xs, 95):.1f}")
            print(f"{n:>4}{len(ok) / wall * 60:>11.1f}{np.percentile(lat, 50):>8.1f}"
                  f"{np.percentile(lat, 95):>8.1f}{np.percentile(wait, 50):>10.1f}"
                  f"{np.percentile(wait, 95):>10.1f}{len(results) - len(ok):>8d}"
                  f"{_rss_peak_mb(server.pid):>9.0f}   {', '.join(per_stage)}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
