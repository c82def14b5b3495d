"""The member's tier page /tiers/."""

import datetime as dt

import pytest
from django.urls import reverse

from jifen.core import clock
from jifen.tiers.services import tier_evaluate, tier_notices_send
from jifen.tiers.templatetags.tiers_tags import money, times, zhe
from jifen.tiers.tests.helpers import earn, put_on

pytestmark = pytest.mark.django_db


def test_the_page_shows_level_progress_with_exact_numbers_and_benefits(client, member):
    earn(member, 2500)
    tier_evaluate(member_id=member.pk)
    client.force_login(member)

    response = client.get(reverse("tiers:home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="tier-name"' in html and "银卡" in html
    assert "2,500 / 8,000" in html
    assert "还差 5,500 积分" in html
    assert "9.5折" in html
    assert "普通 → 银卡" in html
    review_on = response.context["tier"].review_on
    assert review_on.strftime("%Y-%m-%d") in html


def test_the_page_shows_a_pending_notice(client, member):
    review_on = clock.business_date() + dt.timedelta(days=15)
    put_on(member, "gold", review_on=review_on)
    earn(member, 7000)
    tier_notices_send()
    client.force_login(member)

    html = client.get(reverse("tiers:home")).content.decode()

    assert 'data-testid="tier-notice"' in html
    assert f"{review_on:%Y-%m-%d} 等级评定后，您的金卡将调整为银卡。" in html
    assert "评定前再获得 1,000 积分，或再消费 ¥8,000.00，即可保级。" in html


def test_the_top_level_says_so(client, member):
    put_on(member, "diamond", review_on=clock.business_date() + dt.timedelta(days=300))
    client.force_login(member)

    html = client.get(reverse("tiers:home")).content.decode()

    assert "已是最高等级" in html
    assert 'data-testid="points-progress"' not in html


def test_the_page_needs_a_login(client):
    response = client.get(reverse("tiers:home"))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_display_filters():
    from decimal import Decimal

    assert (zhe(Decimal("0.95")), zhe(Decimal("0.90")), zhe(Decimal("1.00"))) == (
        "9.5折",
        "9折",
        "无折扣",
    )
    assert (times(Decimal("1.25")), times(Decimal("2.00"))) == ("×1.25", "×2")
    assert (money(Decimal("8000")), money(None)) == ("8,000.00", "—")
