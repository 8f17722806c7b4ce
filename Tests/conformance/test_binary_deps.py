"""The release binary (built with --static-swift-stdlib) needs nothing at run
time beyond glibc, the C++ runtime, libevent, SQLite, zlib, and DCMTK + OpenJPEG
(with the libraries they pull in) for DICOM import: no Swift runtime, no Foundation."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import binary_path

ALLOWED = [
    r"linux-vdso\.so\.1",
    r"linux-gate\.so\.1",
    r"ld-linux[-\w.]*\.so\.\d+",
    r"ld64\.so\.\d+",
    r"libc\.so\.6",
    r"libm\.so\.6",
    # parts of glibc that older link lines still name separately
    r"libpthread\.so\.0",
    r"libdl\.so\.2",
    r"librt\.so\.1",
    r"libutil\.so\.1",
    r"libstdc\+\+\.so\.6",
    r"libgcc_s\.so\.1",
    r"libevent_core-2\.\d+\.so\.\d+",
    r"libevent_extra-2\.\d+\.so\.\d+",
    r"libsqlite3\.so\.0",
    r"libz\.so\.1",  # gzip bodies of GetImageSetMetadata
    # DICOM import (Sources/CDICOM): DCMTK (Debian libdcmtk17) and OpenJPEG (libopenjp2-7), with what they pull in
    r"lib(dcmdata|dcmimgle|dcmjpeg|dcmjpls|dcmtkcharls|ijg8|ijg12|ijg16|oflog|ofstd)\.so\.17",
    r"libopenjp2\.so\.7",
    r"libxml2\.so\.2",
    r"libicu(uc|data|i18n)\.so\.\d+",
    r"liblzma\.so\.5",
    r"libopenjph\.so\.0\.\d+",  # HTJ2K frames (Debian libopenjph0.9)
]


def ldd_libraries() -> list[tuple[str, str]]:
    b = binary_path()
    if not b.exists():
        pytest.fail(f"binary not found at {b}", pytrace=False)
    ldd = shutil.which("ldd")
    assert ldd, "ldd not found"
    p = subprocess.run([ldd, str(b)], capture_output=True, text=True)
    assert p.returncode == 0, f"ldd {b} failed ({p.returncode}): {p.stdout}{p.stderr}"
    out = p.stdout
    libs = []
    for line in out.splitlines():
        line = line.strip()
        if not line:
            continue
        name = line.split()[0]
        libs.append((name.rsplit("/", 1)[-1], line))
    return libs


def test_release_binary_links_only_system_libraries():
    libs = ldd_libraries()
    assert libs, "ldd listed nothing"
    unexpected = [line for name, line in libs if not any(re.fullmatch(p, name) for p in ALLOWED)]
    assert unexpected == [], "unexpected shared libraries:\n" + "\n".join(unexpected)


def test_every_library_resolves():
    missing = [line for _, line in ldd_libraries() if "not found" in line]
    assert missing == []


def test_no_swift_runtime_libraries():
    names = [name for name, _ in ldd_libraries()]
    # Debian's own ICU (libicuuc.so.72, pulled in by DCMTK's libxml2) is a system library; Swift's bundled ICU
    # (lib_FoundationICU) is what must not appear.
    swifty = [n for n in names if re.search(r"swift|Foundation|dispatch|BlocksRuntime|icu", n, re.I)
              and not re.fullmatch(r"libicu(uc|data|i18n)\.so\.\d+", n)]
    assert swifty == [], swifty
