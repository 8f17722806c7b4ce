#!/usr/bin/env python3
"""Seeded, time-bounded HTTP fuzzing of the built binary on loopback.

Mixed requests — methods, paths, queries, headers, bodies — sent well-formed, malformed and mangled at the
byte level, over fresh and kept-alive raw sockets from several threads. Every answer is checked: it must be
HTTP with a Content-Length, and JSON (`application/json` that parses) unless it is a HEAD answer or
100 Continue. The run reports crashes, hangs (no answer and no close within --answer-timeout), non-JSON
answers, 5xx answers by status (501 is the designed answer to unsupported methods and transfer codings),
server RSS and open descriptors before/after, and the WAL size after (the run uses --db).

    bench/fuzz.py                          # 100,000 requests, seed 1, at most 15 minutes
    bench/fuzz.py --requests 3000 --seed 7 --time-limit 25 --json out.json

DICOM mode (issue #16): N Part 10 files mutated from the shipped samples (fixtures/s3/healthimaging-local-samples)
— byte flips, lying lengths, changed VRs, inserted nesting up to 50,000 levels, extreme pixel-module values,
truncation, spliced chunks — each sent through ``POST /_healthimaging/datastores/{id}/dicom``. Every answer must be
JSON (2xx for a file that still imports, 4xx for one that does not); no crash, no hang, no 5xx; the report gives the
slowest file and the peak RSS growth.

    bench/fuzz.py --dicom 10000            # the full run
    bench/fuzz.py --dicom 300 --seed 7     # what CI runs (Tests/conformance/test_fuzz.py)

Exit status 0 when nothing is wrong, 1 otherwise. Tests/conformance/test_fuzz.py runs a short version of each in CI.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DS = "12345678901234567890123456789012"
IS = "ea92b0d8838c72a3f25d00d13616f87e"
ARN = "arn%3Aaws%3Amedical-imaging%3Aus-east-1%3A123456789012%3Adatastore%2F" + DS

PATHS = [
    "/datastore", f"/datastore/{DS}", f"/datastore/{'0' * 32}", f"/datastore/{DS}/searchImageSets",
    f"/datastore/{DS}/imageSet/{IS}/getImageSet", f"/datastore/{DS}/imageSet/{IS}/getImageSetMetadata",
    f"/datastore/{DS}/imageSet/{IS}/listImageSetVersions", f"/datastore/{DS}/imageSet/{IS}/updateImageSetMetadata",
    f"/datastore/{DS}/imageSet/{IS}/copyImageSet", f"/datastore/{DS}/imageSet/{IS}/deleteImageSet",
    f"/datastore/{DS}/imageSet/{IS}/getImageFrame", f"/getDICOMImportJob/datastore/{DS}/job/{'a' * 32}",
    f"/listDICOMImportJobs/datastore/{DS}", f"/startDICOMImportJob/datastore/{DS}", f"/tags/{ARN}",
    "/_healthimaging/health", "/_healthimaging/journal", "/_healthimaging/fixtures", "/_healthimaging/faults",
    "/_healthimaging/transitions", "/_healthimaging/transitions/advance", "/_healthimaging/outcomes",
    f"/_healthimaging/datastores/{DS}/imageSets", f"/_healthimaging/datastores/{DS}/imageSets/{IS}/versions/1",
    "/", "//", "//datastore", "///", "/%", "/%00", "/..%2f..%2fetc/passwd", "/datastore/%2e%2e", "/\u00e9",
    "/datastore/" + "a" * 300, "/datastore/" + "b" * 20000, "*", "http://127.0.0.1/datastore", "https://x/datastore",
    "datastore", "/datastore?", "/datastore#frag", "/datastore/{datastoreId}",
]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "get", "FOO", "PRI",
           "G ET", "", "POST\t"]
QUERY_KEYS = ["maxResults", "nextToken", "version", "latestVersion", "force", "account", "region", "to", "scope",
              "sourceImageSetId", "x", "", "%", "a[]", "\u00fc"]
QUERY_VALUES = ["", "1", "0", "-1", "50", "51", "abc", "9223372036854775807", "99999999999999999999", "%zz", "true",
                "empty", "startup", "all", "A" * 9000, "+", "%2B", "1e3"]
HEADER_NAMES = ["Content-Type", "Accept", "Authorization", "X-Amz-Date", "X-Amz-Target", "User-Agent", "Host",
                "Expect", "Connection", "Transfer-Encoding", "Content-Encoding", "X-Big", "Cookie", "Range"]
HEADER_VALUES = ["application/json", "text/plain", "*/*", "100-continue", "close", "keep-alive", "chunked", "gzip",
                 "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/medical-imaging/aws4_request, "
                 "SignedHeaders=host, Signature=abc", "", " ", "\u00ff", "a" * 70000, "x" * 300]
JSON_BODIES = [
    b"{}", b"[]", b"null", b"{", b"\"x\"", b"1", b"{\"filters\": []}", b"{\"filters\": [{\"operator\": \"EQUAL\", "
    b"\"values\": [{\"DICOMPatientId\": \"x\"}]}]}", b"{\"datastoreName\": \"fuzz\"}", b"{\"a\": 1, \"a\": 2}",
    b"{\"updateImageSetMetadataUpdates\": {\"DICOMUpdates\": {\"updatableAttributes\": \"e30=\"}}}",
    b"{\"copyImageSetInformation\": {\"sourceImageSet\": {\"latestVersionId\": \"1\"}}}", b"{\"rules\": [{}]}",
    b"{\"datastores\": 5}", b"{\"to\": 3}", b"{\"imageSetState\": \"ACTIVE\"}", b"\xff\xfe\x00", b"{\"x\": 1e999999}",
    b"[" * 3000, b"{\"tags\": {\"k\": \"v\"}}", b"{\"datastore\": \"manual\"}", b"\"\\ud800\"",
]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.statuses = Counter()
        self.answered = 0
        self.closed_without_answer = 0
        self.hangs = []
        self.non_json = []
        self.no_length = []
        self.server_errors = []
        self.connect_errors = 0
        self.cut_after_half_close = 0
        self.slowest = (0.0, "")  # (seconds, file and mutations) of the slowest DICOM upload

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                if isinstance(getattr(self, k), list):
                    if len(getattr(self, k)) < 20:
                        getattr(self, k).append(v)
                    setattr(self, k + "_count", getattr(self, k + "_count", 0) + 1)
                else:
                    setattr(self, k, getattr(self, k) + v)


def rand_target(rng: random.Random) -> str:
    path = rng.choice(PATHS)
    if rng.random() < 0.1:
        path = path.replace("/", rng.choice(["//", "/./", "%2F", "/"]), 1)
    if rng.random() < 0.45:
        pairs = []
        for _ in range(rng.randint(1, 4)):
            pairs.append(f"{rng.choice(QUERY_KEYS)}={rng.choice(QUERY_VALUES)}")
        path += "?" + "&".join(pairs)
    return path


def rand_body(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.45:
        return rng.choice(JSON_BODIES)
    if r < 0.6:
        return b""
    if r < 0.75:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
    if r < 0.85:
        n = rng.randint(1, 3000)
        return ("{" + ",".join(f'"k{i}":{i}' for i in range(n)) + "}").encode()
    if r < 0.95:
        return json.dumps({"filters": [{"operator": rng.choice(["EQUAL", "BETWEEN", "x"]),
                                        "values": [{rng.choice(["DICOMPatientId", "DICOMStudyDate", "updatedAt", "x"]):
                                                    rng.choice(["x", 1, None, [], {}])}]}]}).encode()
    return b"x" * rng.randint(10_000, 200_000)


# A second request behind the first one's body: never run when the first is misframed; when the first is well
# framed it is simply the next (pipelined) request, answered after the first.
SMUGGLED = b"POST /_healthimaging/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"


def build_request(rng: random.Random) -> tuple[bytes, str, bool]:
    """Returns (bytes, method, complete): complete is False for deliberately truncated requests."""
    method = rng.choice(METHODS) if rng.random() < 0.35 else rng.choice(["GET", "POST", "POST", "DELETE", "PUT"])
    target = rand_target(rng)
    version = rng.choice(["HTTP/1.1"] * 12 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ", "http/1.1", ""])
    body = rand_body(rng) if method not in ("GET", "HEAD") or rng.random() < 0.1 else b""
    headers = [f"Host: 127.0.0.1"]
    length_mode = rng.random()
    if length_mode < 0.8:
        headers.append(f"Content-Length: {len(body)}")
    elif length_mode < 0.84:
        headers.append(f"Content-Length: +{len(body)}")
    elif length_mode < 0.87:
        headers += [f"Content-Length: {len(body)}", f"Content-Length: {len(body) + 1}"]
    elif length_mode < 0.9:
        headers.append(f"Content-Length : {len(body)}")
    elif length_mode < 0.93:
        headers.append("Transfer-Encoding: chunked")
        body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n" if body else b"0\r\n\r\n"
    elif length_mode < 0.95:
        headers.append(f"Content-Length: {rng.choice([17 * 1024 * 1024, 250 * 1024 * 1024, 2 ** 63, 10 ** 30])}")
    for _ in range(rng.randint(0, 4)):
        headers.append(f"{rng.choice(HEADER_NAMES)}: {rng.choice(HEADER_VALUES)}")
    if rng.random() < 0.02:
        headers.append(" folded: yes")
    if rng.random() < 0.02:
        headers.append("NoColonHere")
    if rng.random() < 0.2:
        headers.append("Connection: close")
    head = f"{method} {target} {version}".rstrip() if version else f"{method} {target}"
    data = (head + "\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode("utf-8", "replace") + body
    complete = True
    mangle = rng.random()
    if mangle < 0.05:
        i = rng.randrange(len(data))
        data = data[:i] + bytes([rng.getrandbits(8)]) + data[i + 1:]
        complete = False  # the mangled byte may end the head early or never
    elif mangle < 0.08:
        data = data[: rng.randrange(1, len(data))]
        complete = False
    elif mangle < 0.1:
        data = data.replace(b"\r\n", b"\n")
    elif mangle < 0.11:
        data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 500)))
        complete = False
    elif mangle < 0.13:
        data += SMUGGLED
    # A body that claims more than is sent makes the server wait: only such requests may end without answer.
    if b"Content-Length" in data and not data.endswith(body):
        complete = False
    return data, method, complete


def receive(sock: socket.socket, deadline: float) -> bytes | None:
    """The next bytes from ``sock``: b"" when the peer closed (or reset), None when ``deadline`` passed first."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            continue
        try:
            return sock.recv(65536)
        except OSError:  # ConnectionResetError included
            return b""


def read_answer(sock: socket.socket, timeout: float, head_request: bool):
    """Returns ('answer', status, headers, body, closed_after) | ('closed',) | ('hang',)."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            chunk = receive(sock, deadline)
            if chunk is None:
                return ("hang", buf)
            if not chunk:
                return ("closed", buf) if not buf else ("garbage", buf)
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("iso-8859-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        if not m:
            return ("garbage", buf)
        status = int(m.group(1))
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if status == 100:
            buf = rest
            continue
        if head_request:
            return ("answer", status, headers, b"")
        if "content-length" not in headers:
            return ("nolength", status, headers, rest)
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = receive(sock, deadline)
            if chunk is None:
                return ("hang", buf)
            if not chunk:
                return ("short", status, headers, rest)
            rest += chunk
        return ("answer", status, headers, rest[:n])


def still_answering(port: int) -> bool:
    """Whether the server still answers a health check after the run."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /_healthimaging/health HTTP/1.1\r\nHost: x\r\n\r\n")
            return read_answer(s, 5, False)[0] == "answer"
    except OSError:
        return False


def worker(port: int, rng: random.Random, stats: Stats, stop_at: float, budget, answer_timeout: float):
    sock = None
    while time.monotonic() < stop_at:
        with budget["lock"]:
            if budget["left"] <= 0:
                break
            budget["left"] -= 1
        data, method, complete = build_request(rng)
        if sock is None or rng.random() < 0.3:
            if sock:
                sock.close()
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=answer_timeout)
            except OSError:
                stats.add(connect_errors=1)
                sock = None
                time.sleep(0.05)
                continue
        try:
            sock.sendall(data)
            if not complete:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            sock = None
            stats.add(requests=1, closed_without_answer=1)
            continue
        result = read_answer(sock, answer_timeout, head_request=method == "HEAD")
        stats.add(requests=1)
        kind = result[0]
        keep = False
        if kind == "answer":
            _, status, headers, body = result
            stats.add(answered=1)
            with stats.lock:
                stats.statuses[status] += 1
            if status >= 500 and status != 501:
                stats.add(server_errors={"status": status, "request": data[:300].decode("latin-1"), "body": body[:300].decode("latin-1")})
            if method != "HEAD" or status >= 400 and body:
                ok = headers.get("content-type") == "application/json"
                try:
                    if headers.get("content-encoding") == "gzip" and status < 300:
                        body = gzip.decompress(body)  # GetImageSetMetadata's document
                    json.loads(body)
                except (ValueError, OSError, EOFError):
                    ok = False
                if not ok and not (method == "HEAD" and not body):
                    stats.add(non_json={"status": status, "request": data[:300].decode("latin-1"), "answer": body[:200].decode("latin-1")})
            # After a pipelined second request the connection has a second answer coming: not reused.
            keep = complete and SMUGGLED not in data and headers.get("connection", "").strip().lower() != "close"
        elif kind == "closed":
            stats.add(closed_without_answer=1)
        elif kind == "hang":
            if complete:
                stats.add(hangs={"request": data[:300].decode("latin-1"), "got": result[1][:200].decode("latin-1")})
            else:
                stats.add(closed_without_answer=1)
        elif kind == "nolength":
            stats.add(no_length={"status": result[1], "request": data[:300].decode("latin-1")})
        elif kind == "short" and not complete:
            # The client half-closed (it sent a request it knows is incomplete or mangled, then SHUT_WR):
            # libevent takes a client's EOF as the end of the connection, also while answering.
            stats.add(cut_after_half_close=1)
        else:
            stats.add(non_json={"kind": kind, "request": data[:300].decode("latin-1"),
                                "answer": repr(result[1][:200]) if len(result) == 2 else repr(result[3][:200])})
        if not keep:
            sock.close()
            sock = None
    if sock:
        sock.close()


def proc_status(pid: int) -> dict:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def start_server(binary: Path, db: Path, stderr_path: Path, extra: list[str]):
    stderr = open(stderr_path, "wb")
    proc = subprocess.Popen([str(binary), "--port", "0", "--db", str(db), "--fixtures", str(ROOT / "fixtures" / "seed.json"),
                             "--log-level", "warning", *extra],
                            stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
    line = proc.stdout.readline().decode().strip()
    m = re.match(r"http://127\.0\.0\.1:(\d+)$", line)
    if not m:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}\n{stderr_path.read_text(errors='replace')}")
    return proc, int(m.group(1))


def fresh_db(db: Path) -> None:
    """Removes the database and its -wal / -shm files, so the server starts on an empty store."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


def stop_server(proc) -> None:
    """SIGTERM if it is still running, then SIGKILL if it has not exited within 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(binary: Path, requests: int, seed: int, time_limit: float, workers: int = 4, answer_timeout: float = 10.0,
        work_dir: Path | None = None, extra: list[str] = ()) -> dict:
    work = Path(work_dir or tempfile.mkdtemp(prefix="hil-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "fuzz.db"
    fresh_db(db)
    stderr_path = work / "server.stderr"
    proc, port = start_server(binary, db, stderr_path, list(extra))
    stats = Stats()
    try:
        time.sleep(0.2)
        before = proc_status(proc.pid)
        started = time.monotonic()
        stop_at = started + time_limit
        budget = {"left": requests, "lock": threading.Lock()}
        master = random.Random(seed)
        threads = [threading.Thread(target=worker, args=(port, random.Random(master.getrandbits(64)), stats, stop_at, budget, answer_timeout))
                   for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        alive = proc.poll() is None
        time.sleep(0.5)
        after = proc_status(proc.pid) if alive else {}
        # Still answering?
        final_ok = alive and still_answering(port)
        wal_during = Path(str(db) + "-wal").stat().st_size if Path(str(db) + "-wal").exists() else 0
    finally:
        stop_server(proc)
    wal = Path(str(db) + "-wal")
    report = {
        "seed": seed, "requests": stats.requests, "seconds": round(elapsed, 1),
        "requests_per_second": round(stats.requests / elapsed, 1) if elapsed else None,
        "crashed": not alive, "exit_code": proc.returncode, "answering_at_end": final_ok,
        "answered": stats.answered, "closed_without_answer": stats.closed_without_answer,
        "connect_errors": stats.connect_errors, "answers_cut_after_client_half_close": stats.cut_after_half_close,
        "hangs": getattr(stats, "hangs_count", 0), "non_json": getattr(stats, "non_json_count", 0),
        "no_content_length": getattr(stats, "no_length_count", 0),
        "server_errors_5xx_not_501": getattr(stats, "server_errors_count", 0),
        "statuses": dict(sorted(stats.statuses.items())),
        "rss_kib_before": before.get("VmRSS"), "rss_kib_after": after.get("VmRSS"), "peak_rss_kib": after.get("VmHWM"),
        "fds_before": before.get("fds"), "fds_after": after.get("fds"),
        "wal_bytes_after_run": wal_during, "wal_bytes_after_exit": wal.stat().st_size if wal.exists() else 0,
        "db_bytes_after_exit": db.stat().st_size if db.exists() else 0,
        "stderr_bytes": stderr_path.stat().st_size,
        "samples": {"hangs": stats.hangs, "non_json": stats.non_json, "no_content_length": stats.no_length,
                    "server_errors": stats.server_errors},
    }
    report["ok"] = (alive and final_ok and report["hangs"] == 0 and report["non_json"] == 0
                    and report["no_content_length"] == 0 and report["server_errors_5xx_not_501"] == 0
                    and proc.returncode == 0)
    return report


# ---- DICOM mode ------------------------------------------------------------------------------------------------------

SAMPLES = ROOT / "fixtures" / "s3" / "healthimaging-local-samples" / "dicom"
VR_NAMES = [b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB", b"OD", b"OF",
            b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI", b"UL", b"UN",
            b"UR", b"US", b"UT", b"UV"]
LONG_VR_NAMES = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
VR_PATTERN = re.compile(b"(?=(" + b"|".join(VR_NAMES) + b"))")
LENGTHS_32 = [0, 1, 2, 3, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFE, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]
LENGTHS_16 = [0, 1, 2, 3, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF]
PIXEL_US_TAGS = [(0x0028, 0x0002), (0x0028, 0x0010), (0x0028, 0x0011), (0x0028, 0x0100), (0x0028, 0x0101),
                 (0x0028, 0x0103), (0x0028, 0x0006)]
FRAME_COUNTS = [b"0", b"-1", b"2", b"1000", b"65535", b"99999999", b"2147483647", b"4294967296", b"1e9", b""]
DEPTHS = [1, 2, 10, 63, 64, 65, 500, 5000, 50000]
SQ_OPEN = b"\x40\x00\x30\xa7SQ\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\xff\xff\xff\xff"
SQ_CLOSE = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00\xfe\xff\xdd\xe0\x00\x00\x00\x00"


class Sample:
    def __init__(self, path: Path):
        self.name = path.name
        self.data = path.read_bytes()
        # Where explicit-VR element headers may start (a VR two bytes after a 4-byte tag), past the preamble.
        self.headers = [m.start() - 4 for m in VR_PATTERN.finditer(self.data, 136)]


def mutate(sample: Sample, rng: random.Random) -> tuple[bytes, str]:
    data = bytearray(sample.data)
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.choice(["flip", "length", "length", "vr", "nesting", "pixel", "frames", "truncate", "splice"])
        headers = [h for h in sample.headers if h + 12 <= len(data)]
        if kind == "flip":
            for _ in range(rng.randint(1, 16)):
                i = rng.randrange(128, len(data))
                data[i] ^= rng.randrange(1, 256)
        elif kind == "length" and headers:
            h = rng.choice(headers)
            if bytes(data[h + 4:h + 6]) in LONG_VR_NAMES:
                data[h + 8:h + 12] = rng.choice(LENGTHS_32).to_bytes(4, "little")
            else:
                data[h + 6:h + 8] = rng.choice(LENGTHS_16).to_bytes(2, "little")
        elif kind == "vr" and headers:
            h = rng.choice(headers)
            data[h + 4:h + 6] = rng.choice(VR_NAMES + [b"XX", b"\x00\x00", b"sq"])
        elif kind == "nesting" and headers:
            h = rng.choice([x for x in headers if x >= 132] or headers)
            depth = rng.choice(DEPTHS)
            data[h:h] = SQ_OPEN * depth + SQ_CLOSE * depth
        elif kind == "pixel":
            group, element = rng.choice(PIXEL_US_TAGS)
            i = bytes(data).find(group.to_bytes(2, "little") + element.to_bytes(2, "little") + b"US")
            if i >= 0 and i + 10 <= len(data):
                data[i + 8:i + 10] = rng.choice(LENGTHS_16).to_bytes(2, "little")
        elif kind == "frames":
            i = bytes(data).find(b"\x28\x00\x08\x00IS")
            if i >= 0:
                n = int.from_bytes(data[i + 6:i + 8], "little")
                value = rng.choice(FRAME_COUNTS)
                data[i + 6:i + 8 + n] = (len(value) + len(value) % 2).to_bytes(2, "little") + value + b" " * (len(value) % 2)
        elif kind == "truncate":
            del data[rng.randrange(132, len(data)):]
        elif kind == "splice":
            a = rng.randrange(132, len(data))
            b = min(len(data), a + rng.randint(1, 4096))
            at = rng.randrange(132, len(data))
            data[at:at] = data[a:b] * rng.randint(1, 4)
        done.append(kind)
    return bytes(data), "+".join(done)


def dicom_worker(port: int, jobs: list, stats: Stats, stop_at: float, answer_timeout: float, lock: threading.Lock):
    while time.monotonic() < stop_at:
        with lock:
            if not jobs:
                return
            name, data, how = jobs.pop()
        request = (f"POST /_healthimaging/datastores/{DS}/dicom?inputFile={name} HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Type: application/dicom\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data
        started = time.monotonic()
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=answer_timeout)
        except OSError:
            stats.add(connect_errors=1)
            time.sleep(0.05)
            continue
        try:
            sock.sendall(request)
            result = read_answer(sock, answer_timeout, head_request=False)
        except OSError:
            result = ("closed", b"")
        finally:
            sock.close()
        took = time.monotonic() - started
        stats.add(requests=1)
        with stats.lock:
            stats.slowest = max(stats.slowest, (took, f"{name} ({how})"))
        sample = {"file": name, "mutations": how}
        if result[0] == "answer":
            _, status, headers, body = result
            stats.add(answered=1)
            with stats.lock:
                stats.statuses[status] += 1
            if status >= 500:
                stats.add(server_errors=dict(sample, status=status, body=body[:300].decode("latin-1")))
            try:
                json.loads(body)
                if headers.get("content-type") != "application/json":
                    raise ValueError
            except ValueError:
                stats.add(non_json=dict(sample, status=status, answer=body[:200].decode("latin-1")))
        elif result[0] == "hang":
            stats.add(hangs=sample)
        else:
            stats.add(closed_without_answer=1, non_json=dict(sample, kind=result[0]))


def run_dicom(binary: Path, files: int, seed: int, time_limit: float, workers: int = 2, answer_timeout: float = 10.0,
              work_dir: Path | None = None, extra: list[str] = ()) -> dict:
    """Sends ``files`` mutated Part 10 files through /dicom; the report says what went wrong, if anything."""
    work = Path(work_dir or tempfile.mkdtemp(prefix="hil-fuzz-dicom-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "fuzz-dicom.db"
    fresh_db(db)
    samples = [Sample(p) for p in sorted(SAMPLES.glob("*.dcm"))]
    rng = random.Random(seed)
    jobs = []
    for n in range(files):
        data, how = mutate(rng.choice(samples), rng)
        jobs.append((f"fuzz-{n:05d}.dcm", data, how))
    jobs.reverse()  # popped from the end: sent in order
    stderr_path = work / "server.stderr"
    # The largest mutation (nesting 50,000 deep, about 2 MB) is within the default body limit.
    proc, port = start_server(binary, db, stderr_path, list(extra))
    stats = Stats()
    elapsed = 0.0
    try:
        time.sleep(0.2)
        before = proc_status(proc.pid)
        started = time.monotonic()
        lock = threading.Lock()
        threads = [threading.Thread(target=dicom_worker, args=(port, jobs, stats, started + time_limit, answer_timeout, lock))
                   for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        alive = proc.poll() is None
        after = proc_status(proc.pid) if alive else {}
        final_ok = alive and still_answering(port)
    finally:
        stop_server(proc)
    slowest = stats.slowest
    report = {
        "mode": "dicom", "seed": seed, "files": stats.requests, "files_planned": files, "seconds": round(elapsed, 1),
        "crashed": not alive, "exit_code": proc.returncode, "answering_at_end": final_ok,
        "answered": stats.answered, "closed_without_answer": stats.closed_without_answer,
        "connect_errors": stats.connect_errors,
        "hangs": getattr(stats, "hangs_count", 0), "non_json": getattr(stats, "non_json_count", 0),
        "server_errors_5xx": getattr(stats, "server_errors_count", 0),
        "statuses": dict(sorted(stats.statuses.items())),
        "slowest_seconds": round(slowest[0], 3), "slowest_file": slowest[1],
        "rss_kib_before": before.get("VmRSS"), "rss_kib_after": after.get("VmRSS"),
        "peak_rss_kib_before": before.get("VmHWM"), "peak_rss_kib": after.get("VmHWM"),
        "peak_rss_growth_kib": (after.get("VmHWM", 0) - before.get("VmHWM", 0)) if after else None,
        "fds_before": before.get("fds"), "fds_after": after.get("fds"),
        "samples": {"hangs": stats.hangs, "non_json": stats.non_json, "server_errors": stats.server_errors},
    }
    report["ok"] = (alive and final_ok and report["hangs"] == 0 and report["non_json"] == 0
                    and report["server_errors_5xx"] == 0 and proc.returncode == 0)
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.environ.get("HIL_BINARY", str(ROOT / ".build/release/healthimaging-local")))
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=900)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--answer-timeout", type=float, default=10)
    ap.add_argument("--json", help="also write the report here")
    ap.add_argument("--dicom", type=int, metavar="N", help="DICOM mode: N mutated Part 10 files through /dicom")
    args = ap.parse_args()
    if args.dicom:
        report = run_dicom(Path(args.binary), args.dicom, args.seed, args.time_limit, min(args.workers, 2), args.answer_timeout)
    else:
        report = run(Path(args.binary), args.requests, args.seed, args.time_limit, args.workers, args.answer_timeout)
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text)
    print(text)
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
