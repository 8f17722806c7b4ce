"""A corpus of hostile DICOM Part 10 files, built from raw bytes at test time (issue #16, "How it is checked").

Each file is small (the largest, sequences nested 200,000 deep, is about 7 MB) and lies in one way: a value that would
drive an allocation or a recursion if it were believed. ``corpus()`` returns ``{name: (bytes, reason)}``, where
``reason`` is a fragment the customer error must contain (case-insensitive). ``valid_ct()`` is an honest file of the
same shape, for the clean import the tests run before and after.

Run as a script to write the corpus into a folder: ``python hostile_dicom.py OUT_DIR``.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
JPEG2000_LOSSLESS = "1.2.840.10008.1.2.4.90"
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"
RLE = "1.2.840.10008.1.2.5"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
UNDEFINED = 0xFFFFFFFF
LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}


# ---- encoding -------------------------------------------------------------------------------------------------------


def pad(value: bytes, vr: str) -> bytes:
    if len(value) % 2:
        return value + (b"\x00" if vr in ("UI", "OB", "UN") else b" ")
    return value


def el(group: int, element: int, vr: str, value: bytes = b"", length: int | None = None, implicit: bool = False) -> bytes:
    """One element; ``length`` overrides the declared length (to lie)."""
    value = pad(value, vr) if length is None else value
    declared = len(value) if length is None else length
    tag = struct.pack("<HH", group, element)
    if implicit:
        return tag + struct.pack("<I", declared) + value
    if vr in LONG_VRS:
        return tag + vr.encode() + b"\x00\x00" + struct.pack("<I", declared) + value
    return tag + vr.encode() + struct.pack("<H", declared & 0xFFFF) + value


def us(group: int, element: int, value: int, implicit: bool = False) -> bytes:
    return el(group, element, "US", struct.pack("<H", value), implicit=implicit)


def text(group: int, element: int, vr: str, value: str, implicit: bool = False) -> bytes:
    return el(group, element, vr, value.encode(), implicit=implicit)


def item(body: bytes, length: int | None = None) -> bytes:
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(body) if length is None else length) + body


ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
SEQUENCE_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def part10(dataset: bytes, ts: str = EXPLICIT_LE, sop: str = "1.2.826.0.1.3680043.8.498.1.1.1") -> bytes:
    meta = (el(0x0002, 0x0001, "OB", b"\x00\x01") + text(0x0002, 0x0002, "UI", CT_IMAGE) +
            text(0x0002, 0x0003, "UI", sop) + text(0x0002, 0x0010, "UI", ts) +
            text(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.8.498.1"))
    group_length = el(0x0002, 0x0000, "UL", struct.pack("<I", len(meta)))
    if ts == DEFLATED:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        dataset = compressor.compress(dataset) + compressor.flush()
    return b"\x00" * 128 + b"DICM" + group_length + meta + dataset


def identity(n: int = 1, implicit: bool = False) -> tuple[bytes, bytes, bytes]:
    """Groups 0008/0010, 0020 (before the pixel module) — as three pieces to keep tags in order."""
    sop = f"1.2.826.0.1.3680043.8.498.1.1.{n}"
    g08 = (text(0x0008, 0x0016, "UI", CT_IMAGE, implicit) + text(0x0008, 0x0018, "UI", sop, implicit) +
           text(0x0008, 0x0060, "CS", "CT", implicit))
    g10 = text(0x0010, 0x0010, "PN", "Hostile^Test", implicit) + text(0x0010, 0x0020, "LO", "HOSTILE-1", implicit)
    g20 = (text(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.8.498.2", implicit) +
           text(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.8.498.3", implicit))
    return g08, g10, g20


def ct(rows: int = 16, columns: int = 16, frames: str | None = None, pixels: bytes | None = None, bits: int = 16,
       samples: int = 1, pixel_element: bytes | None = None, extra_08: bytes = b"", ts: str = EXPLICIT_LE,
       n: int = 1) -> bytes:
    """A small CT image; every argument can lie."""
    implicit = ts == IMPLICIT_LE
    g08, g10, g20 = identity(n, implicit)
    module = us(0x0028, 0x0002, samples, implicit) + text(0x0028, 0x0004, "CS", "MONOCHROME2" if samples == 1 else "RGB", implicit)
    if frames is not None:
        module += text(0x0028, 0x0008, "IS", frames, implicit)
    module += (us(0x0028, 0x0010, rows, implicit) + us(0x0028, 0x0011, columns, implicit) +
               us(0x0028, 0x0100, bits, implicit) + us(0x0028, 0x0101, bits, implicit) +
               us(0x0028, 0x0102, bits - 1, implicit) + us(0x0028, 0x0103, 0, implicit))
    if pixel_element is None:
        if pixels is None:
            pixels = bytes((i * 7) & 0xFF for i in range(rows * columns * samples * (bits // 8)))
        pixel_element = el(0x7FE0, 0x0010, "OW" if bits > 8 else "OB", pixels, implicit=implicit)
    return part10(g08 + extra_08 + g10 + g20 + module + pixel_element, ts, sop=f"1.2.826.0.1.3680043.8.498.1.1.{n}")


def valid_ct(n: int = 1) -> bytes:
    """An honest 16×16 16-bit CT image."""
    return ct(n=n)


def encapsulated(fragments: list[bytes], offsets: list[int] | None = None) -> bytes:
    table = b"".join(struct.pack("<I", o) for o in (offsets or []))
    body = item(table) + b"".join(item(pad(f, "OB")) for f in fragments)
    return el(0x7FE0, 0x0010, "OB", body + SEQUENCE_END, length=UNDEFINED)


def j2k_header(width: int, height: int, components: int = 1, precision: int = 16, ht: bool = False) -> bytes:
    """SOC + SIZ (ISO 15444-1 §A.5.1) + a few bytes: what a codestream's header claims, before any tile data."""
    rsiz = 0x4000 if ht else 0
    siz = struct.pack(">HIIIIIIIIH", rsiz, width, height, 0, 0, width, height, 0, 0, components)
    siz += bytes([precision - 1, 1, 1]) * components
    return b"\xff\x4f\xff\x51" + struct.pack(">H", len(siz) + 2) + siz + b"\xff\x93" + b"\x00" * 32 + b"\xff\xd9"


def jpeg_header(width: int, height: int, precision: int = 8, components: int = 1) -> bytes:
    """SOI + SOF3 (lossless) frame header + EOI."""
    sof = struct.pack(">BHHB", precision, height, width, components) + b"".join(bytes([c + 1, 0x11, 0]) for c in range(components))
    return b"\xff\xd8\xff\xc3" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


def nested(depth: int, ts: str = EXPLICIT_LE) -> bytes:
    """Content Sequence items inside each other, ``depth`` levels, undefined lengths."""
    implicit = ts == IMPLICIT_LE
    head = (struct.pack("<HH", 0x0040, 0xA730) + (b"" if implicit else b"SQ\x00\x00") + struct.pack("<I", UNDEFINED) +
            struct.pack("<HHI", 0xFFFE, 0xE000, UNDEFINED))
    tail = ITEM_END + SEQUENCE_END
    g08, g10, g20 = identity(1, implicit)
    return part10(g08 + g10 + g20 + head * depth + tail * depth, ts)


def nested_defined(depth: int) -> bytes:
    """The same with defined lengths (built inside out)."""
    inner = b""
    for _ in range(depth):
        inner = el(0x0040, 0xA730, "SQ", item(inner))
    g08, g10, g20 = identity(1)
    return part10(g08 + g10 + g20 + inner)


# ---- the corpus ------------------------------------------------------------------------------------------------------


def corpus() -> dict[str, tuple[bytes, str]]:
    g08, g10, g20 = identity()
    small = {
        # The table.
        "frames-2147483647.dcm": (ct(frames="2147483647"), "frames"),
        "nested-10000.dcm": (nested(10_000), "64 levels"),
        "nested-200000.dcm": (nested(200_000), "64 levels"),
        "nested-2000-defined-lengths.dcm": (nested_defined(2_000), "64 levels"),
        "nested-10000-implicit.dcm": (nested(10_000, IMPLICIT_LE), "64 levels"),
        "nested-10000-deflated.dcm": (nested(10_000, DEFLATED), "64 levels"),
        "rows-65535-128-bytes.dcm": (ct(rows=65535, columns=65535, pixels=b"\x00" * 128), "max-frame-bytes"),
        "rows-32768-128-bytes.dcm": (ct(rows=32768, columns=32768, bits=8, pixels=b"\x00" * 128), "Pixel Data holds 128 bytes"),
        "frames-1000-decoded-over-file-limit.dcm": (ct(rows=4096, columns=4096, frames="1000", pixels=b"\x00" * 128), "max-decoded-file-bytes"),
        # Lying lengths, one per VR class.
        "length-short-vr-text.dcm": (part10(g08 + el(0x0010, 0x0010, "PN", b"Lie^Name", length=0xFFF0) + g20), "declares"),
        "length-short-vr-number.dcm": (part10(g08 + g10 + g20 + el(0x0028, 0x0010, "US", b"\x10\x00", length=0xFFFE)), "declares"),
        "length-long-vr-ob.dcm": (part10(g08 + el(0x0009, 0x0010, "OB", b"\x00" * 16, length=0x7FFFFFF0) + g10 + g20), "declares"),
        "length-long-vr-ut.dcm": (part10(g08 + el(0x0008, 0x0119, "UT", b"text", length=0xFFFFFFF0) + g10 + g20), "declares"),
        "length-long-vr-un.dcm": (part10(g08 + el(0x0009, 0x1001, "UN", b"\x00" * 8, length=0x40000000) + g10 + g20), "declares"),
        "length-sequence.dcm": (part10(g08 + el(0x0008, 0x1115, "SQ", item(b""), length=0x10000000) + g10 + g20), "declares"),
        "length-item.dcm": (part10(g08 + el(0x0008, 0x1115, "SQ", item(b"", length=0x10000000), length=UNDEFINED) +
                                   SEQUENCE_END + g10 + g20), "item"),
        "length-element-past-item.dcm": (part10(
            g08 + el(0x0008, 0x1115, "SQ", item(text(0x0008, 0x1150, "UI", "1.2.3"), length=4) + SEQUENCE_END, length=UNDEFINED)
            + g10 + g20), "item"),
        "length-implicit-vr.dcm": (ct(ts=IMPLICIT_LE, pixel_element=el(0x7FE0, 0x0010, "OW", b"\x00" * 64, length=0x7FFFFFFE,
                                                                      implicit=True)), "declares"),
        "length-pixel-data.dcm": (ct(pixel_element=el(0x7FE0, 0x0010, "OW", b"\x00" * 64, length=0x7FFFFFFE)), "declares"),
        "length-meta-header.dcm": (b"\x00" * 128 + b"DICM" + el(0x0002, 0x0010, "UI", b"1.2", length=0xFFF0), "meta header"),
        # Undefined lengths where PS3.5 allows none.
        "undefined-length-ob.dcm": (part10(g08 + el(0x0009, 0x0010, "OB", b"\x00" * 16, length=UNDEFINED) + g10 + g20), "undefined length"),
        "undefined-length-ut.dcm": (part10(g08 + el(0x0008, 0x0119, "UT", b"text", length=UNDEFINED) + g10 + g20), "undefined length"),
        "undefined-length-fragment.dcm": (ct(pixel_element=el(
            0x7FE0, 0x0010, "OB", item(b"") + item(b"\x00" * 8, length=UNDEFINED) + SEQUENCE_END, length=UNDEFINED), ts=RLE),
            "undefined length"),
        # Encapsulated Pixel Data that points past the end.
        "fragment-length-past-end.dcm": (ct(ts=RLE, pixel_element=el(
            0x7FE0, 0x0010, "OB", item(b"") + item(b"\x00" * 64, length=0x7FFFFF00), length=UNDEFINED)), "fragment"),
        "fragment-offsets-past-end.dcm": (ct(ts=JPEG2000_LOSSLESS, frames="2", pixel_element=encapsulated(
            [j2k_header(16, 16)] * 3, offsets=[0, 0x7FFFFFF0])), "fragments"),
        "fragments-fewer-than-frames.dcm": (ct(ts=JPEG2000_LOSSLESS, frames="100000", pixel_element=encapsulated(
            [j2k_header(16, 16)] * 2)), "fragments"),
        "rle-segments-claim-huge.dcm": (ct(rows=8192, columns=8192, bits=8, ts=RLE, pixel_element=encapsulated(
            [struct.pack("<16I", 1, 64, *([0] * 14)) + b"\x81\x00"])), "RLE"),
        # Codestream headers that claim more than the dataset.
        "j2k-header-huge.dcm": (ct(ts=JPEG2000_LOSSLESS, pixel_element=encapsulated([j2k_header(60000, 60000)])), "codestream header"),
        "htj2k-header-huge.dcm": (ct(ts=HTJ2K_LOSSLESS, pixel_element=encapsulated([j2k_header(65535, 65535, ht=True)])), "codestream header"),
        "j2k-dataset-and-header-huge.dcm": (ct(rows=60000, columns=60000, ts=JPEG2000_LOSSLESS,
                                               pixel_element=encapsulated([j2k_header(60000, 60000)])), "max-frame-bytes"),
        "jpeg-header-huge.dcm": (ct(ts=JPEG_LOSSLESS, pixel_element=encapsulated([jpeg_header(65535, 65535, 16)])), "codestream header"),
        # 16-bit data that claims 8.
        "j2k-16-bit-claims-8.dcm": (ct(bits=8, ts=JPEG2000_LOSSLESS, pixel_element=encapsulated([j2k_header(16, 16, precision=16)])), "16-bit"),
        "jpeg-16-bit-claims-8.dcm": (ct(bits=8, ts=JPEG_LOSSLESS, pixel_element=encapsulated([jpeg_header(16, 16, 16)])), "16-bit"),
        "rle-16-bit-claims-8.dcm": (ct(bits=8, ts=RLE, pixel_element=encapsulated(
            [struct.pack("<16I", 2, 64, 66, *([0] * 13)) + b"\x00\x00\x00\x00"])), "segments"),
    }
    return small


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "hostile-dicom")
    out.mkdir(parents=True, exist_ok=True)
    for name, (data, _) in corpus().items():
        (out / name).write_bytes(data)
    (out / "valid-ct.dcm").write_bytes(valid_ct())
    print(f"wrote {len(corpus()) + 1} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
