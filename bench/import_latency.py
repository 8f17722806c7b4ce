#!/usr/bin/env python3
"""ListImageSetVersions latency while a 200-frame DICOM import runs, next to the same figure with no import,
in one run (issue 7 item 8: the loop keeps answering because parsing, decoding and encoding run off it).

    .venv/bin/python bench/import_latency.py            # needs pydicom + numpy (Tests/conformance/requirements.txt)

Writes 200 single-frame 512x512 16-bit CT files (one series) into a temporary --s3-dir bucket, starts the
release binary on fixtures/seed.json, then:
  1. baseline: ListImageSetVersions of the seed image set on one keep-alive connection for BENCH_SECONDS;
  2. import: StartDICOMImportJob on the 200 files, and the same request loop until the job has ended.
Prints p50 / p99 / max of both, the p99 ratio and the job's duration. Target: p99 during import <= 3 x the
baseline p99 and < 10 ms.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("EMULATOR_BIN", ROOT / ".build" / "release" / "healthimaging-local"))
DATASTORE = "12345678901234567890123456789012"
IMAGE_SET = "ea92b0d8838c72a3f25d00d13616f87e"
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
FRAMES = int(os.environ.get("BENCH_FRAMES", "200"))


def make_series(folder: Path, count: int) -> None:
    import numpy as np
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    study, series = generate_uid(), generate_uid()
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
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = study, series, "CT"
        ds.AccessionNumber, ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "ACC1", "1", 1, index + 1
        ds.Rows = ds.Columns = 512
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ramp = (np.add.outer(np.arange(512), np.arange(512)) * 4 + index) % 4096
        noise = rng.integers(0, 64, (512, 512))
        ds.PixelData = ((ramp + noise) % 4096).astype("<u2").tobytes()
        ds.save_as(folder / f"slice{index:03d}.dcm", enforce_file_format=True)


def request(conn, method, path, body=None):
    began = time.perf_counter()
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    return (time.perf_counter() - began) * 1000, response.status, data


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    if not BIN.exists():
        print(f"build the release binary first ({BIN})", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hil-import-bench-") as tmp:
        root = Path(tmp) / "s3"
        folder = root / "bench" / "series"
        folder.mkdir(parents=True)
        made = time.perf_counter()
        make_series(folder, FRAMES)
        print(f"wrote {FRAMES} files ({sum(p.stat().st_size for p in folder.iterdir()) / 1e6:.1f} MB) in {time.perf_counter() - made:.1f} s")
        server = subprocess.Popen([str(BIN), "--port", "0", "--fixtures", str(ROOT / "fixtures" / "seed.json"),
                                   "--s3-dir", str(root), "--log-level", "warning"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            url = server.stdout.readline().decode().strip()
            host, port = url[len("http://"):].split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            path = f"/datastore/{DATASTORE}/imageSet/{IMAGE_SET}/listImageSetVersions"
            for _ in range(200):
                request(conn, "POST", path)
            baseline = []
            end = time.perf_counter() + SECONDS
            while time.perf_counter() < end:
                millis, status, _ = request(conn, "POST", path)
                assert status == 200
                baseline.append(millis)
            job_conn = http.client.HTTPConnection(host, int(port), timeout=30)
            body = json.dumps({"dataAccessRoleArn": "arn:aws:iam::123456789012:role/Bench", "clientToken": "bench",
                               "inputS3Uri": "s3://bench/series/", "outputS3Uri": "s3://bench/output/"}).encode()
            began = time.perf_counter()
            _, status, data = request(job_conn, "POST", f"/startDICOMImportJob/datastore/{DATASTORE}", body)
            assert status == 200, data
            job_id = json.loads(data)["jobId"]
            during, job_status, polls = [], "SUBMITTED", 0
            while job_status in ("SUBMITTED", "IN_PROGRESS"):
                millis, status, _ = request(conn, "POST", path)
                assert status == 200
                during.append(millis)
                polls += 1
                if polls % 50 == 0:
                    _, _, data = request(job_conn, "GET", f"/getDICOMImportJob/datastore/{DATASTORE}/job/{job_id}")
                    job_status = json.loads(data)["jobProperties"]["jobStatus"]
            duration = time.perf_counter() - began
            manifest = json.loads((root / "bench" / "output" / f"{DATASTORE}-DicomImport-{job_id}" / "job-output-manifest.json").read_text())
            summary = manifest["jobSummary"]
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"import job: {job_status} in {duration:.2f} s, {summary['numberOfImportedFiles']} files imported, "
          f"{summary['numberOfFilesWithCustomerError'] + summary['numberOfFilesWithServerError']} rejected, "
          f"{FRAMES / duration:.1f} frames/s")
    for name, values in (("no import", baseline), ("during import", during)):
        print(f"{name:>14}: {len(values):6d} requests  p50 {percentile(values, 50):.3f} ms  "
              f"p99 {percentile(values, 99):.3f} ms  max {max(values):.3f} ms")
    ratio = percentile(during, 99) / percentile(baseline, 99)
    ok = ratio <= 3 and percentile(during, 99) < 10
    print(f"p99 ratio during/no import: {ratio:.2f} (target <= 3 and p99 < 10 ms): {'OK' if ok else 'MISSED'}")
    return 0 if job_status == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
