"""pydicom's bundled test files imported for real: uploaded to moto's S3 with boto3 (and copied into an --s3-dir
folder), imported with boto3 and the aws CLI, then every imported instance's metadata compared with pydicom's
reading of its file and every frame checksum with the CRC-32 of pydicom's decoded pixel array. Also AWS's SDK
example workflow for HealthImaging (imaging_set_and_frames_workflow), its calls and checks reproduced end to end
(import → manifest → metadata → GetImageFrame → "checksum verified: True" for every frame), every imported frame
decoded with OpenJPEG and OpenJPH and compared pixel for pixel with pydicom and per resolution level, and the
grouping rules (primary image sets, new versions, non-primary on conflict)."""

from __future__ import annotations

import copy
import io
import json
import shutil
import time
import uuid

import jmespath
import pytest

from conftest import SEED_DATASTORE, boto_client, cli_json, run_cli
from import_helpers import (
    CI_SLICE, ROLE_ARN, corpus_files, document_value, expected_attributes, frame_checksums, instances,
    metadata, post_dicom, read_output, read_output_dir, s3_client, wait_for_job,
)

pytestmark = pytest.mark.timeout(600)




def corpus_slice():
    files = corpus_files(CI_SLICE)
    assert len(files) >= 8, "pydicom's bundled test files are missing (pip install -r requirements.txt)"
    return files


def check_import(client, datastore_id, manifest, success, failure, files):
    """Every file is accounted for, and every imported instance matches pydicom's reading of its file."""
    summary = manifest["jobSummary"]
    by_name = {p.name: p for p in files}
    assert summary["numberOfScannedFiles"] == len(files)
    assert summary["numberOfImportedFiles"] + summary["numberOfFilesWithCustomerError"] \
        + summary["numberOfFilesWithServerError"] == len(files)
    assert summary["numberOfFilesWithServerError"] == 0, failure
    assert summary["numberOfImportedFiles"] == len(success)
    assert summary["numberOfGeneratedImageSets"] == len(summary["imageSetsSummary"])
    imported = {line["inputFile"].rsplit("/", 1)[-1]: line["importResponse"] for line in success}
    # Every image file of the slice imports (rtplan.dcm, without pixels, too).
    assert set(imported) == set(by_name), f"not imported: {set(by_name) - set(imported)}; failures: {failure}"
    import pydicom

    documents = {}
    checked_frames = 0
    for name, response in imported.items():
        image_set_id = response["imageSetId"]
        if image_set_id not in documents:
            documents[image_set_id] = metadata(client, datastore_id, image_set_id)
        document = documents[image_set_id]
        assert document["SchemaVersion"] == "1.1" and document["ImageSetID"] == image_set_id
        ds = pydicom.dcmread(by_name[name], stop_before_pixels=True)
        sop = str(ds.SOPInstanceUID)
        assert sop in instances(document), f"{name}: {sop} not in image set {image_set_id}"
        for keyword, text in expected_attributes(by_name[name]).items():
            value = document_value(document, sop, keyword)
            assert value is not None, f"{name}: {keyword} missing from the metadata"
            if isinstance(value, list) and len(value) == 1:  # a multi-valued VR (VM 1-n) holding one value
                value = value[0]
            if isinstance(value, dict):  # a PN as component groups
                value = value.get("Alphabetic", value)
            assert str(value).strip() == text, f"{name}: {keyword} is {value!r}, pydicom reads {text!r}"
        _, instance = instances(document)[sop]
        for keyword in ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel"):
            if keyword in ds:
                assert instance["DICOM"][keyword] == int(ds[keyword].value), (name, keyword)
        expected = frame_checksums(by_name[name])
        frames = instance.get("ImageFrames", [])
        if expected is None:
            assert frames == [], name
            continue
        assert len(frames) == len(expected), (name, len(frames), len(expected))
        for frame, crc in zip(frames, expected):
            full = max(frame["PixelDataChecksumFromBaseToFullResolution"], key=lambda c: c["Width"])
            assert full["Width"] == int(ds.Columns) and full["Height"] == int(ds.Rows)
            assert full["Checksum"] == crc, f"{name}: frame {frame['ID']} checksum {full['Checksum']} != pydicom {crc}"
            checked_frames += 1
    assert checked_frames >= len(files) - 2


def import_slice_through_moto(servers, moto, name):
    """Uploads the CI slice to a fresh moto bucket, imports it with boto3 through `--s3-endpoint`, waits for
    COMPLETED; returns (s3, server, client, job properties, files)."""
    s3 = s3_client(moto)
    bucket = f"{name}-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    files = corpus_slice()
    for path in files:
        s3.upload_file(str(path), bucket, f"dicom/{path.name}")
    server = servers.start(extra=["--s3-endpoint", moto])
    client = boto_client(server.url)
    job_id = client.start_dicom_import_job(
        datastoreId=SEED_DATASTORE, jobName=name, dataAccessRoleArn=ROLE_ARN,
        inputS3Uri=f"s3://{bucket}/dicom/", outputS3Uri=f"s3://{bucket}/output/")["jobId"]
    props = wait_for_job(client, SEED_DATASTORE, job_id, timeout=240)
    assert props["jobStatus"] == "COMPLETED", props
    return s3, server, client, props, files


def test_corpus_through_moto_with_boto3(servers, moto):
    s3, server, client, props, files = import_slice_through_moto(servers, moto, "corpus")
    check_import(client, SEED_DATASTORE, *read_output(s3, props["outputS3Uri"]), files=files)


def test_corpus_through_s3_dir_with_the_cli(servers, tmp_path):
    root = tmp_path / "s3"
    folder = root / "inbox" / "dicom"
    folder.mkdir(parents=True)
    files = corpus_slice()
    for path in files:
        shutil.copy(path, folder / path.name)
    server = servers.start(extra=["--s3-dir", str(root)])
    started = cli_json(server.url, "start-dicom-import-job", "--datastore-id", SEED_DATASTORE,
                       "--data-access-role-arn", ROLE_ARN, "--input-s3-uri", "s3://inbox/dicom/",
                       "--output-s3-uri", "s3://inbox/output/")
    client = boto_client(server.url)
    props = wait_for_job(client, SEED_DATASTORE, started["jobId"], timeout=240)
    assert props["jobStatus"] == "COMPLETED", props
    check_import(client, SEED_DATASTORE, *read_output_dir(root, props["outputS3Uri"]), files=files)


LOSSLESS_STORED = ("1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.90")  # HTJ2K / JPEG 2000 lossless


def frame_crc(array) -> int:
    """CRC-32 of a decoded frame's bytes, little-endian (as AWS's example checks a frame)."""
    import numpy as np
    import zlib

    return zlib.crc32(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())


def ojph_expand_raw(codestream, tmp_path, skip, dtype, level):
    """OpenJPH's ojph_expand to a .raw file: the samples of one component, little-endian, sign kept."""
    import subprocess

    import numpy as np

    source, target = tmp_path / "frame.j2c", tmp_path / "out.raw"
    source.write_bytes(codestream)
    subprocess.run(["ojph_expand", "-i", str(source), "-o", str(target), "-skip_res", f"{skip},{skip}"],
                   check=True, capture_output=True, timeout=60)
    data = target.read_bytes()
    array = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"))
    if array.size != level["Width"] * level["Height"]:
        return array  # the caller reports the shape mismatch
    return array.reshape(level["Height"], level["Width"])


def test_sdk_example_workflow_to_verified_frames(servers, moto, tmp_path):
    """The steps of AWS's imaging_set_and_frames_workflow, reproduced (not copied): start the job (jobName
    examplejob, input and output folders in the bucket), poll GetDICOMImportJob, read jobProperties.outputS3Uri +
    job-output-manifest.json from S3, take jobSummary.imageSetsSummary[].imageSetId, fetch each image set's gzipped
    metadata and collect its frames (ID, Min/MaxPixelValue, the full-resolution checksum), then fetch every frame
    with GetImageFrame, save it, decode the file with openjpeg.utils.decode(path, 2) and compare the CRC-32 of the
    decoded array with the checksum: "checksum verified: True" for every frame."""
    from openjpeg.utils import decode

    s3 = s3_client(moto)
    bucket = f"example-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    for path in corpus_files(["CT_small.dcm", "MR_small.dcm"]):
        s3.upload_file(str(path), bucket, f"input/{path.name}")
    server = servers.start(extra=["--s3-endpoint", moto])
    client = boto_client(server.url)
    job_id = client.start_dicom_import_job(
        jobName="examplejob", datastoreId=SEED_DATASTORE, dataAccessRoleArn=ROLE_ARN,
        inputS3Uri=f"s3://{bucket}/input/", outputS3Uri=f"s3://{bucket}/output/")["jobId"]
    assert wait_for_job(client, SEED_DATASTORE, job_id)["jobStatus"] == "COMPLETED"
    output_uri = client.get_dicom_import_job(datastoreId=SEED_DATASTORE, jobId=job_id)["jobProperties"]["outputS3Uri"]
    out_bucket = output_uri.split("/")[2]
    key = "/".join(output_uri.split("/")[3:])
    manifest = json.load(s3.get_object(Bucket=out_bucket, Key=key + "job-output-manifest.json")["Body"])
    image_sets = jmespath.search("jobSummary.imageSetsSummary[].imageSetId", manifest)
    assert len(image_sets) == 2
    frames = []
    for image_set_id in image_sets:
        document = metadata(client, SEED_DATASTORE, image_set_id)
        for instance in jmespath.search("Study.Series.*.Instances[].*[]", document):
            for frame in jmespath.search("ImageFrames[][]", instance):
                full = frame["PixelDataChecksumFromBaseToFullResolution"][-1]
                assert full == max(frame["PixelDataChecksumFromBaseToFullResolution"], key=lambda c: c["Width"])
                frames.append({"imageSetId": image_set_id, "imageFrameId": frame["ID"],
                               "minPixelValue": frame["MinPixelValue"], "maxPixelValue": frame["MaxPixelValue"],
                               "fullResolutionChecksum": full["Checksum"]})
    assert len(frames) == 2
    report = []
    for frame in frames:
        response = client.get_image_frame(datastoreId=SEED_DATASTORE, imageSetId=frame["imageSetId"],
                                          imageFrameInformation={"imageFrameId": frame["imageFrameId"]})
        assert response["contentType"] == "image/jph"
        path = tmp_path / f"{frame['imageFrameId']}.jph"
        path.write_bytes(response["imageFrameBlob"].read())
        forced = decode(str(path), 2)                  # the example's call: JP2-family format forced
        auto = decode(path.read_bytes())               # and auto-detected
        assert frame_crc(auto) == frame_crc(forced)
        assert int(forced.min()) == frame["minPixelValue"] and int(forced.max()) == frame["maxPixelValue"]
        report.append(f"checksum verified: {frame_crc(forced) == frame['fullResolutionChecksum']}")
    assert report == ["checksum verified: True"] * len(frames), report


def test_imported_corpus_frames_pixel_for_pixel(servers, moto, tmp_path):
    """Every frame of the imported corpus slice, fetched with boto3, decodes (OpenJPEG auto-detected and forced
    JP2-family) to its metadata's full-resolution CRC-32; frames stored losslessly (HTJ2K / JPEG 2000 lossless)
    equal pydicom's decoding of the source file pixel for pixel and, with OpenJPH's ojph_expand, match the
    checksum at every resolution level. One frame is also fetched with the aws CLI to an outfile."""
    import numpy as np
    import pydicom
    from openjpeg.utils import decode
    from test_frames import ojph_expand, ojph_missing, unwrap_jph

    s3, server, client, props, files = import_slice_through_moto(servers, moto, "frames")
    _, success, _ = read_output(s3, props["outputS3Uri"])
    by_name = {p.name: p for p in files}
    documents, failures = {}, []
    pixel_checked = level_checked = levels_frames = 0
    cli_frame = None
    for line in success:
        name = line["inputFile"].rsplit("/", 1)[-1]
        image_set_id = line["importResponse"]["imageSetId"]
        if image_set_id not in documents:
            documents[image_set_id] = metadata(client, SEED_DATASTORE, image_set_id)
        ds = pydicom.dcmread(by_name[name])
        if "PixelData" not in ds:
            continue
        _, instance = instances(documents[image_set_id])[str(ds.SOPInstanceUID)]
        stored = instance["StoredTransferSyntaxUID"]
        source = ds.pixel_array
        if int(getattr(ds, "NumberOfFrames", 1) or 1) == 1:
            source = source[np.newaxis, ...]
        size = 1 if int(ds.BitsAllocated) <= 8 else 2 if int(ds.BitsAllocated) <= 16 else 4
        assert len(instance["ImageFrames"]) == len(source), name
        for index, (entry, expected) in enumerate(zip(instance["ImageFrames"], source)):
            response = client.get_image_frame(datastoreId=SEED_DATASTORE, imageSetId=image_set_id,
                                              imageFrameInformation={"imageFrameId": entry["ID"]})
            body = response["imageFrameBlob"].read()
            assert entry["FrameSizeInBytes"] == len(body), name
            path = tmp_path / f"{entry['ID']}.frame"
            path.write_bytes(body)
            levels = entry["PixelDataChecksumFromBaseToFullResolution"]
            full = levels[-1]
            auto = decode(body)
            forced = decode(str(path), 2) if response["contentType"] == "image/jph" else auto
            for how, array in (("auto", auto), ("forced", forced)):
                if frame_crc(array) != full["Checksum"]:
                    failures.append(f"{name} ({ds.file_meta.TransferSyntaxUID} stored as {stored}) frame {index} "
                                    f"{how}: decoded CRC-32 {frame_crc(array)} != metadata {full['Checksum']}")
            if stored not in LOSSLESS_STORED:
                continue  # a lossy original kept in its own encoding: checksum only
            assert auto.dtype.itemsize == size, (name, auto.dtype)
            if auto.shape != expected.shape or not np.array_equal(auto.astype(np.int64), expected.astype(np.int64)):
                diff = "shape" if auto.shape != expected.shape else \
                    f"{int(np.count_nonzero(auto.astype(np.int64) != expected.astype(np.int64)))} pixels"
                failures.append(f"{name} ({ds.file_meta.TransferSyntaxUID} stored as {stored}) frame {index}: "
                                f"differs from pydicom ({diff}; {auto.shape} vs {expected.shape})")
            pixel_checked += 1
            if cli_frame is None and response["contentType"] == "image/jph":
                cli_frame = (image_set_id, entry, body)
            # Every resolution level, decoded with OpenJPH: PGM/PPM for unsigned samples, and ojph_expand's raw
            # output (little-endian samples, sign kept) for signed greyscale, which PGM cannot hold.
            signed = int(getattr(ds, "PixelRepresentation", 0)) == 1
            samples = int(ds.SamplesPerPixel)
            if ojph_missing or response["contentType"] != "image/jph" or (signed and samples != 1):
                continue
            codestream = unwrap_jph(body)
            for level_index, level in enumerate(levels):
                skip = len(levels) - 1 - level_index
                if signed:
                    array = ojph_expand_raw(codestream, tmp_path, skip, auto.dtype, level)
                else:
                    array = ojph_expand(codestream, tmp_path, skip, samples).astype(auto.dtype)
                if array.shape[:2] != (level["Height"], level["Width"]) or frame_crc(array) != level["Checksum"]:
                    failures.append(f"{name} frame {index} level {level_index}: ojph_expand {array.shape} "
                                    f"CRC-32 {frame_crc(array)} != metadata {level}")
                level_checked += 1
            levels_frames += 1
    assert failures == [], "\n".join(failures)
    assert pixel_checked >= 8, pixel_checked
    assert ojph_missing or (levels_frames == pixel_checked and level_checked > levels_frames), \
        (levels_frames, pixel_checked, level_checked)

    # The aws CLI writes an imported frame to its outfile: the same bytes, the same checksum.
    assert cli_frame is not None
    image_set_id, entry, body = cli_frame
    out = tmp_path / "cli.jph"
    rc, stdout, stderr = run_cli(server.url, "get-image-frame", "--datastore-id", SEED_DATASTORE,
                                 "--image-set-id", image_set_id, "--image-frame-information",
                                 f"imageFrameId={entry['ID']}", str(out))
    assert rc == 0, stderr
    assert json.loads(stdout)["contentType"] == "image/jph"
    assert out.read_bytes() == body
    assert frame_crc(decode(str(out), 2)) == entry["PixelDataChecksumFromBaseToFullResolution"][-1]["Checksum"]


def test_grouping_primary_versions_and_conflicts(servers):
    """One series = one primary image set; importing more of it (or the same instance again) makes a new version;
    an instance whose grouping elements conflict goes to a non-primary image set. Searchable by real attributes."""
    import pydicom

    server = servers.start()
    client = boto_client(server.url)
    path = corpus_files(["CT_small.dcm"])[0]
    ds = pydicom.dcmread(path)
    first = post_dicom(server.url, SEED_DATASTORE, path.read_bytes())
    assert first.status == 201, first
    made = first.json()
    assert made["isPrimary"] is True and made["imageSetVersion"] == 1
    assert made["imageSetState"] == "ACTIVE" and made["imageSetWorkflowStatus"] == "CREATED"
    image_set_id = made["imageSetId"]

    # Another instance of the same series joins the primary image set as version 2.
    second = copy.deepcopy(ds)
    second.SOPInstanceUID = ds.SOPInstanceUID + ".2"
    buffer = io.BytesIO()
    second.save_as(buffer)
    joined = post_dicom(server.url, SEED_DATASTORE, buffer.getvalue())
    assert joined.status == 200, joined
    assert joined.json()["imageSetId"] == image_set_id and joined.json()["imageSetVersion"] == 2
    # Re-importing the first instance makes version 3 (it overwrites the older copy).
    again = post_dicom(server.url, SEED_DATASTORE, path.read_bytes())
    assert again.json()["imageSetId"] == image_set_id and again.json()["imageSetVersion"] == 3
    versions = client.list_image_set_versions(datastoreId=SEED_DATASTORE, imageSetId=image_set_id)["imageSetPropertiesList"]
    assert [v["versionId"] for v in versions] == ["3", "2", "1"]
    assert [v.get("ImageSetWorkflowStatus") for v in versions] == ["IMPORTED", "IMPORTED", "CREATED"]
    assert len(instances(metadata(client, SEED_DATASTORE, image_set_id))) == 2

    # Same series, another PatientID: a conflict → a non-primary image set.
    third = copy.deepcopy(ds)
    third.SOPInstanceUID = ds.SOPInstanceUID + ".3"
    third.PatientID = "SOMEONE-ELSE"
    buffer = io.BytesIO()
    third.save_as(buffer)
    conflict = post_dicom(server.url, SEED_DATASTORE, buffer.getvalue())
    assert conflict.status == 201 and conflict.json()["isPrimary"] is False
    assert conflict.json()["imageSetId"] != image_set_id

    # SearchImageSets finds the imported image sets by their real attributes.
    def search(value):
        return {s["imageSetId"] for s in client.search_image_sets(
            datastoreId=SEED_DATASTORE, searchCriteria={"filters": [{"operator": "EQUAL", "values": [value]}]}
        )["imageSetsMetadataSummaries"]}

    assert image_set_id in search({"DICOMPatientId": str(ds.PatientID)})
    assert image_set_id in search({"DICOMStudyInstanceUID": str(ds.StudyInstanceUID)})
    assert image_set_id in search({"DICOMSeriesInstanceUID": str(ds.SeriesInstanceUID)})
    assert conflict.json()["imageSetId"] in search({"DICOMPatientId": "SOMEONE-ELSE"})
    if ds.get("AccessionNumber"):
        assert image_set_id in search({"DICOMAccessionNumber": str(ds.AccessionNumber)})
    if ds.get("StudyDate"):
        found = search({"DICOMStudyDateAndTime": {"DICOMStudyDate": str(ds.StudyDate), "DICOMStudyTime": str(ds.get("StudyTime", ""))}})
        assert image_set_id in found

    # A file that is not DICOM: 400 with the failure message, nothing made.
    bad = post_dicom(server.url, SEED_DATASTORE, b"not dicom")
    assert bad.status == 400 and bad.headers["x-amzn-errortype"].startswith("ValidationException")
