"""Fixture files written by tests and benchmarks alike (stdlib only, so bench/ scripts can import it):
ids, and a large many-versions fixture streamed to disk without building the document in memory; and a process's
resident set size, read from /proc."""

from __future__ import annotations

from pathlib import Path


def hex_id(n: int, prefix: str = "") -> str:
    """A valid 32-character [0-9a-z] id."""
    s = f"{prefix}{n:x}"
    return s.rjust(32, "0")[:32]


def rss_kib(pid: int, field: str = "VmHWM") -> int:
    """One kB field of /proc/<pid>/status: VmHWM (peak resident set) by default, or VmRSS (current)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def write_many_versions_fixture(path: Path, image_sets: int, versions: int) -> Path:
    """One datastore of ``image_sets`` image sets with ``versions`` versions each (newest first), written as it
    goes: 10^6 versions are about 170 MiB of JSON."""
    created = 1680027126.436
    with open(path, "w") as f:
        f.write('{"datastores": [{"datastoreId": "%s", "datastoreName": "many", "imageSets": [' % hex_id(1, "many"))
        for i in range(image_sets):
            isid = hex_id(i, "m")
            f.write(("," if i else "") + '{"imageSetId": "%s", "versions": [' % isid)
            f.write(",".join(
                '{"imageSetId":"%s","versionId":"%d","imageSetState":"ACTIVE","ImageSetWorkflowStatus":"%s",'
                '"createdAt":%.3f,"updatedAt":%.3f}' % (isid, v, "CREATED" if v == 1 else "UPDATED", created, created + v)
                for v in range(versions, 0, -1)))
            f.write("]}")
        f.write("]}]}")
    return Path(path)
