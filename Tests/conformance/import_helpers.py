"""Helpers for the DICOM import conformance tests: moto's S3 server, the pydicom corpus, polling jobs,
reading the output folder, and what pydicom says a file holds."""

from __future__ import annotations

import gzip
import json
import socket
import time
import zlib
from pathlib import Path

import boto3
from botocore.config import Config

from conftest import SEED_DATASTORE, raw_request
from lifecycle_helpers import control  # noqa: F401  (re-exported for the import tests)

ROLE_ARN = "arn:aws:iam::123456789012:role/ImportJobDataAccessRole"
FINAL = ("COMPLETED", "FAILED")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def s3_client(endpoint: str):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def post_dicom(url: str, datastore_id: str, data: bytes, name: str = "upload.dcm", timeout: float = 30):
    """One Part 10 file through the synchronous import shortcut ``POST /_healthimaging/datastores/{id}/dicom``."""
    return raw_request(url, "POST", f"/_healthimaging/datastores/{datastore_id}/dicom?inputFile={name}",
                       headers={"Content-Type": "application/dicom"}, body=data, timeout=timeout)


def healthy(server, timeout: float = 30) -> bool:
    """Whether the server answers GET /_healthimaging/health with 200 (within ``timeout`` seconds)."""
    return raw_request(server.url, "GET", "/_healthimaging/health", timeout=timeout).status == 200


def start_job(client, input_uri: str, output_uri: str, datastore_id: str = SEED_DATASTORE, **kw) -> str:
    """StartDICOMImportJob with the test role; extra keywords (clientToken, jobName) go to the call. Its job id."""
    return client.start_dicom_import_job(
        datastoreId=datastore_id, dataAccessRoleArn=ROLE_ARN, inputS3Uri=input_uri, outputS3Uri=output_uri, **kw
    )["jobId"]


def wait_for_job(client, datastore_id: str, job_id: str, timeout: float = 90, seen: list | None = None) -> dict:
    """Polls GetDICOMImportJob as an ingestion pipeline does; returns the final jobProperties."""
    deadline = time.monotonic() + timeout
    while True:
        props = client.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"]
        if seen is not None:
            seen.append(props["jobStatus"])
        if props["jobStatus"] in FINAL:
            return props
        assert time.monotonic() < deadline, f"job {job_id} still {props['jobStatus']} after {timeout}s"
        time.sleep(0.1)


def split_s3(uri: str) -> tuple[str, str]:
    assert uri.startswith("s3://"), uri
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def read_output(s3, output_uri: str) -> tuple[dict, list[dict], list[dict]]:
    """The job folder's manifest, success lines and failure lines (read with boto3's S3 client)."""
    bucket, key = split_s3(output_uri)

    def get(name: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=key + name)["Body"].read()

    manifest = json.loads(get("job-output-manifest.json"))
    success = [json.loads(line) for line in get("SUCCESS/success.ndjson").splitlines() if line.strip()]
    failure = [json.loads(line) for line in get("FAILURE/failure.ndjson").splitlines() if line.strip()]
    return manifest, success, failure


def read_output_dir(root: Path, output_uri: str) -> tuple[dict, list[dict], list[dict]]:
    """The same, from an --s3-dir folder."""
    bucket, key = split_s3(output_uri)
    folder = root / bucket / key

    def lines(path: Path) -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    return (json.loads((folder / "job-output-manifest.json").read_text()), lines(folder / "SUCCESS" / "success.ndjson"),
            lines(folder / "FAILURE" / "failure.ndjson"))


def metadata(client, datastore_id: str, image_set_id: str, version: str | None = None) -> dict:
    kw = {"versionId": version} if version else {}
    blob = client.get_image_set_metadata(datastoreId=datastore_id, imageSetId=image_set_id, **kw)["imageSetMetadataBlob"].read()
    return json.loads(gzip.decompress(blob))


def instances(document: dict) -> dict[str, tuple[str, dict]]:
    """SOPInstanceUID → (SeriesInstanceUID, instance object) of a metadata document."""
    found = {}
    for series_uid, series in document.get("Study", {}).get("Series", {}).items():
        for sop, instance in series.get("Instances", {}).items():
            found[sop] = (series_uid, instance)
    return found



# ---------------------------------------------------------------------------
# The pydicom corpus.
# ---------------------------------------------------------------------------

# A representative slice for CI: explicit little/big endian, implicit VR, deflated, 8/16/32-bit, colour,
# multi-frame, RLE, JPEG-LS lossless, JPEG 2000 lossless and lossy, a non-image object (lossy JPEG is left to
# bench/import_corpus.py, which runs every file: decoders may round differently).
CI_SLICE = [
    "CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm",
    "SC_rgb_small_odd.dcm", "image_dfl.dcm", "emri_small.dcm",
    "rtplan.dcm",
]


def corpus_dir() -> Path:
    import pydicom.data

    return Path(pydicom.data.__file__).parent / "test_files"


def corpus_files(names: list[str] | None = None) -> list[Path]:
    root = corpus_dir()
    if names is None:
        return sorted(p for p in root.rglob("*.dcm") if p.is_file())
    return [root / n for n in names if (root / n).exists()]


def frame_checksums(path: Path) -> list[int] | None:
    """CRC-32 of each frame as pydicom decodes it (little-endian samples of the smallest size holding
    BitsAllocated, colour interleaved); None when the file has no pixel data."""
    import numpy as np
    import pydicom

    ds = pydicom.dcmread(path)
    if "PixelData" not in ds:
        return None
    array = ds.pixel_array
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames == 1:
        array = array[np.newaxis, ...]
    bits = int(ds.BitsAllocated)
    size = 1 if bits <= 8 else 2 if bits <= 16 else 4
    signed = int(getattr(ds, "PixelRepresentation", 0)) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{size}")
    return [zlib.crc32(np.ascontiguousarray(frame).astype(dtype, copy=False).tobytes()) for frame in array]


def expected_attributes(path: Path) -> dict[str, str]:
    """Single-valued top-level string attributes pydicom reads, keyword → text (for comparison)."""
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    out = {}
    for element in ds:
        if element.VR in ("UI", "CS", "LO", "SH", "DA", "PN") and element.keyword and element.VM == 1:
            text = str(element.value).strip()
            if text:
                out[element.keyword] = text
    return out


def document_value(document: dict, sop: str, keyword: str):
    """The value of `keyword` for one instance, from whichever level of the document holds it."""
    series_uid, instance = instances(document)[sop]
    for level in (instance.get("DICOM", {}), document["Study"]["Series"][series_uid].get("DICOM", {}),
                  document["Study"].get("DICOM", {}), document.get("Patient", {}).get("DICOM", {})):
        if keyword in level:
            return level[keyword]
    return None


def write_single_instance_series(folder: Path, count: int, study_uid: str | None = None) -> list[str]:
    """``count`` tiny Part 10 CT files (8x8, 16-bit), each the only instance of its own series, all in one study
    (the layout whose commit was quadratic: issue 16 item 5). Returns the series UIDs in file order; file i is
    ``s{i:05d}.dcm``, so the job's listing order is the series order."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    study = study_uid or generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("template", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.PatientID, ds.PatientName, ds.StudyDate, ds.StudyTime = "COMMIT-1", "Commit^Bench", "20240101", "120000"
    ds.StudyInstanceUID, ds.Modality, ds.AccessionNumber, ds.StudyID = study, "CT", "ACC-COMMIT", "1"
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.InstanceNumber = 1, "MONOCHROME2", 1
    series_uids = []
    for index in range(count):
        series = generate_uid()
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SeriesInstanceUID, ds.SeriesNumber = series, index + 1
        ds.PixelData = bytes((index + k) % 251 for k in range(128))
        ds.save_as(folder / f"s{index:05d}.dcm", enforce_file_format=True)
        series_uids.append(series)
    return series_uids
