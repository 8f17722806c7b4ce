"""What a project's own tests look like with the healthimaging-local pytest plugin (``pip install ./python``).

Run with ``pytest -n 2 examples/pytest`` (pytest-xdist): every test gets a namespace of its own
(``healthimaging_account``, a fresh 12-digit account), seeded by the ``healthimaging`` marker.
The conformance suite runs this file in a pytest session of its own (Tests/conformance/test_python_package.py).
"""

import os

import pytest
from botocore.exceptions import ClientError

from healthimaging_local import ControlPlaneError

SEED = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "seed.json")
DATASTORE = "12345678901234567890123456789012"
IMAGE_SET = "ea92b0d8838c72a3f25d00d13616f87e"


@pytest.mark.healthimaging(fixtures=[SEED])
def test_a_fixture_is_loaded_for_this_test(healthimaging_client, healthimaging_account):
    versions = healthimaging_client.list_image_set_versions(datastoreId=DATASTORE, imageSetId=IMAGE_SET)
    assert [v["versionId"] for v in versions["imageSetPropertiesList"]] == ["4", "3", "2", "1"]
    assert healthimaging_account.account.isdigit() and len(healthimaging_account.account) == 12
    # the journal is this namespace's: one call so far
    journal = healthimaging_account.journal()
    assert [e["operation"] for e in journal] == ["ListImageSetVersions"]
    assert journal[0]["account"] == healthimaging_account.account


def test_without_a_marker_the_namespace_is_empty(healthimaging_client):
    assert healthimaging_client.list_datastores()["datastoreSummaries"] == []


@pytest.mark.parametrize("n", range(6))
def test_parallel_tests_do_not_see_each_other(healthimaging_account, n):
    name = f"worker-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{n}"
    client = healthimaging_account.client()
    created = client.create_datastore(datastoreName=name)
    summaries = client.list_datastores()["datastoreSummaries"]
    assert [s["datastoreId"] for s in summaries] == [created["datastoreId"]]
    assert summaries[0]["datastoreName"] == name
    log = os.environ.get("HIL_EXAMPLE_ACCOUNTS_LOG")  # where the conformance suite checks isolation
    if log:
        with open(log, "a") as f:
            f.write(f"ACCOUNT {healthimaging_account.account} {os.environ.get('PYTEST_XDIST_WORKER', 'main')}\n")


@pytest.mark.healthimaging(fixtures=[SEED])
def test_standard_retries_ride_through_throttling(healthimaging_account):
    client = healthimaging_account.client(retries={"mode": "standard", "max_attempts": 3})
    with healthimaging_account.faults.add("ListImageSetVersions", error="ThrottlingException", times=2,
                                          datastore_id=DATASTORE) as rule:
        result = client.list_image_set_versions(datastoreId=DATASTORE, imageSetId=IMAGE_SET)
        assert len(result["imageSetPropertiesList"]) == 4
        assert result["ResponseMetadata"]["RetryAttempts"] == 2
        fired = [r for r in healthimaging_account.faults.list()["rules"] if r["id"] == rule.id]
        assert fired and fired[0]["fired"] == 2
    # the block removed the rule
    assert rule.id not in [r["id"] for r in healthimaging_account.faults.list()["rules"]]
    statuses = [(e["status"], e["faultInjected"]) for e in healthimaging_account.journal("ListImageSetVersions")]
    assert statuses == [(429, True), (429, True), (200, False)]


@pytest.mark.healthimaging(fixtures=[SEED], faults=[
    {"operation": "GetImageSet", "datastoreId": DATASTORE, "error": {"code": "AccessDeniedException"}, "times": 1}])
def test_a_fault_from_the_marker(healthimaging_client):
    with pytest.raises(ClientError) as caught:
        healthimaging_client.get_image_set(datastoreId=DATASTORE, imageSetId=IMAGE_SET)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert healthimaging_client.get_image_set(datastoreId=DATASTORE, imageSetId=IMAGE_SET)["versionId"] == "4"


@pytest.mark.healthimaging(fixtures=[SEED])
def test_states_and_control_errors(healthimaging_account, healthimaging_client):
    healthimaging_account.set_version_state(DATASTORE, IMAGE_SET, 4, workflow_status="COPY_FAILED",
                                            message="copy broke on purpose")
    got = healthimaging_client.get_image_set(datastoreId=DATASTORE, imageSetId=IMAGE_SET)
    assert got["imageSetWorkflowStatus"] == "COPY_FAILED" and got["message"] == "copy broke on purpose"
    with pytest.raises(ControlPlaneError) as caught:
        healthimaging_account.faults.add("NoSuchOperation", latency_ms=1)
    assert caught.value.status == 400 and "operation" in caught.value.message
