#!/usr/bin/env python3
"""Time from process start to first answered request.

Usage: startup.py [--runs N] [--timeout S] [--path P] [--method M] -- CMD [ARGS...]

Each run: take time.perf_counter() just before subprocess.Popen(CMD), read the
"http://127.0.0.1:PORT" line the server prints on stdout, then send the request
(default: POST with an empty body) until it answers 200; the elapsed time is
one sample. The server is then stopped with SIGTERM. Prints one line per run
and a final line "startup_ms median=X max=Y runs=N" (stdlib only).
"""
import argparse
import http.client
import statistics
import subprocess
import sys
import time
import urllib.parse


def one_run(cmd, method, path, timeout, cwd):
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd)
    try:
        line = proc.stdout.readline().decode("utf-8", "replace").strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"no URL line on stdout (got {line!r}, exit code {proc.poll()})")
        url = urllib.parse.urlsplit(line)
        deadline = t0 + timeout
        last_err = None
        while True:
            now = time.perf_counter()
            if now > deadline:
                raise RuntimeError(f"no 200 answer within {timeout}s (last: {last_err})")
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with code {proc.returncode}")
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=max(0.1, deadline - now))
            try:
                conn.request(method, path, body=b"" if method in ("POST", "PUT", "PATCH") else None)
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    return (time.perf_counter() - t0) * 1000.0
                last_err = f"HTTP {resp.status}"
            except (OSError, http.client.HTTPException) as e:
                last_err = repr(e)
            finally:
                conn.close()
            time.sleep(0.0005)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per run")
    ap.add_argument("--method", default="POST")
    ap.add_argument("--path", required=True)
    ap.add_argument("--cwd", default=None)
    ap.add_argument("--label", default="server")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        ap.error("missing command")

    samples = []
    for i in range(args.runs):
        try:
            ms = one_run(cmd, args.method, args.path, args.timeout, args.cwd)
        except RuntimeError as e:
            print(f"{args.label} run {i + 1}: FAILED: {e}", file=sys.stderr)
            return 1
        samples.append(ms)
        print(f"{args.label} run {i + 1}: {ms:.1f} ms")
    print(f"startup_ms median={statistics.median(samples):.1f} max={max(samples):.1f} runs={len(samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
