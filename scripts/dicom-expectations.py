#!/usr/bin/env python3
"""pydicom's reading of DICOM files, as the JSON the Swift DICOMReader tests compare against.

    python scripts/dicom-expectations.py FILE... > Tests/dicom/expectations-….json

Tests/dicom/expectations-pydicom.json was written with pydicom 3.0.2, pylibjpeg 2.1.0, pylibjpeg-libjpeg 2.5.0,
pylibjpeg-openjpeg 2.6.0 and pylibjpeg-rle 2.2.0 over pydicom/data/test_files/*.dcm.

For each file: the transfer syntax, the three UIDs, a few attributes, and per frame its shape and the CRC-32 of
pydicom's decoded array (samples as little-endian integers of the smallest size holding BitsAllocated, colour
interleaved — the metadata's full-resolution checksum), or the error pydicom raised. Needs pydicom, numpy and the
pylibjpeg plugins (pylibjpeg-libjpeg, pylibjpeg-openjpeg, pylibjpeg-rle) for compressed files.
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

import numpy as np
import pydicom

KEYWORDS = [
    "PatientName", "PatientID", "PatientSex", "StudyDate", "StudyTime", "AccessionNumber", "Modality",
    "SeriesNumber", "InstanceNumber", "Rows", "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation",
    "SamplesPerPixel", "PhotometricInterpretation", "ImageType", "PixelSpacing", "SpecificCharacterSet",
]


def plain(value):
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return [plain(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, pydicom.valuerep.DSfloat):
            return str(value)
        if isinstance(value, pydicom.valuerep.IS):
            return str(value)
        return value
    return str(value)


def describe(path: Path) -> dict:
    out: dict = {"file": path.name}
    try:
        ds = pydicom.dcmread(path)
    except Exception as e:  # noqa: BLE001 - the error itself is the expectation
        out["readError"] = type(e).__name__
        return out
    meta = getattr(ds, "file_meta", None)
    out["transferSyntax"] = str(meta.TransferSyntaxUID) if meta and "TransferSyntaxUID" in meta else None
    for key in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        out[key] = str(ds.get(key, "")) or None
    out["attributes"] = {k: plain(ds[k].value) for k in KEYWORDS if k in ds and ds[k].value not in (None, "")}
    if "PixelData" not in ds:
        out["frames"] = []
        return out
    try:
        # The samples as stored: no YCbCr → RGB conversion (the reader converts no colour space either; JPEG
        # decoders may still convert inside the codec).
        ds.pixel_array_options(as_rgb=False)
        arr = ds.pixel_array
    except Exception as e:  # noqa: BLE001
        out["pixelError"] = f"{type(e).__name__}: {e}"[:200]
        return out
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.SamplesPerPixel)
    bits = int(ds.BitsAllocated)
    size = 1 if bits <= 8 else 2 if bits <= 16 else 4
    signed = arr.dtype.kind == "i"
    dtype = np.dtype(f"<{'i' if signed else 'u'}{size}")
    if frames == 1:
        arr = arr[np.newaxis, ...]
    out["frames"] = []
    for f in range(frames):
        a = np.ascontiguousarray(arr[f].astype(dtype))
        out["frames"].append({
            "rows": int(a.shape[0]), "columns": int(a.shape[1]), "samplesPerPixel": spp,
            "crc32": zlib.crc32(a.tobytes()) & 0xFFFFFFFF, "min": int(a.min()), "max": int(a.max()),
        })
    return out


def main() -> int:
    files = [Path(p) for p in sys.argv[1:]]
    json.dump([describe(p) for p in files], sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
