"""Signed requests: good, wrong, stale, unknown or disabled key, replayed body."""

import json
import time

from jifen.integrations.models import ApiClient, Event
from jifen.integrations.services import api_client_set_active
from jifen.integrations.signing import derive_secret, sign
from jifen.ledger.models import Transaction

EVENT = {"event_id": "e-1", "type": "custom", "name": "shared", "member": "crm-1"}


def _crm_member(make_member):
    return make_member(external_id="crm-1")


def test_good_signature_is_accepted(integration, make_member):
    _crm_member(make_member)
    response = integration.post_events(EVENT)
    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    assert Event.objects.filter(event_id="e-1").count() == 1


def test_the_secret_is_not_stored(integration):
    stored = ApiClient.objects.filter(pk=integration.obj.pk).values()[0]
    assert integration.secret not in json.dumps(stored, default=str)
    assert derive_secret(key_id=integration.key_id, salt=stored["salt"]) == integration.secret
    assert stored["secret_hint"] == integration.secret[-4:]


def _refused(response, code):
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


def test_wrong_signature_is_refused(integration, make_member):
    _crm_member(make_member)
    _refused(integration.post_events(EVENT, secret="0" * 64), "invalid_signature")
    assert Event.objects.count() == 0


def test_stale_timestamp_is_refused(integration, make_member):
    _crm_member(make_member)
    _refused(integration.post_events(EVENT, timestamp=int(time.time()) - 301), "stale_timestamp")
    _refused(integration.post_events(EVENT, timestamp=int(time.time()) + 301), "stale_timestamp")
    assert Event.objects.count() == 0


def test_timestamp_within_300_seconds_is_accepted(integration, make_member):
    _crm_member(make_member)
    response = integration.post_events(EVENT, timestamp=int(time.time()) - 290)
    assert response.status_code == 200


def test_non_numeric_timestamp_is_refused(integration):
    _refused(integration.post_events(EVENT, timestamp="12a"), "invalid_timestamp")


def test_unknown_key_is_refused(client, db):
    body = json.dumps(EVENT).encode()
    ts = str(int(time.time()))
    response = client.post(
        "/api/v1/integration/events",
        data=body,
        content_type="application/json",
        HTTP_X_JIFEN_KEY="jk_unknown",
        HTTP_X_JIFEN_TIMESTAMP=ts,
        HTTP_X_JIFEN_SIGNATURE=sign(secret="x", timestamp=ts, body=body),
    )
    _refused(response, "invalid_key")


def test_missing_headers_are_refused(client, db):
    response = client.post(
        "/api/v1/integration/events", data=EVENT, content_type="application/json"
    )
    _refused(response, "signature_required")


def test_disabled_key_is_refused(integration, make_member):
    _crm_member(make_member)
    api_client_set_active(client_id=integration.obj.pk, active=False)
    _refused(integration.post_events(EVENT), "invalid_key")
    assert Event.objects.count() == 0


def test_replayed_body_with_another_signature_is_refused(integration, make_member):
    """A captured body re-sent with a new timestamp cannot carry a valid signature."""
    _crm_member(make_member)
    body = json.dumps({**EVENT, "event_id": "e-2"}).encode()
    old_ts = str(int(time.time()) - 10)
    captured = sign(secret=integration.secret, timestamp=old_ts, body=body)
    new_ts = str(int(time.time()))
    response = integration.http.post(
        "/api/v1/integration/events",
        data=body,
        content_type="application/json",
        HTTP_X_JIFEN_KEY=integration.key_id,
        HTTP_X_JIFEN_TIMESTAMP=new_ts,
        HTTP_X_JIFEN_SIGNATURE=captured,
    )
    _refused(response, "invalid_signature")
    # A tampered body under a captured signature is refused as well.
    tampered = body.replace(b"shared", b"survey")
    response = integration.http.post(
        "/api/v1/integration/events",
        data=tampered,
        content_type="application/json",
        HTTP_X_JIFEN_KEY=integration.key_id,
        HTTP_X_JIFEN_TIMESTAMP=old_ts,
        HTTP_X_JIFEN_SIGNATURE=captured,
    )
    _refused(response, "invalid_signature")
    assert Event.objects.count() == 0
    assert Transaction.objects.count() == 0


def test_another_clients_secret_does_not_sign(integration, make_member):
    from jifen.integrations.services import api_client_create

    _crm_member(make_member)
    _other, other_secret = api_client_create(name="POS")
    _refused(integration.post_events(EVENT, secret=other_secret), "invalid_signature")


def test_rotated_secret_key_keeps_clients_working(integration, make_member, settings):
    _crm_member(make_member)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-" + "y" * 40
    settings.SECRET_KEY_FALLBACKS = [old]
    assert integration.post_events(EVENT).status_code == 200


def test_idempotency_key_is_scoped_to_the_client(integration, make_member):
    from jifen.core.models import IdempotencyRecord

    _crm_member(make_member)
    first = integration.post_events(EVENT, headers={"Idempotency-Key": "k1"})
    again = integration.post_events(EVENT, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    record = IdempotencyRecord.objects.get()
    assert record.owner == f"client:{integration.obj.pk}"


def test_create_api_client_command_prints_key_and_secret_once(db, capsys):
    from django.core.management import call_command

    call_command("create_api_client", "POS 门店")
    out = capsys.readouterr().out
    key_id = out.split("key_id: ")[1].split()[0]
    secret = out.split("secret: ")[1].split()[0]
    client = ApiClient.objects.get(key_id=key_id)
    assert client.name == "POS 门店"
    assert derive_secret(key_id=key_id, salt=client.salt) == secret
