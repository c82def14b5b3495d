"""Events reach the tasks (engagement) and referrals apps, once, without failing the event."""

import pytest

from jifen.integrations.models import Event
from jifen.ledger.models import Account, Transaction


@pytest.fixture
def crm(make_member):
    return make_member(external_id="crm-1")


def _task(action, points, **extra):
    from jifen.engagement.models import Task

    return Task.objects.create(
        code=f"t-{action}",
        title=action,
        evidence=Task.Evidence.EVENT,
        action=action,
        points=points,
        period=Task.Period.DAY,
        cap=1,
        **extra,
    )


def _available(member):
    return Account.objects.get(member=member).available


def test_custom_action_completes_its_task_once(integration, crm):
    _task("review_posted", 20)
    body = {"event_id": "c-1", "type": "custom", "name": "review_posted", "member": "crm-1"}
    for _ in range(3):
        assert integration.post_events(body).status_code == 200
    assert _available(crm) == 20
    assert Transaction.objects.filter(kind="earn").count() == 1


def test_purchase_completes_a_purchase_task(integration, crm, base_rate):
    _task("purchase", 5)
    body = {
        "event_id": "p-1",
        "type": "purchase",
        "order_id": "o-1",
        "amount": "10.00",
        "member": "crm-1",
    }
    integration.post_events(body)
    assert _available(crm) == 15


def test_a_failing_hook_does_not_fail_the_event(integration, crm, monkeypatch):
    from jifen.core.errors import ValidationFailed
    from jifen.engagement import services as engagement

    def refuse(**kwargs):
        raise ValidationFailed("no", code="invalid_details")

    monkeypatch.setattr(engagement, "task_action_record", refuse)
    body = {"event_id": "c-1", "type": "custom", "name": "shared", "member": "crm-1"}
    response = integration.post_events(body)
    assert response.status_code == 200
    assert Event.objects.count() == 1


def test_a_purchase_rewards_the_referral_and_a_full_refund_takes_it_back(
    integration, make_member, base_rate
):
    from jifen.referrals import services as referrals
    from jifen.referrals.models import Referral

    referrer = make_member(name="王小明")
    code = referrals.invite_code_ensure(member_id=referrer.pk).code
    referrals.referral_program_update(data={"trigger": "purchase", "referrer_points": 80})
    invitee = make_member(external_id="crm-2")
    referrals.referral_register(invitee=invitee, invite_code=code)
    purchase = {
        "event_id": "p-1",
        "type": "purchase",
        "order_id": "o-1",
        "amount": "10.00",
        "member": "crm-2",
    }
    integration.post_events(purchase)
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.REWARDED
    assert referral.order_reference == f"int:{integration.obj.pk}:order:o-1"
    assert _available(referrer) == 80
    integration.post_events(
        {"event_id": "r-1", "type": "refund", "order_id": "o-1", "amount": "5.00"}
    )
    assert Referral.objects.get().status == Referral.Status.REWARDED  # partly refunded
    integration.post_events({"event_id": "r-2", "type": "refund", "order_id": "o-1"})
    assert Referral.objects.get().status == Referral.Status.REVERSED
    assert _available(referrer) == 0
