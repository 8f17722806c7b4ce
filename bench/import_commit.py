#!/usr/bin/env python3
"""Import commit at scale (issue 16 item 5): N single-instance series (default 5,000, one study) through one
import job, and the loop's health while the job's files are committed.

    .venv/bin/python bench/import_commit.py [--files N] [--bin PATH]   # needs pydicom (Tests/conformance)

Writes N tiny CT files (8x8, each its own series) into a temporary --s3-dir bucket, starts the release binary
(`--log-level info`), then polls GET /_healthimaging/health on one keep-alive connection from StartDICOMImportJob
until the job has ended. The server logs when a job's commit starts and, at its end, how long it took, in how
many turns of the loop, and the longest turn; the health latencies seen between those two log lines are the
"during commit" figures. A second job imports the same files again (every image set gets a version 2 through
the primary-image-set lookup) and is measured the same way. Targets: commit < 5 s for 5,000 series, longest
turn <= 10 ms, health p99 during commit < 10 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "conformance"))
sys.path.insert(0, str(ROOT / "bench"))

from import_helpers import write_single_instance_series  # noqa: E402
from import_latency import percentile  # noqa: E402

DATASTORE = "12345678901234567890123456789012"
COMMITTED = re.compile(r"committed in ([0-9.]+) ms over (\d+) turns \(longest ([0-9.]+) ms, ([0-9.]+) ms CPU\)")


class Log:
    """The server's stderr lines, each with the time it arrived."""

    def __init__(self, stream):
        self.lines: list[tuple[float, str]] = []
        self.thread = threading.Thread(target=self.read, args=(stream,), daemon=True)
        self.thread.start()

    def read(self, stream):
        for raw in stream:
            self.lines.append((time.perf_counter(), raw.decode("utf-8", "replace").rstrip()))

    def find(self, needle: str):
        return next(((t, line) for t, line in self.lines if needle in line), None)


def run_job(host, port, log: Log, token: str, output: str):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    health = http.client.HTTPConnection(host, port, timeout=60)
    body = json.dumps({"dataAccessRoleArn": "arn:aws:iam::123456789012:role/Bench", "clientToken": token,
                       "inputS3Uri": "s3://bench/series/", "outputS3Uri": f"s3://bench/{output}/"})
    began = time.perf_counter()
    conn.request("POST", f"/startDICOMImportJob/datastore/{DATASTORE}", body=body)
    response = conn.getresponse()
    job_id = json.loads(response.read())["jobId"]
    samples: list[tuple[float, float]] = []
    status, polls = "SUBMITTED", 0
    while status in ("SUBMITTED", "IN_PROGRESS"):
        t0 = time.perf_counter()
        try:
            health.request("GET", "/_healthimaging/health")
            reply = health.getresponse()
            reply.read()
        except (http.client.RemoteDisconnected, ConnectionError):
            health.close()
            health = http.client.HTTPConnection(host, port, timeout=60)
            continue
        t1 = time.perf_counter()
        assert reply.status == 200, reply.status
        samples.append((t0, (t1 - t0) * 1000))
        polls += 1
        if polls % 20 == 0:
            try:
                conn.request("GET", f"/getDICOMImportJob/datastore/{DATASTORE}/job/{job_id}")
                status = json.loads(conn.getresponse().read())["jobProperties"]["jobStatus"]
            except (http.client.RemoteDisconnected, ConnectionError):
                # A server whose loop stalled (an older build committing) may have closed the idle connection.
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
        time.sleep(0.0005)
    elapsed = time.perf_counter() - began
    time.sleep(0.2)
    start = log.find(f"import job {job_id}: committing")
    end = log.find(f"import job {job_id}: ")
    done = next(((t, line) for t, line in log.lines if f"import job {job_id}:" in line and "committed in" in line), None)
    during = [ms for t, ms in samples if start and done and start[0] <= t <= done[0]]
    found = COMMITTED.search(done[1]) if done else None
    return {
        "job": job_id, "status": status, "elapsed": elapsed, "all": [ms for _, ms in samples], "during": during,
        "commit_ms": float(found.group(1)) if found else float("nan"), "turns": int(found.group(2)) if found else 0,
        "longest_ms": float(found.group(3)) if found else float("nan"),
        "longest_cpu_ms": float(found.group(4)) if found else float("nan"), "log": (end or done or (0, "?"))[1],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--bin", default=str(ROOT / ".build" / "release" / "healthimaging-local"))
    args = parser.parse_args()
    if not Path(args.bin).exists():
        print(f"build the release binary first ({args.bin})", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hil-commit-bench-") as tmp:
        root = Path(tmp) / "s3"
        made = time.perf_counter()
        write_single_instance_series(root / "bench" / "series", args.files)
        print(f"wrote {args.files} single-instance series in {time.perf_counter() - made:.1f} s")
        server = subprocess.Popen(
            [args.bin, "--port", "0", "--fixtures", str(ROOT / "fixtures" / "seed.json"), "--s3-dir", str(root),
             "--log-level", "info"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            url = server.stdout.readline().decode().strip()
            host, port = url[len("http://"):].split(":")
            log = Log(server.stderr)
            results = [run_job(host, int(port), log, "first", "out1"), run_job(host, int(port), log, "again", "out2")]
        finally:
            server.terminate()
            server.wait(timeout=30)
    ok = True
    for name, r in zip(("new image sets", "version 2 of each"), results):
        print(f"{name}: job {r['status']} in {r['elapsed']:.2f} s; commit {r['commit_ms']:.0f} ms over {r['turns']} turns, "
              f"longest turn {r['longest_ms']:.2f} ms ({r['longest_cpu_ms']:.2f} ms CPU)")
        print(f"  health during commit: {len(r['during'])} requests  p50 {percentile(r['during'], 50):.3f} ms  "
              f"p99 {percentile(r['during'], 99):.3f} ms  max {max(r['during'], default=float('nan')):.3f} ms; "
              f"whole job: p99 {percentile(r['all'], 99):.3f} ms")
        target = (r["status"] == "COMPLETED" and r["commit_ms"] < 5000 * args.files / 5000 and r["longest_ms"] <= 10
                  and percentile(r["during"], 99) < 10)
        ok = ok and target
        print(f"  target (commit < {5 * args.files / 5000:.1f} s, turns <= 10 ms, p99 < 10 ms): {'OK' if target else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
