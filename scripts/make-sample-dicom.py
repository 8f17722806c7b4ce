#!/usr/bin/env python3
"""Writes the shipped sample DICOM folder, fixtures/s3/healthimaging-local-samples/dicom/.

Synthetic and license-free: every pixel is computed here (gradients and rings), every name is made up, every UID sits
under pydicom's example root. One study, two series, several transfer syntaxes, a multi-frame and a colour image,
all small (the folder stays well under 1 MB). Deterministic: running it again writes the same bytes.

Needs pydicom + numpy + pylibjpeg-openjpeg (JPEG 2000 lossless encoding) in the running Python, and DCMTK's
command-line tools (Debian `dcmtk`: dcmconv, dcmcrle, dcmcjpeg, dcmcjpls) and OpenJPH's ojph_compress (Debian
`openjph-tools`) on PATH.

    python3 -m venv /tmp/v && /tmp/v/bin/pip install pydicom numpy pylibjpeg pylibjpeg-openjpeg
    /tmp/v/bin/python scripts/make-sample-dicom.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "s3" / "healthimaging-local-samples" / "dicom"
PREFIX = "1.2.826.0.1.3680043.8.498."  # pydicom's UID root, used for made-up UIDs


def uid(name: str) -> str:
    # Deterministic: derived from a fixed name, not from time or randomness.
    return generate_uid(prefix=PREFIX, entropy_srcs=["healthimaging-local-samples", name])


STUDY = uid("study")
CT_SERIES = uid("series-ct")
SC_SERIES = uid("series-sc")
FOR = uid("frame-of-reference")


def base(sop_class: str, sop: str, series: str, modality: str, number: int, charset: str | None = None) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PREFIX + "9.1"
    meta.ImplementationVersionName = "HIL_SAMPLES_1"
    ds.file_meta = meta
    if charset:
        ds.SpecificCharacterSet = charset
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop
    ds.StudyDate = "20240315"
    ds.SeriesDate = "20240315"
    ds.StudyTime = "101500"
    ds.SeriesTime = "101500"
    ds.AccessionNumber = "HIL-ACC-0001"
    ds.Modality = modality
    ds.Manufacturer = "healthimaging-local"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Synthetic sample study"
    ds.SeriesDescription = "Synthetic CT slices" if series == CT_SERIES else "Synthetic secondary captures"
    ds.PatientName = "Müller^Anna" if charset else "SAMPLE^ANNA"
    ds.PatientID = "HIL-SAMPLE-001"
    ds.PatientBirthDate = "19800101"
    ds.PatientSex = "F"
    ds.PatientWeight = "61.5"
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = series
    ds.StudyID = "1"
    ds.SeriesNumber = 1 if series == CT_SERIES else 2
    ds.InstanceNumber = number
    ds.FrameOfReferenceUID = FOR
    ds.PositionReferenceIndicator = ""
    return ds


def ct_pixels(index: int, size: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    r = np.hypot(x - size / 2, y - size / 2)
    ring = ((r // 4) % 2) * 600
    return (ring + x * 8 + y * 4 - 1024 + index * 40).astype(np.int16)


def ct(index: int) -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.2", uid(f"ct-{index}"), CT_SERIES, "CT", index + 1,
              charset="ISO_IR 100" if index == 0 else None)
    ds.SliceThickness = "2.5"
    ds.ImagePositionPatient = [0, 0, -2.5 * index]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceLocation = str(-2.5 * index)
    ds.PixelSpacing = [0.5, 0.5]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    pixels = ct_pixels(index)
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.PixelData = pixels.tobytes()
    if index == 0:
        # A private block, so the document's DICOMVRs has something to say.
        block = ds.private_block(0x0009, "HIL_SAMPLES", create=True)
        block.add_new(0x01, "DS", "97")
        block.add_new(0x02, "US", [1, 2])
    return ds


def colour() -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.7", uid("sc-rgb"), SC_SERIES, "OT", 1)
    ds.ConversionType = "WSD"
    y, x = np.mgrid[0:48, 0:40]
    rgb = np.stack([(x * 6) % 256, (y * 5) % 256, ((x + y) * 3) % 256], axis=-1).astype(np.uint8)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = rgb.shape[:2]
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = rgb.tobytes()
    return ds


def multiframe() -> Dataset:
    ds = base("1.2.840.10008.5.1.4.1.1.7.2", uid("sc-multiframe"), SC_SERIES, "OT", 2)
    ds.ConversionType = "WSD"
    frames = []
    for f in range(4):
        y, x = np.mgrid[0:32, 0:32]
        frames.append((((x + f * 4) ^ y) * 37 % 4096).astype(np.uint16))
    arr = np.stack(frames)
    ds.NumberOfFrames = len(frames)
    ds.FrameIncrementPointer = 0x00181063
    ds.FrameTime = "100"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = arr.shape[1:]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = arr.tobytes()
    return ds


def htj2k(ds: Dataset, tmp: Path, path: Path) -> None:
    """Encodes the slice losslessly with OpenJPH's ojph_compress and encapsulates the codestream."""
    from pydicom.encaps import encapsulate

    raw = tmp / "slice.rawl"
    np.frombuffer(ds.PixelData, dtype="<i2").tofile(raw)
    codestream = tmp / "slice.j2c"
    dcmtk("ojph_compress", "-i", str(raw), "-o", str(codestream), "-num_decomps", "3", "-reversible", "true",
          "-dims", f"{{{ds.Columns},{ds.Rows}}}", "-num_comps", "1", "-signed", "true", "-bit_depth", "16",
          "-downsamp", "{1,1}")
    ds.PixelData = encapsulate([codestream.read_bytes()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.201"  # HTJ2K Image Compression (Lossless Only)
    write(ds, path)


def write(ds: Dataset, path: Path) -> None:
    ds.save_as(path, enforce_file_format=True)


def dcmtk(tool: str, *args: str) -> None:
    subprocess.run([tool, *args], check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    for tool in ("dcmconv", "dcmcrle", "dcmcjpeg", "dcmcjpls", "ojph_compress"):
        if not shutil.which(tool):
            print(f"make-sample-dicom: {tool} not found (install Debian's dcmtk)", file=sys.stderr)
            return 1
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        slices = [ct(i) for i in range(8)]
        # Series 1: one CT slice per transfer syntax.
        write(slices[0], OUT / "ct-01-explicit-le.dcm")  # 1.2.840.10008.1.2.1, ISO_IR 100 name
        write(slices[1], t / "ct2.dcm")
        dcmtk("dcmconv", "+ti", str(t / "ct2.dcm"), str(OUT / "ct-02-implicit-le.dcm"))  # 1.2.840.10008.1.2
        write(slices[2], t / "ct3.dcm")
        dcmtk("dcmcrle", str(t / "ct3.dcm"), str(OUT / "ct-03-rle.dcm"))  # 1.2.840.10008.1.2.5
        write(slices[3], t / "ct4.dcm")
        dcmtk("dcmcjpeg", "+e1", "+un", str(t / "ct4.dcm"), str(OUT / "ct-04-jpeg-lossless.dcm"))  # .4.70
        write(slices[4], t / "ct5.dcm")
        dcmtk("dcmcjpls", "+el", "+un", str(t / "ct5.dcm"), str(OUT / "ct-05-jpeg-ls.dcm"))  # .4.80
        j2k = slices[5]
        j2k.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg", generate_instance_uid=False)  # .4.90
        write(j2k, OUT / "ct-06-jpeg2000-lossless.dcm")
        write(slices[6], t / "ct7.dcm")
        dcmtk("dcmconv", "+tb", str(t / "ct7.dcm"), str(OUT / "ct-07-explicit-be.dcm"))  # 1.2.840.10008.1.2.2
        htj2k(slices[7], t, OUT / "ct-08-htj2k-lossless.dcm")  # 1.2.840.10008.1.2.4.201
        # Series 2: a colour image (deflated) and a multi-frame image (RLE), plus the colour one as JPEG baseline,
        # a lossy syntax the service keeps in its original encoding.
        write(colour(), t / "rgb.dcm")
        dcmtk("dcmconv", "+td", str(t / "rgb.dcm"), str(OUT / "sc-01-rgb-deflated.dcm"))  # 1.2.840.10008.1.2.1.99
        write(multiframe(), t / "mf.dcm")
        dcmtk("dcmcrle", str(t / "mf.dcm"), str(OUT / "sc-02-multiframe-rle.dcm"))
        baseline = colour()
        baseline.SOPInstanceUID = baseline.file_meta.MediaStorageSOPInstanceUID = uid("sc-rgb-jpeg")
        baseline.InstanceNumber = 3
        write(baseline, t / "rgbj.dcm")
        dcmtk("dcmcjpeg", "+eb", "+un", str(t / "rgbj.dcm"), str(OUT / "sc-03-rgb-jpeg-baseline.dcm"))  # .4.50
    total = sum(p.stat().st_size for p in OUT.iterdir())
    for p in sorted(OUT.iterdir()):
        ts = pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID
        print(f"{p.name:34} {p.stat().st_size:7} bytes  {ts} ({ts.name})")
    print(f"total {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
