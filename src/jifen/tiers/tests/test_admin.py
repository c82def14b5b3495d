"""Back-office: levels edited through the services' checks, members re-evaluated by hand."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse

from jifen.core import clock
from jifen.tiers.models import Level, MemberTier, TierChange
from jifen.tiers.services import level_check, level_save, tier_notices_send
from jifen.tiers.tests.helpers import earn, level, put_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(make_member) -> Client:
    user = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def _level_form(code, **changes):
    data = {k: ("" if v is None else v) for k, v in model_to_dict(level(code)).items()}
    data.pop("id", None)
    data.update(changes)
    for flag in ("free_shipping", "exclusive_items", "is_active"):
        if not data.get(flag):
            data.pop(flag, None)
    return data


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_pages_render(boss, member):
    put_on(member, "gold", review_on=clock.business_date() + dt.timedelta(days=10))
    earn(member, 100)
    tier_notices_send()
    TierChange.objects.create(
        member=member,
        from_level=level("normal"),
        to_level=level("gold"),
        reason="manual",
        business_date=clock.business_date(),
    )
    row = MemberTier.objects.get(member=member)
    for url in (
        reverse("admin:tiers_level_changelist"),
        reverse("admin:tiers_level_change", args=[level("gold").pk]),
        reverse("admin:tiers_level_add"),
        reverse("admin:tiers_membertier_changelist"),
        reverse("admin:tiers_membertier_changelist") + f"?member={member.member_number}",
        reverse("admin:tiers_membertier_change", args=[row.pk]),
        reverse("admin:tiers_tierchange_changelist"),
        reverse("admin:tiers_tiernotice_changelist"),
    ):
        response = boss.get(url)
        assert response.status_code == 200, url
    html = boss.get(reverse("admin:tiers_level_changelist")).content.decode()
    assert "9.5折" in html and "×1.25" in html


def test_editing_a_level_saves_valid_changes(boss):
    gold = level("gold")
    response = boss.post(
        reverse("admin:tiers_level_change", args=[gold.pk]),
        _level_form("gold", min_points=9000, mall_discount="0.88"),
    )

    assert response.status_code == 302
    gold.refresh_from_db()
    assert (gold.min_points, gold.mall_discount) == (9000, Decimal("0.88"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_points": 1500}, "“金卡”的门槛必须高于“银卡”。"),
        ({"min_points": "", "min_spend": ""}, "“金卡”需要设置积分门槛或消费金额门槛。"),
        ({"mall_discount": "1.20"}, "level_mall_discount_0_1"),
    ],
)
def test_a_level_that_breaks_the_order_is_a_form_error(boss, changes, message):
    before = model_to_dict(level("gold"))

    response = boss.post(
        reverse("admin:tiers_level_change", args=[level("gold").pk]),
        _level_form("gold", **changes),
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert model_to_dict(level("gold")) == before


def test_levels_cannot_be_deleted(boss):
    response = boss.post(
        reverse("admin:tiers_level_delete", args=[level("silver").pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Level.objects.filter(code="silver").exists()


def test_the_last_active_level_cannot_be_deactivated(db):
    Level.objects.exclude(code="normal").update(is_active=False)
    normal = level("normal")
    normal.is_active = False

    from jifen.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as error:
        level_save(level=normal)

    assert error.value.code == "no_active_level"
    assert level("normal").is_active is True


def test_a_new_level_is_checked_against_the_others(db):
    from jifen.core.errors import ValidationFailed

    platinum = Level(code="platinum", name="铂金", rank=4, min_points=20000)

    with pytest.raises(ValidationFailed) as error:
        level_check(level=platinum)

    assert error.value.code == "level_threshold_order"


def test_manual_review_from_the_member_page(boss, member):
    row = put_on(member, "gold", review_on=clock.business_date() + dt.timedelta(days=100))

    response = boss.post(
        reverse("admin:tiers_membertier_review", args=[row.pk]),
        {"_form_submitted": "True"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("admin:tiers_membertier_change", args=[row.pk])
    change = TierChange.objects.get(member=member)
    assert (change.to_level.code, change.reason, change.changed_by) == (
        "silver",
        "manual_review",
        boss.user,
    )


def test_manual_review_of_selected_members(boss, make_member):
    keeps, drops = make_member(), make_member()
    review_on = clock.business_date() + dt.timedelta(days=100)
    rows = [
        put_on(keeps, "silver", review_on=review_on),
        put_on(drops, "gold", review_on=review_on),
    ]
    earn(keeps, 2000)

    response = boss.post(
        reverse("admin:tiers_membertier_changelist"),
        {"action": "review_selected", ACTION_CHECKBOX_NAME: [r.pk for r in rows]},
        follow=True,
    )

    assert response.status_code == 200
    assert MemberTier.objects.get(member=keeps).level.code == "silver"
    assert MemberTier.objects.get(member=drops).level.code == "silver"
    assert TierChange.objects.count() == 1
    texts = _messages(response)
    assert any("等级不变" in t for t in texts)
    assert any("金卡 → 银卡" in t for t in texts)


def test_operators_without_the_permission_cannot_review(make_member, member):
    from django.contrib.auth.models import Permission

    viewer = make_member(email="viewer@example.com", phone=None, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_membertier"))
    row = put_on(member, "gold", review_on=clock.business_date() + dt.timedelta(days=100))
    client = Client()
    client.force_login(viewer)

    response = client.post(
        reverse("admin:tiers_membertier_review", args=[row.pk]), {"_form_submitted": "True"}
    )

    assert response.status_code == 403
    assert TierChange.objects.count() == 0
    assert MemberTier.objects.get(member=member).level.code == "gold"


def test_operator_sets_a_level_from_the_member_page(boss, member):
    row = put_on(member, "silver", review_on=clock.business_date() + dt.timedelta(days=100))
    url = reverse("admin:tiers_membertier_set_level", args=[row.pk])

    dialog = boss.get(url, headers={"HX-Request": "true"})
    assert dialog.status_code == 200 and "钻石" in dialog.content.decode()

    response = boss.post(
        url,
        {"_form_submitted": "True", "level": "diamond", "reason": "年度大客户"},
        headers={"HX-Request": "true"},
    )

    assert response["HX-Redirect"] == reverse("admin:tiers_membertier_change", args=[row.pk])
    change = TierChange.objects.get(member=member)
    assert (change.to_level.code, change.reason, change.explanation, change.changed_by) == (
        "diamond",
        "manual",
        "年度大客户",
        boss.user,
    )


def test_the_level_dialog_refuses_a_missing_reason(boss, member):
    row = put_on(member, "silver", review_on=clock.business_date() + dt.timedelta(days=100))

    response = boss.post(
        reverse("admin:tiers_membertier_set_level", args=[row.pk]),
        {"_form_submitted": "True", "level": "diamond", "reason": ""},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert "HX-Redirect" not in response
    assert TierChange.objects.count() == 0
    assert MemberTier.objects.get(member=member).level.code == "silver"
