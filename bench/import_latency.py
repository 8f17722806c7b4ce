#!/usr/bin/env python3
"""Import throughput with 1 worker and with N (the core count), the encode limit, and the loop's latency while
imports run, all in one run (issue 15 item 2, docs/performance.md "Imports on every core").

    .venv/bin/python bench/import_latency.py            # needs pydicom + numpy (Tests/conformance/requirements.txt)

Writes 200 single-frame 512x512 16-bit CT files (one series) into a temporary --s3-dir bucket, and their raw
frames next to them. Then, for each worker count (BENCH_COUNTS, default "1,N" with N = BENCH_WORKERS or the core
count; 0 is the in-process thread), starts the
release binary on fixtures/seed.json with --import-workers W and:
  1. baseline: ListImageSetVersions of the seed image set on one keep-alive connection for BENCH_SECONDS;
  2. import: StartDICOMImportJob on the 200 files, and the same request loop until the job has ended.
  3. the same import again on a fresh server with no other client (the job's status read every 20 ms).
Prints frames/s and MB/s (input file bytes) of each import, p50 / p99 / max of both request loops and the p99
ratio, and the encode limit: ojph_compress (OpenJPH's own tool, same parameters as bench/frames) on the same
200 raw frames one after another, i.e. frames/s of one core doing nothing but HTJ2K encoding.
Targets: >= 200 frames/s with N workers on 2 cores; p99 during import <= 2 x the baseline p99.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("EMULATOR_BIN", ROOT / ".build" / "release" / "healthimaging-local"))
DATASTORE = "12345678901234567890123456789012"
IMAGE_SET = "ea92b0d8838c72a3f25d00d13616f87e"
LIST_VERSIONS = f"/datastore/{DATASTORE}/imageSet/{IMAGE_SET}/listImageSetVersions"
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
FRAMES = int(os.environ.get("BENCH_FRAMES", "200"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 1)))
# The worker counts to run, in order (0: the in-process thread, no worker processes, i.e. the pre-pool import).
COUNTS = [int(c) for c in os.environ.get("BENCH_COUNTS", f"1,{WORKERS}").split(",") if c.strip()]
# More server arguments, e.g. "--import-worker-scheduling batch".
EXTRA_ARGS = os.environ.get("BENCH_ARGS", "").split()
OJPH_ARGS = ["-dims", "{512,512}", "-num_comps", "1", "-signed", "false", "-bit_depth", "12", "-downsamp", "{1,1}",
             "-num_decomps", "3", "-reversible", "true", "-prog_order", "RPCL", "-block_size", "{64,64}"]


def make_series(folder: Path, count: int, raw: Path | None = None, series_count: int = 1) -> None:
    """`count` single-frame 512×512 12-in-16-bit CT slices of one study, spread over `series_count` series (slice i
    in series i mod series_count); with `raw`, each slice's samples also go there as a `.yuv` file (for ojph_compress)."""
    import numpy as np
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    study = generate_uid()
    series = [generate_uid() for _ in range(series_count)]
    rng = np.random.default_rng(7)
    for index in range(count):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"slice{index:03d}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientID, ds.PatientName, ds.StudyDate, ds.StudyTime = "BENCH-1", "Bench^Patient", "20240101", "120000"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = study, series[index % series_count], "CT"
        ds.AccessionNumber, ds.StudyID = "ACC1", "1"
        ds.SeriesNumber, ds.InstanceNumber = index % series_count + 1, index + 1
        ds.Rows = ds.Columns = 512
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ramp = (np.add.outer(np.arange(512), np.arange(512)) * 4 + index) % 4096
        noise = rng.integers(0, 64, (512, 512))
        ds.PixelData = ((ramp + noise) % 4096).astype("<u2").tobytes()
        if raw is not None:
            (raw / f"slice{index:03d}.yuv").write_bytes(ds.PixelData)
        ds.save_as(folder / f"slice{index:03d}.dcm", enforce_file_format=True)


def request(conn, method, path, body=None):
    began = time.perf_counter()
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    return (time.perf_counter() - began) * 1000, response.status, data


def start_import(job_conn, token: str, input_uri: str, output_uri: str) -> tuple[float, str]:
    """StartDICOMImportJob on `job_conn`: (perf_counter just before the call, job id)."""
    body = json.dumps({"dataAccessRoleArn": "arn:aws:iam::123456789012:role/Bench", "clientToken": token,
                       "inputS3Uri": input_uri, "outputS3Uri": output_uri}).encode()
    began = time.perf_counter()
    _, status, data = request(job_conn, "POST", f"/startDICOMImportJob/datastore/{DATASTORE}", body)
    assert status == 200, data
    return began, json.loads(data)["jobId"]


def import_while_listing(conn, job_conn, token: str, input_uri: str, output_uri: str):
    """Starts an import job on `job_conn` and times ListImageSetVersions on `conn` until the job ends (its status read
    every 20 listings). Returns (seconds from start to end, listing latencies in ms, job id, final job status)."""
    began, job_id = start_import(job_conn, token, input_uri, output_uri)
    during, job_status, polls = [], "SUBMITTED", 0
    while job_status in ("SUBMITTED", "IN_PROGRESS"):
        millis, status, _ = request(conn, "POST", LIST_VERSIONS)
        assert status == 200
        during.append(millis)
        polls += 1
        if polls % 20 == 0:
            _, _, data = request(job_conn, "GET", f"/getDICOMImportJob/datastore/{DATASTORE}/job/{job_id}")
            job_status = json.loads(data)["jobProperties"]["jobStatus"]
    return time.perf_counter() - began, during, job_id, job_status


def import_alone(job_conn, token: str, input_uri: str, output_uri: str) -> float:
    """Starts an import job with no other client, reads its status every 20 ms until it ends; returns the
    seconds from start to end."""
    began, job_id = start_import(job_conn, token, input_uri, output_uri)
    while True:
        _, _, data = request(job_conn, "GET", f"/getDICOMImportJob/datastore/{DATASTORE}/job/{job_id}")
        if json.loads(data)["jobProperties"]["jobStatus"] not in ("SUBMITTED", "IN_PROGRESS"):
            return time.perf_counter() - began
        time.sleep(0.02)


def percentile(values, p):
    """The p-th percentile (nearest rank) of `values`; NaN when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


@contextlib.contextmanager
def start_server(root: Path, extra: list[str], warm_up: int):
    """The release binary on fixtures/seed.json with --s3-dir `root` and `extra`; yields (process, listing
    connection, job connection) once `warm_up` ListImageSetVersions have been answered on the listing connection,
    and stops the server (SIGTERM) on the way out."""
    server = subprocess.Popen([str(BIN), "--port", "0", "--fixtures", str(ROOT / "fixtures" / "seed.json"),
                               "--s3-dir", str(root), "--log-level", "warning", *EXTRA_ARGS, *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        url = server.stdout.readline().decode().strip()
        host, port = url[len("http://"):].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        job_conn = http.client.HTTPConnection(host, int(port), timeout=30)
        for _ in range(warm_up):
            request(conn, "POST", LIST_VERSIONS)
        yield server, conn, job_conn
    finally:
        server.terminate()
        server.wait(timeout=10)


def encode_limit(raw: Path) -> tuple[float, float]:
    """ojph_compress over every raw frame, one after another: frames/s of one core encoding only, from the
    encode time the tool reports itself (no process start-up), and from the wall clock (with it)."""
    frames = sorted(raw.glob("*.yuv"))
    out = raw / "out.j2c"
    subprocess.run(["ojph_compress", "-i", str(frames[0]), "-o", str(out), *OJPH_ARGS], check=True, capture_output=True)
    reported = 0.0
    began = time.perf_counter()
    for frame in frames:
        done = subprocess.run(["ojph_compress", "-i", str(frame), "-o", str(out), *OJPH_ARGS], check=True,
                              capture_output=True, text=True)
        numbers = [float(x) for x in re.findall(r"[Ee]lapsed[^0-9]*([0-9.]+)", done.stdout + done.stderr)]
        reported += numbers[-1] if numbers else 0.0
    wall = time.perf_counter() - began
    return (len(frames) / reported if reported > 0 else float("nan")), len(frames) / wall


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(root: Path, workers: int, input_bytes: int) -> dict:
    cpu_before = children_cpu()
    with start_server(root, ["--import-workers", str(workers)], warm_up=200) as (server, conn, job_conn):
        baseline = []
        end = time.perf_counter() + SECONDS
        while time.perf_counter() < end:
            millis, status, _ = request(conn, "POST", LIST_VERSIONS)
            assert status == 200
            baseline.append(millis)
        duration, during, job_id, job_status = import_while_listing(
            conn, job_conn, f"bench-{workers}", "s3://bench/series/", f"s3://bench/output/{workers}/")
        folder = root / "bench" / "output" / str(workers) / f"{DATASTORE}-DicomImport-{job_id}"
        summary = json.loads((folder / "job-output-manifest.json").read_text())["jobSummary"]
        fields = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        server_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    # Processor time of the server and its (reaped) workers over the whole run, baseline loop included: on a
    # machine shared with other work, frames per CPU-second says more than frames per second.
    cpu = children_cpu() - cpu_before
    workers_cpu = max(0.0, cpu - server_cpu)
    print(f"--import-workers {workers}: job {job_status} in {duration:.2f} s, {summary['numberOfImportedFiles']} files imported, "
          f"{summary['numberOfFilesWithCustomerError'] + summary['numberOfFilesWithServerError']} rejected: "
          f"{FRAMES / duration:.1f} frames/s, {input_bytes / 1e6 / duration:.1f} MB/s; "
          f"CPU: server {server_cpu:.1f} s (its request loops included), workers {workers_cpu:.1f} s"
          + (f" = {FRAMES / workers_cpu:.1f} frames per worker CPU-second" if workers_cpu > 0 else "")
          + f"; load average {os.getloadavg()[0]:.1f}")
    for name, values in (("no import", baseline), ("during import", during)):
        print(f"  {name:>14}: {len(values):6d} requests  p50 {percentile(values, 50):.3f} ms  "
              f"p99 {percentile(values, 99):.3f} ms  max {max(values):.3f} ms")
    with start_server(root, ["--import-workers", str(workers)], warm_up=0) as (_, _, job_conn):
        alone = import_alone(job_conn, f"bench-alone-{workers}", "s3://bench/series/", f"s3://bench/output/alone-{workers}/")
    print(f"  the same import with no other client (status read every 20 ms): {alone:.2f} s, {FRAMES / alone:.1f} frames/s")
    ratio = percentile(during, 99) / percentile(baseline, 99)
    print(f"  p99 ratio during/no import: {ratio:.2f} (target <= 2): {'OK' if ratio <= 2 else 'MISSED'}")
    return {"status": job_status, "fps": FRAMES / duration, "alone": FRAMES / alone, "ratio": ratio}


def main() -> int:
    if not BIN.exists():
        print(f"build the release binary first ({BIN})", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hil-import-bench-") as tmp:
        root = Path(tmp) / "s3"
        folder = root / "bench" / "series"
        raw = Path(tmp) / "raw"
        folder.mkdir(parents=True)
        raw.mkdir()
        made = time.perf_counter()
        make_series(folder, FRAMES, raw)
        input_bytes = sum(p.stat().st_size for p in folder.iterdir())
        print(f"wrote {FRAMES} files ({input_bytes / 1e6:.1f} MB) in {time.perf_counter() - made:.1f} s; "
              f"{os.cpu_count()} cores")
        limit, with_startup = encode_limit(raw)
        print(f"encode limit: ojph_compress on the same {FRAMES} raw frames: {limit:.1f} frames/s per core by its own "
              f"elapsed time ({with_startup:.1f} with process start-up); x{WORKERS} cores = {limit * WORKERS:.1f} frames/s")
        results = [run(root, count, input_bytes) for count in dict.fromkeys(COUNTS)]
    first, best = results[0], results[-1]
    print(f"speed-up {COUNTS[-1]} workers / {COUNTS[0]}: {best['fps'] / first['fps']:.2f}; "
          f"{best['fps']:.1f} frames/s with {COUNTS[-1]} workers while a client keeps the loop busy, "
          f"{best['alone']:.1f} with no other client (target >= 200 on 2 cores): {'OK' if best['alone'] >= 200 else 'MISSED'}")
    return 0 if all(r["status"] == "COMPLETED" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
