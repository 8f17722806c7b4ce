#!/usr/bin/env python3
"""Import throughput with --eventbridge-endpoint pointed at a server that accepts and drops every request, next to
the same import with no event delivery, in one run (issue 14: within 5 %, loop latency unchanged).

    .venv/bin/python bench/events.py            # needs pydicom + numpy (Tests/conformance/requirements.txt)

Writes BENCH_FRAMES (200) single-frame 512x512 16-bit CT files in BENCH_SERIES (20) series into a temporary
--s3-dir bucket (so the import announces one Image Set Created per series besides the job's four events), starts
a sink in its own process (an HTTP server that reads each request and answers 200 {"FailedEntryCount":0} without
keeping anything),
then, BENCH_ROUNDS (5) times each, alternating: starts the release binary with and without
--eventbridge-endpoint, runs the import job and times it from StartDICOMImportJob to COMPLETED while a second
connection measures ListImageSetVersions latency. Prints the median frames/s of both, their ratio (target
>= 0.95), the p99 of the loop's answers during the imports, and how many PutEvents requests the sink received.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_latency import BIN, import_while_listing, make_series, percentile, request, start_server  # noqa: E402

FRAMES = int(os.environ.get("BENCH_FRAMES", "200"))
SERIES = int(os.environ.get("BENCH_SERIES", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def make_files(folder: Path) -> None:
    make_series(folder, FRAMES, series_count=SERIES)


class SinkHandler(BaseHTTPRequestHandler):
    """Accepts every PutEvents request and drops it."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        answer = b'{"FailedEntryCount":0,"Entries":[{"EventId":"dropped"}]}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        with open(self.server.count_file, "a") as f:  # type: ignore[attr-defined]
            f.write("x")


def serve_sink(count_file: str) -> None:
    """The sink, in its own process (so it never shares the measuring process's interpreter)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SinkHandler)
    httpd.count_file = count_file  # type: ignore[attr-defined]
    print(f"http://127.0.0.1:{httpd.server_address[1]}", flush=True)
    httpd.serve_forever()


def run_import(root: Path, extra: list[str], tag: str) -> tuple[float, list[float], int]:
    """One server, one import; (seconds, loop latencies during it, events in the ring)."""
    with start_server(root, extra, warm_up=100) as (_, conn, job_conn):
        seconds, during, _, job_status = import_while_listing(conn, job_conn, tag, "s3://bench/files/", f"s3://bench/out-{tag}/")
        assert job_status == "COMPLETED", job_status
        _, _, data = request(job_conn, "GET", "/_healthimaging/events")
        return seconds, during, len(json.loads(data)["events"])


def main() -> int:
    if not BIN.exists():
        print(f"build the release binary first ({BIN})", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hil-events-bench-") as tmp:
        count_file = Path(tmp) / "sink-count"
        count_file.write_text("")
        sink = subprocess.Popen([sys.executable, __file__, "--sink", str(count_file)], stdout=subprocess.PIPE)
        sink_url = sink.stdout.readline().decode().strip()
        root = Path(tmp) / "s3"
        folder = root / "bench" / "files"
        folder.mkdir(parents=True)
        make_files(folder)
        results: dict[str, list[float]] = {"no delivery": [], "delivery": []}
        latencies: dict[str, list[float]] = {"no delivery": [], "delivery": []}
        events = 0
        for round_ in range(ROUNDS):
            for name, extra in (("no delivery", []), ("delivery", ["--eventbridge-endpoint", sink_url])):
                seconds, during, count = run_import(root, extra, f"{name[:2]}{round_}")
                results[name].append(FRAMES / seconds)
                latencies[name] += during
                events = count
                print(f"round {round_ + 1} {name:>11}: {seconds:.2f} s, {FRAMES / seconds:.1f} frames/s, {count} events")
        received = len(count_file.read_text())
        sink.terminate()
        sink.wait(timeout=10)
    base = statistics.median(results["no delivery"])
    with_delivery = statistics.median(results["delivery"])
    for name in results:
        print(f"{name:>11}: median {statistics.median(results[name]):.1f} frames/s  loop p99 "
              f"{percentile(latencies[name], 99):.3f} ms  max {max(latencies[name]):.3f} ms")
    ratio = with_delivery / base
    print(f"{events} events per import; the sink received {received} PutEvents requests over {ROUNDS} imports")
    print(f"throughput ratio delivery/no delivery: {ratio:.3f} (target >= 0.95): {'OK' if ratio >= 0.95 else 'MISSED'}")
    return 0 if ratio >= 0.95 else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sink":
        serve_sink(sys.argv[2])
    else:
        sys.exit(main())
