#!/usr/bin/env python3
"""Peak server RSS while clients push bodies far over the limit: N concurrent uploads of SIZE bytes (each
client keeps sending until the server answers), against one or more binaries. Prints VmHWM before/after.

    bench/upload_rss.py BINARY [BINARY...] [--uploads 4] [--mib 250]
"""
import argparse
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATH = "/datastore/12345678901234567890123456789012/imageSet/ea92b0d8838c72a3f25d00d13616f87e/listImageSetVersions"


def hwm(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024


def upload(port, size, out):
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    s.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
    chunk = b"x" * (1 << 20)
    sent = 0
    s.settimeout(2)
    started = time.monotonic()
    while sent < size:
        try:
            sent += s.send(chunk[: size - sent])
        except (socket.timeout, OSError):
            break
    s.settimeout(120)
    data = b""
    try:
        while b"\r\n" not in data:
            c = s.recv(4096)
            if not c:
                break
            data += c
    except OSError:
        pass
    out.append((sent, data.split(b"\r\n")[0].decode(errors="replace"), time.monotonic() - started))
    s.close()


def measure(binary, uploads, size):
    proc = subprocess.Popen([binary, "--port", "0", "--fixtures", str(ROOT / "fixtures/seed.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    port = int(re.search(r":(\d+)$", proc.stdout.readline().decode().strip()).group(1))
    time.sleep(0.3)
    before = hwm(proc.pid)
    out = []
    threads = [threading.Thread(target=upload, args=(port, size, out)) for _ in range(uploads)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    after = hwm(proc.pid)
    proc.terminate()
    proc.wait()
    return before, after, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--uploads", type=int, default=4)
    ap.add_argument("--mib", type=int, default=250)
    a = ap.parse_args()
    for b in a.binaries:
        before, after, out = measure(b, a.uploads, a.mib << 20)
        print(f"{b}: peak RSS {before} MiB before, {after} MiB after {a.uploads} x {a.mib} MiB uploads")
        for sent, line, secs in out:
            print(f"    sent {sent >> 20} MiB, answer {line!r} after {secs:.1f}s")


if __name__ == "__main__":
    main()
