"""Back-office: creating a client shows its secret once; disabling refuses its key."""

from django.urls import reverse

from jifen.integrations.models import ApiClient
from jifen.integrations.signing import derive_secret


def test_create_client_shows_the_secret_once(admin_client, db):
    response = admin_client.post(reverse("admin:integrations_apiclient_add"), {"name": "门店 POS"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("no-store")
    client = ApiClient.objects.get()
    secret = response.context["secret"]
    assert secret == derive_secret(key_id=client.key_id, salt=client.salt)
    assert secret in response.content.decode()
    page = admin_client.get(reverse("admin:integrations_apiclient_change", args=[client.pk]))
    assert secret not in page.content.decode()


def test_disable_and_enable(admin_client, integration):
    url = reverse("admin:integrations_apiclient_disable", args=[integration.obj.pk])
    assert admin_client.post(url).status_code == 302
    assert ApiClient.objects.get().is_active is False
    admin_client.post(reverse("admin:integrations_apiclient_enable", args=[integration.obj.pk]))
    assert ApiClient.objects.get().is_active is True


def test_read_only_pages_render(admin_client, integration, make_member, base_rate):
    make_member(external_id="crm-1")
    integration.post_events(
        {"event_id": "p", "type": "purchase", "order_id": "o", "amount": "5.00", "member": "crm-1"}
    )
    integration.post_events({"event_id": "r", "type": "refund", "order_id": "o"})
    integration.post_events(
        {"event_id": "c", "type": "custom", "name": "shared", "member": "crm-1"}
    )
    for model in ("event", "purchase", "refund", "customaction", "apiclient"):
        listing = admin_client.get(reverse(f"admin:integrations_{model}_changelist"))
        assert listing.status_code == 200, model
    from jifen.integrations.models import Purchase

    detail = admin_client.get(
        reverse("admin:integrations_purchase_change", args=[Purchase.objects.get().pk])
    )
    assert detail.status_code == 200
    assert "消费 ¥5.00 × 1 积分/元 = 5" in detail.content.decode()
