#!/usr/bin/env python3
"""The whole pydicom test corpus through one import job (CI runs a representative slice; this runs every file).

    .venv/bin/python bench/import_corpus.py

Copies every bundled *.dcm of pydicom into a temporary --s3-dir bucket, imports it, and prints: files scanned,
imported, rejected (with each failure.ndjson reason), time taken, and for every imported file whether its frame
checksums equal the CRC-32 of pydicom's decoded pixel array (files pydicom itself cannot decode are listed apart).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "conformance"))

from import_helpers import corpus_files, frame_checksums, instances  # noqa: E402

BIN = ROOT / ".build" / "release" / "healthimaging-local"
DATASTORE = "12345678901234567890123456789012"


def main() -> int:
    import gzip
    import urllib.request

    import pydicom

    files = corpus_files()
    with tempfile.TemporaryDirectory(prefix="hil-corpus-") as tmp:
        root = Path(tmp) / "s3"
        folder = root / "corpus" / "dicom"
        folder.mkdir(parents=True)
        for index, path in enumerate(files):
            shutil.copy(path, folder / f"{index:03d}-{path.name}")
        server = subprocess.Popen([str(BIN), "--port", "0", "--fixtures", str(ROOT / "fixtures" / "seed.json"),
                                   "--s3-dir", str(root), "--log-level", "warning"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            url = server.stdout.readline().decode().strip()

            def call(method, path, body=None):
                data = None if body is None else json.dumps(body).encode()
                req = urllib.request.Request(url + path, data=data, method=method,
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=60) as response:
                    return response.read()

            began = time.perf_counter()
            job = json.loads(call("POST", f"/startDICOMImportJob/datastore/{DATASTORE}", {
                "dataAccessRoleArn": "arn:aws:iam::123456789012:role/Bench", "clientToken": "corpus",
                "inputS3Uri": "s3://corpus/dicom/", "outputS3Uri": "s3://corpus/output/"}))
            while True:
                props = json.loads(call("GET", f"/getDICOMImportJob/datastore/{DATASTORE}/job/{job['jobId']}"))["jobProperties"]
                if props["jobStatus"] in ("COMPLETED", "FAILED"):
                    break
                time.sleep(0.2)
            took = time.perf_counter() - began
            out = root / "corpus" / "output" / f"{DATASTORE}-DicomImport-{job['jobId']}"
            summary = json.loads((out / "job-output-manifest.json").read_text())["jobSummary"]
            success = [json.loads(l) for l in (out / "SUCCESS" / "success.ndjson").read_text().splitlines() if l]
            failure = [json.loads(l) for l in (out / "FAILURE" / "failure.ndjson").read_text().splitlines() if l]
            print(f"job {props['jobStatus']} in {took:.1f} s: {summary['numberOfScannedFiles']} scanned, "
                  f"{summary['numberOfImportedFiles']} imported, {summary['numberOfFilesWithCustomerError']} customer errors, "
                  f"{summary['numberOfFilesWithServerError']} server errors, {summary['numberOfGeneratedImageSets']} image sets")
            for line in failure:
                print(f"  rejected {line['inputFile']}: {line['exception']['exceptionType']}: {line['exception']['message']}")
            match = mismatch = undecodable = 0
            documents = {}
            for line in success:
                name = line["inputFile"].rsplit("/", 1)[-1]
                path = folder / name
                image_set_id = line["importResponse"]["imageSetId"]
                if image_set_id not in documents:
                    body = call("POST", f"/datastore/{DATASTORE}/imageSet/{image_set_id}/getImageSetMetadata")
                    documents[image_set_id] = json.loads(gzip.decompress(body))
                sop = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
                frames = instances(documents[image_set_id]).get(sop, ("", {}))[1].get("ImageFrames", [])
                try:
                    expected = frame_checksums(path)
                except Exception as error:  # pydicom lacks a decoder for it
                    undecodable += 1
                    print(f"  pydicom cannot decode {name}: {error}")
                    continue
                got = [max(f["PixelDataChecksumFromBaseToFullResolution"], key=lambda c: c["Width"])["Checksum"] for f in frames]
                if (expected or []) == got:
                    match += 1
                else:
                    mismatch += 1
                    print(f"  checksum mismatch {name}: {got[:3]} vs pydicom {(expected or [])[:3]}")
            print(f"checksums: {match} files match pydicom, {mismatch} differ, {undecodable} not decodable by pydicom")
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
