#!/usr/bin/env python3
"""Store bounds: RSS after loading many fixture versions with --db, and the WAL under sustained writes.

Usage: bench/store.py [--versions N] [--per-image-set K] [--writes W] [--bin PATH]

1. RSS: writes a fixture of N versions (N/K image sets of K versions; default 10^6 = 1000 x 1000), starts
   the emulator with --db on it and reads VmRSS / VmHWM once the URL line is printed; the baseline is the same
   emulator started with --db on a 10-version fixture, in the same run. Prints both, the difference, and the
   difference in units of SQLite's page cache (PRAGMA cache_size, 2000 KiB by default).
2. WAL: against a --db server, W small writes (CreateDatastore, one keep-alive connection) with a read after
   every 100; prints the largest -wal size seen, its size after SIGTERM, and the database file size.
stdlib only; the outputs go to a temporary directory, removed at the end.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "conformance"))
from fixture_files import rss_kib, write_many_versions_fixture  # noqa: E402  (stdlib only, shared with the tests)
MiB = 1 << 20


def status(pid):
    return {field: rss_kib(pid, field) * 1024 for field in ("VmRSS", "VmHWM")}


def start(binary, *args, timeout=900):
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("http://"):
        proc.kill()
        raise SystemExit(f"no URL line ({line!r}): {proc.stderr.read().decode()[:2000]}")
    return proc, line, time.monotonic() - t0


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    return proc.returncode


def wal(db):
    p = Path(str(db) + "-wal")
    return p.stat().st_size if p.exists() else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--versions", type=int, default=1_000_000)
    ap.add_argument("--per-image-set", type=int, default=1000)
    ap.add_argument("--writes", type=int, default=30_000)
    ap.add_argument("--bin", default=str(ROOT / ".build" / "release" / "healthimaging-local"))
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hil-bench-store-"))
    try:
        small, big = tmp / "small.json", tmp / "big.json"
        write_many_versions_fixture(small, 1, 10)
        write_many_versions_fixture(big, max(1, a.versions // a.per_image_set), a.per_image_set)
        base, _, _ = start(a.bin, "--fixtures", str(small), "--db", str(tmp / "small.db"))
        b = status(base.pid)
        stop(base)
        proc, _, took = start(a.bin, "--fixtures", str(big), "--db", str(tmp / "big.db"))
        s = status(proc.pid)
        stop(proc)
        cache = 2000 * 1024
        grown = s["VmRSS"] - b["VmRSS"]
        print(f"fixture: {a.versions} versions, {big.stat().st_size / MiB:.1f} MiB of JSON, startup {took:.1f} s")
        print(f"rss_baseline_mib={b['VmRSS'] / MiB:.1f} rss_loaded_mib={s['VmRSS'] / MiB:.1f} "
              f"peak_loaded_mib={s['VmHWM'] / MiB:.1f} database_mib={(tmp / 'big.db').stat().st_size / MiB:.1f}")
        print(f"rss_ratio_loaded_over_baseline={s['VmRSS'] / b['VmRSS']:.2f} "
              f"rss_growth_in_page_caches={grown / cache:.2f} (page cache {cache // 1024} KiB)")

        db = tmp / "wal.db"
        proc, url, _ = start(a.bin, "--db", str(db))
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        largest = 0
        t0 = time.monotonic()
        for i in range(a.writes):
            body = json.dumps({"clientToken": f"w{i}", "datastoreName": f"bench-{i}"}).encode()
            conn.request("POST", "/datastore", body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"write {i}: HTTP {r.status}")
            if i % 100 == 99:
                conn.request("GET", "/datastore?maxResults=5")
                conn.getresponse().read()
                largest = max(largest, wal(db))
        conn.close()
        took = time.monotonic() - t0
        largest = max(largest, wal(db))
        stop(proc)
        print(f"writes={a.writes} in {took:.1f} s; wal_largest_mib={largest / MiB:.2f} "
              f"wal_after_sigterm_bytes={wal(db)} database_mib={db.stat().st_size / MiB:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
