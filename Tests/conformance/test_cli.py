"""The aws CLI (v1, pinned) against the emulator: every pagination flag,
every output format, --query, --cli-input-json, --no-sign-request."""

from __future__ import annotations

import json
import re

import pytest
from conftest import (
    BIG_N,
    DS_B,
    IS_B1,
    SEED_DATASTORE,
    SEED_IMAGE_SET,
    cli_json,
    load_expected,
    run_cli,
)

SEED_CMD = ("list-image-set-versions", "--datastore-id", SEED_DATASTORE, "--image-set-id", SEED_IMAGE_SET)
BIG_CMD = ("list-image-set-versions", "--datastore-id", DS_B, "--image-set-id", IS_B1)
ALL_IDS = ["4", "3", "2", "1"]
COPY_FAILED_MESSAGE = "INVALID_REQUEST:  Series of SourceImageSet and DestinationImageSet don't match."


def expected():
    return load_expected("list-image-set-versions.json")


def ids(out) -> list[str]:
    return [i["versionId"] for i in out["imageSetPropertiesList"]]


def requests_made(debug_stderr: str) -> list[str]:
    """The ListImageSetVersions requests botocore logged under --debug."""
    return re.findall(r"Making request for OperationModel\(name=ListImageSetVersions\).*", debug_stderr)


# ---------------------------------------------------------------------------
# --max-items / --starting-token
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_items", [1, 2, 3])
def test_max_items_then_starting_token_walks_everything(server, max_items):
    items, token, rounds = [], None, 0
    while True:
        args = [*SEED_CMD, "--max-items", str(max_items)]
        if token:
            args += ["--starting-token", token]
        out = cli_json(server.url, *args)
        page = out["imageSetPropertiesList"]
        assert 1 <= len(page) <= max_items
        items += page
        token = out.get("NextToken")
        rounds += 1
        assert rounds <= 10
        if not token:
            break
        assert len(page) == max_items
        # --max-items must not leak the server's raw token
        assert "nextToken" not in out
    assert items == expected()["imageSetPropertiesList"]


@pytest.mark.parametrize("max_items", [4, 5, 100])
def test_max_items_at_or_above_total_has_no_next_token(server, max_items):
    out = cli_json(server.url, *SEED_CMD, "--max-items", str(max_items))
    assert out == expected()


def test_starting_token_alone_returns_the_rest(server):
    first = cli_json(server.url, *SEED_CMD, "--max-items", "1")
    assert ids(first) == ["4"]
    rest = cli_json(server.url, *SEED_CMD, "--starting-token", first["NextToken"])
    assert ids(rest) == ["3", "2", "1"]
    assert "NextToken" not in rest
    assert rest["imageSetPropertiesList"] == expected()["imageSetPropertiesList"][1:]


def test_max_items_with_page_size_truncates_inside_a_page(server):
    """--page-size 2 --max-items 3 stops in the middle of the second server
    page: the CLI token holds the previous server token plus a skip count, and
    resuming re-sends that server token (tokens must be reusable and ordering
    stable)."""
    first = cli_json(server.url, *SEED_CMD, "--page-size", "2", "--max-items", "3")
    assert ids(first) == ["4", "3", "2"]
    token = first["NextToken"]
    rest = cli_json(server.url, *SEED_CMD, "--page-size", "2", "--starting-token", token)
    assert ids(rest) == ["1"]
    assert "NextToken" not in rest
    again = cli_json(server.url, *SEED_CMD, "--page-size", "2", "--starting-token", token)
    assert again == rest


def test_max_items_over_many_versions(multi_server):
    items, token = [], None
    for _ in range(10):
        args = [*BIG_CMD, "--max-items", "45"]
        if token:
            args += ["--starting-token", token]
        out = cli_json(multi_server.url, *args)
        items += out["imageSetPropertiesList"]
        token = out.get("NextToken")
        if not token:
            break
    got = [i["versionId"] for i in items]
    assert got == [str(v) for v in range(BIG_N, 0, -1)]


# ---------------------------------------------------------------------------
# --page-size
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("page_size,calls", [(1, 4), (2, 2), (3, 2), (4, 1), (50, 1)])
def test_page_size_gives_the_full_list(server, page_size, calls):
    rc, out, err = run_cli(server.url, *SEED_CMD, "--page-size", str(page_size), "--debug")
    assert rc == 0, err[-5000:]
    assert json.loads(out) == expected()
    made = requests_made(err)
    assert len(made) == calls, "\n".join(made)
    for line in made:
        assert f"'maxResults': {page_size}" in line, line


def test_page_size_over_many_versions(multi_server):
    out = cli_json(multi_server.url, *BIG_CMD, "--page-size", "11")
    assert [i["versionId"] for i in out["imageSetPropertiesList"]] == [str(v) for v in range(BIG_N, 0, -1)]
    assert "NextToken" not in out


def test_without_flags_the_cli_follows_all_pages(multi_server):
    rc, out, err = run_cli(multi_server.url, *BIG_CMD, "--debug")
    assert rc == 0, err[-5000:]
    got = json.loads(out)
    assert [i["versionId"] for i in got["imageSetPropertiesList"]] == [str(v) for v in range(BIG_N, 0, -1)]
    assert len(requests_made(err)) == 3  # 50 + 50 + 20 with the default page size


# ---------------------------------------------------------------------------
# --no-paginate and the raw (undocumented) --max-results / --next-token
# ---------------------------------------------------------------------------


def test_no_paginate_single_call(server):
    rc, out, err = run_cli(server.url, *SEED_CMD, "--no-paginate", "--debug")
    assert rc == 0, err[-5000:]
    assert json.loads(out) == expected()
    assert len(requests_made(err)) == 1


def test_no_paginate_shows_the_raw_next_token(multi_server):
    out = cli_json(multi_server.url, *BIG_CMD, "--no-paginate")
    assert len(out["imageSetPropertiesList"]) == 50
    assert isinstance(out.get("nextToken"), str) and out["nextToken"]
    assert "NextToken" not in out


def test_max_results_and_next_token_by_hand(server):
    """--max-results turns pagination off; the raw nextToken appears and is
    fed back with --next-token."""
    first = cli_json(server.url, *SEED_CMD, "--max-results", "2")
    assert ids(first) == ["4", "3"]
    tok = first["nextToken"]
    second = cli_json(server.url, *SEED_CMD, "--max-results", "2", "--next-token", tok)
    assert ids(second) == ["2", "1"]
    assert "nextToken" not in second
    third = cli_json(server.url, *SEED_CMD, "--no-paginate", "--next-token", tok)
    assert ids(third) == ["2", "1"]


def test_no_paginate_with_max_results(server):
    out = cli_json(server.url, *SEED_CMD, "--no-paginate", "--max-results", "3")
    assert ids(out) == ["4", "3", "2"]
    assert out.get("nextToken")


@pytest.mark.parametrize("flag", [["--page-size", "2"], ["--max-items", "2"], ["--starting-token", "x"]])
def test_no_paginate_refuses_cli_paging_flags(server, flag):
    """aws CLI v1 refuses --no-paginate with its own paging flags before any
    request is made (client behaviour, recorded here so the docs stay right)."""
    rc, out, err = run_cli(server.url, *SEED_CMD, "--no-paginate", *flag)
    assert rc != 0
    assert "Cannot specify --no-paginate along with pagination arguments" in err


# ---------------------------------------------------------------------------
# --output
# ---------------------------------------------------------------------------


def test_output_json(server):
    out = cli_json(server.url, *SEED_CMD, "--output", "json")
    assert out == expected()


def test_output_text(server):
    rc, out, err = run_cli(server.url, *SEED_CMD, "--output", "text")
    assert rc == 0, err
    lines = out.strip("\n").splitlines()
    assert len(lines) == 4, out
    by_version = {}
    for line in lines:
        fields = line.split("\t")
        assert fields[0] == "IMAGESETPROPERTIESLIST", line
        assert SEED_IMAGE_SET in fields
        assert "ACTIVE" in fields
        version = [f for f in fields if f in ALL_IDS]
        assert len(version) == 1, line
        by_version[version[0]] = fields
    assert [next(f for f in line.split("\t") if f in ALL_IDS) for line in lines] == ALL_IDS
    assert "UPDATED" in by_version["4"] and "1680029436.304" in by_version["4"]
    assert "UPDATED" in by_version["3"] and "1680029163.325" in by_version["3"]
    assert "COPY_FAILED" in by_version["2"] and COPY_FAILED_MESSAGE in by_version["2"]
    assert "COPIED" in by_version["1"] and "1680027126.436" in by_version["1"]


def test_output_table(server):
    rc, out, err = run_cli(server.url, *SEED_CMD, "--output", "table")
    assert rc == 0, err
    assert "ListImageSetVersions" in out
    assert "imageSetPropertiesList" in out
    for token in ("COPY_FAILED", "COPIED", "UPDATED", "ACTIVE", SEED_IMAGE_SET, "1680029436.304"):
        assert token in out, token
    assert COPY_FAILED_MESSAGE in out
    # one row per version in the versionId column
    rows = [r for r in out.splitlines() if SEED_IMAGE_SET in r]
    assert len(rows) == 4, out


@pytest.mark.parametrize("fmt", ["yaml", "yaml-stream"])
def test_output_yaml_is_not_in_cli_v1(server, fmt):
    """yaml / yaml-stream (and --cli-input-yaml) exist only in aws CLI v2; the
    pinned v1 refuses them before sending anything. Recorded so that nobody
    documents them as checked."""
    rc, out, err = run_cli(server.url, *SEED_CMD, "--output", fmt)
    assert rc == 2
    assert "argument --output: Invalid choice" in err


# ---------------------------------------------------------------------------
# --query
# ---------------------------------------------------------------------------


def test_query_message_of_version_2(server):
    out = cli_json(server.url, *SEED_CMD, "--query", "imageSetPropertiesList[?versionId=='2'].message")
    assert out == [COPY_FAILED_MESSAGE]


def test_query_with_a_number_literal_matches_nothing(server):
    """versionId is a JSON string on the wire, so the JMESPath number literal
    `2` matches nothing; `"2"` does."""
    assert cli_json(server.url, *SEED_CMD, "--query", "imageSetPropertiesList[?versionId==`2`].message") == []
    assert cli_json(server.url, *SEED_CMD, "--query", 'imageSetPropertiesList[?versionId==`"2"`].message') == [
        COPY_FAILED_MESSAGE
    ]


def test_query_text_output(server):
    rc, out, err = run_cli(
        server.url, *SEED_CMD, "--query", "imageSetPropertiesList[].versionId", "--output", "text"
    )
    assert rc == 0, err
    assert out.split() == ALL_IDS


def test_query_across_pages(multi_server):
    out = cli_json(
        multi_server.url, *BIG_CMD, "--page-size", "30", "--query", "length(imageSetPropertiesList)"
    )
    assert out == BIG_N


def test_query_failed_versions(server):
    out = cli_json(
        server.url,
        *SEED_CMD,
        "--query",
        "imageSetPropertiesList[?ImageSetWorkflowStatus=='COPY_FAILED'].[versionId,message]",
    )
    assert out == [["2", COPY_FAILED_MESSAGE]]


# ---------------------------------------------------------------------------
# --cli-input-json / --cli-input-yaml / --no-sign-request
# ---------------------------------------------------------------------------


def test_cli_input_json(server):
    doc = json.dumps({"datastoreId": SEED_DATASTORE, "imageSetId": SEED_IMAGE_SET})
    out = cli_json(server.url, "list-image-set-versions", "--cli-input-json", doc)
    assert out == expected()


def test_cli_input_json_from_file(server, tmp_path):
    p = tmp_path / "input.json"
    p.write_text(json.dumps({"datastoreId": SEED_DATASTORE, "imageSetId": SEED_IMAGE_SET}))
    out = cli_json(server.url, "list-image-set-versions", "--cli-input-json", f"file://{p}")
    assert out == expected()


def test_cli_input_json_overridden_by_flags(server):
    doc = json.dumps({"datastoreId": SEED_DATASTORE, "imageSetId": "0" * 32})
    out = cli_json(
        server.url, "list-image-set-versions", "--cli-input-json", doc, "--image-set-id", SEED_IMAGE_SET
    )
    assert out == expected()


def test_no_sign_request_without_credentials(server):
    out = cli_json(
        server.url,
        *SEED_CMD,
        "--no-sign-request",
        drop_env=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    )
    assert out == expected()


def test_no_sign_request_with_paging(server):
    first = cli_json(server.url, *SEED_CMD, "--no-sign-request", "--max-items", "2")
    rest = cli_json(server.url, *SEED_CMD, "--no-sign-request", "--starting-token", first["NextToken"])
    assert ids(first) + ids(rest) == ALL_IDS


def test_region_scopes_the_data(server):
    """Resources live in an account + region; the region of a signed request
    is its credential scope's (like LocalStack). The seed is in us-east-1,
    so a request signed for eu-west-1 finds nothing; an unsigned one uses the
    server's default namespace."""
    rc, out, err = run_cli(server.url, *SEED_CMD, "--region", "eu-west-1")
    assert rc == 255, (rc, out, err)
    assert "ResourceNotFoundException" in err
    out = cli_json(server.url, *SEED_CMD, "--region", "eu-west-1", "--no-sign-request")
    assert out == expected()
