"""Import cases the frame codecs cannot transcode are stored, not refused: pydicom's rtdose.dcm (32-bit samples)
imports with warning 0xB100 and its 15 frames come back byte-identical to the source's pixel data; a binary
segmentation (liver_1frame.dcm) keeps Explicit VR Little Endian; the job output carries the warnings."""

from __future__ import annotations

import json

import pytest

from conftest import SEED_DATASTORE, boto_client
from import_helpers import (
    corpus_files, frame_checksums, instances, metadata, post_dicom, read_output_dir, start_job, wait_for_job,
)

TRANSCODING_EXCEPTION = 0xB100
ELE = "1.2.840.10008.1.2.1"


def corpus(name):
    found = corpus_files([name])
    if not found:
        pytest.skip(f"pydicom's {name} is not installed")
    return found[0]


def import_file(url, data, name):
    r = post_dicom(url, SEED_DATASTORE, data, name)
    assert r.status == 201, r
    return r.json()


def frame(c, image_set, frame_id):
    r = c.get_image_frame(datastoreId=SEED_DATASTORE, imageSetId=image_set, imageFrameInformation={"imageFrameId": frame_id})
    return r["contentType"], r["imageFrameBlob"].read()


def test_rtdose_is_stored_untranscoded_with_its_warning(fresh_server):
    import pydicom

    path = corpus("rtdose.dcm")
    source = pydicom.dcmread(path)
    made = import_file(fresh_server.url, path.read_bytes(), "rtdose.dcm")
    assert made["warnings"] == [{"warning_reason_code": TRANSCODING_EXCEPTION, "type": "TRANSCODING_EXCEPTION",
                                 "message": made["warnings"][0]["message"]}]
    assert "1.2.840.10008.1.2" in made["warnings"][0]["message"]
    c = boto_client(fresh_server.url)
    document = metadata(c, SEED_DATASTORE, made["imageSetId"])
    _, instance = instances(document)[str(source.SOPInstanceUID)]
    assert instance["StoredTransferSyntaxUID"] == "1.2.840.10008.1.2"
    assert instance["DICOM"]["WarningReason"] == TRANSCODING_EXCEPTION
    assert instance["DICOM"]["BitsAllocated"] == 32
    entries = instance["ImageFrames"]
    assert len(entries) == 15 and [e["ID"] for e in entries] == made["frameIds"]
    size = source.Rows * source.Columns * 4
    checksums = frame_checksums(path)
    for index, entry in enumerate(entries):
        content_type, body = frame(c, made["imageSetId"], entry["ID"])
        assert content_type == "application/octet-stream"
        assert body == source.PixelData[index * size:(index + 1) * size]
        assert entry["FrameSizeInBytes"] == size
        assert entry["MinPixelValue"] is None and entry["MaxPixelValue"] is None
        assert entry["PixelDataChecksumFromBaseToFullResolution"] == [
            {"Width": source.Columns, "Height": source.Rows, "Checksum": checksums[index]}]


def test_big_endian_32_bit_keeps_its_byte_order(fresh_server):
    import pydicom

    path = corpus("rtdose_expb_1frame.dcm")
    source = pydicom.dcmread(path)
    made = import_file(fresh_server.url, path.read_bytes(), "expb.dcm")
    assert made["warnings"][0]["warning_reason_code"] == TRANSCODING_EXCEPTION
    c = boto_client(fresh_server.url)
    _, instance = instances(metadata(c, SEED_DATASTORE, made["imageSetId"]))[str(source.SOPInstanceUID)]
    assert instance["StoredTransferSyntaxUID"] == "1.2.840.10008.1.2.2"
    _, body = frame(c, made["imageSetId"], made["frameIds"][0])
    assert body == source.PixelData[:source.Rows * source.Columns * 4]


def test_binary_segmentation_keeps_explicit_vr_little_endian(fresh_server):
    import pydicom

    path = corpus("liver_1frame.dcm")
    source = pydicom.dcmread(path)
    made = import_file(fresh_server.url, path.read_bytes(), "liver.dcm")
    assert "warnings" not in made
    c = boto_client(fresh_server.url)
    _, instance = instances(metadata(c, SEED_DATASTORE, made["imageSetId"]))[str(source.SOPInstanceUID)]
    assert instance["StoredTransferSyntaxUID"] == ELE
    assert instance["DICOM"]["BitsAllocated"] == 1 and "WarningReason" not in instance["DICOM"]
    (entry,) = instance["ImageFrames"]
    content_type, body = frame(c, made["imageSetId"], entry["ID"])
    size = (source.Rows * source.Columns + 7) // 8
    assert content_type == "application/octet-stream"
    assert body == source.PixelData[:size] and entry["FrameSizeInBytes"] == size
    assert entry["MinPixelValue"] is None and entry["MaxPixelValue"] is None
    assert entry["PixelDataChecksumFromBaseToFullResolution"][-1]["Checksum"] == frame_checksums(path)[0]


def test_import_job_output_carries_the_warning(servers, tmp_path):
    root = tmp_path / "s3"
    (root / "inbox" / "in").mkdir(parents=True)
    for name in ("rtdose.dcm", "CT_small.dcm"):
        (root / "inbox" / "in" / name).write_bytes(corpus(name).read_bytes())
    server = servers.start(extra=["--s3-dir", str(root)])
    client = boto_client(server.url)
    job = start_job(client, "s3://inbox/in/", "s3://inbox/out/")
    props = wait_for_job(client, SEED_DATASTORE, job)
    assert props["jobStatus"] == "COMPLETED", props
    manifest, success, failure = read_output_dir(root, props["outputS3Uri"])
    summary = manifest["jobSummary"]
    assert summary["numberOfImportedFiles"] == 2 and summary["numberOfFilesWithCustomerError"] == 0 and failure == []
    assert summary["warningsOutputS3Uri"] == props["outputS3Uri"] + "WARNING/"
    lines = {line["inputFile"]: line for line in success}
    assert "warnings" not in lines["in/CT_small.dcm"]["importResponse"]
    (warning,) = lines["in/rtdose.dcm"]["importResponse"]["warnings"]
    assert (warning["warning_reason_code"], warning["type"]) == (TRANSCODING_EXCEPTION, "TRANSCODING_EXCEPTION")
    folder = root / "inbox" / props["outputS3Uri"][len("s3://inbox/"):]
    warned = [json.loads(line) for line in (folder / "WARNING" / "warning.ndjson").read_text().splitlines()]
    assert warned == [lines["in/rtdose.dcm"]]


@pytest.mark.parametrize("name", ["rtdose_rle.dcm", "SC_rgb_rle_32bit_2frame.dcm"])
def test_compressed_32_bit_keeps_its_encoded_frames(fresh_server, name):
    """RLE-compressed 32-bit samples: decoded, refused by the codecs, stored as the source's RLE frames."""
    import pydicom
    from pydicom.encaps import generate_frames

    path = corpus(name)
    source = pydicom.dcmread(path)
    made = import_file(fresh_server.url, path.read_bytes(), name)
    assert made["warnings"][0]["warning_reason_code"] == TRANSCODING_EXCEPTION
    c = boto_client(fresh_server.url)
    _, instance = instances(metadata(c, SEED_DATASTORE, made["imageSetId"]))[str(source.SOPInstanceUID)]
    assert instance["StoredTransferSyntaxUID"] == "1.2.840.10008.1.2.5"
    count = int(getattr(source, "NumberOfFrames", 1) or 1)
    expected = list(generate_frames(source.PixelData, number_of_frames=count))
    checksums = frame_checksums(path)
    assert len(made["frameIds"]) == count
    for index, (frame_id, entry) in enumerate(zip(made["frameIds"], instance["ImageFrames"])):
        _, body = frame(c, made["imageSetId"], frame_id)
        assert body == expected[index]
        assert entry["PixelDataChecksumFromBaseToFullResolution"][-1]["Checksum"] == checksums[index]
