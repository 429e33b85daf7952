"""The optional read replica: the evaluation reads from it, everything else and every write goes
to the primary. The "replica" here is a second connection to the test database, as a streaming
replica is a second server holding the same rows."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from curation.accounts.users import user_create
from curation.models import Title
from curation.replicas import REPLICA, replica_reads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def replica(settings):
    """What ``DATABASE_REPLICA_URL`` sets up, pointed at the test database."""
    connections.settings[REPLICA] = dict(connections["default"].settings_dict)
    settings.DATABASE_ROUTERS = ["curation.replicas.ReplicaRouter"]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "curation.replicas.replica_reads_middleware"]
    # Connected now: the test case lets only the databases it was set up with connect later.
    connections[REPLICA].connect()
    yield connections[REPLICA]
    connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


@pytest.fixture
def admin_client(client):
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    return client


def test_the_evaluation_reads_from_the_replica_and_other_pages_do_not(replica, admin_client):
    with CaptureQueriesContext(replica) as on_replica:
        assert admin_client.get(reverse("evaluation")).status_code == 200
    assert len(on_replica) > 0

    with CaptureQueriesContext(replica) as on_replica:
        assert admin_client.get("/titles/").status_code == 200
    assert len(on_replica) == 0


def test_a_streamed_export_reads_from_the_replica_while_it_streams(replica, admin_client):
    response = admin_client.get(reverse("evaluation-judgments", args=["csv"]))
    with CaptureQueriesContext(replica) as on_replica:
        body = b"".join(response.streaming_content)
    assert body.startswith(b"judgment")
    assert len(on_replica) > 0


def test_writes_go_to_the_primary_even_for_rows_read_from_the_replica(replica):
    Title.objects.create(name="written first")
    with replica_reads():
        title = Title.objects.get(name="written first")
        assert title._state.db == REPLICA
        title.name = "renamed"
        with CaptureQueriesContext(replica) as on_replica:
            title.save()
            Title.objects.create(name="written on the replica's watch")
    assert len(on_replica) == 0
    with CaptureQueriesContext(connections["default"]) as on_primary:
        assert set(Title.objects.values_list("name", flat=True)) == {
            "renamed",
            "written on the replica's watch",
        }
    assert len(on_primary) == 1
