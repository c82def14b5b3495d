import datetime as dt

import pytest
from django.urls import reverse

from jifen.ledger.services import points_spend, points_transfer


def test_home_requires_login(client, db):
    response = client.get(reverse("web:home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_home_shows_balances_expiry_member_number_and_recent_rows(alice_client, alice, earn):
    earn(alice, 300, pending_until=dt.date(2099, 1, 1))
    points_spend(
        member_id=alice.pk, points=200, purpose="mall", reference="s1", explanation="兑换 咖啡券"
    )

    response = alice_client.get(reverse("web:home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["summary"]["available"] == 1800
    assert response.context["summary"]["pending"] == 300
    assert response.context["summary"]["held"] == 0
    assert '<p class="balance-value" data-testid="available">1,800' in html
    assert '<dd data-testid="pending">300</dd>' in html
    assert "1,000 积分将于 2026-12-31 过期" in html
    assert alice.member_number in html
    assert [row.title for row in response.context["rows"]] == [
        "积分兑换",
        "获得积分",
        "获得积分",
        "获得积分",
    ]
    assert "\u2212200" in html and "+1,200" in html
    assert "兑换 咖啡券" in html


def test_home_in_english(alice_client):
    response = alice_client.get(reverse("web:home"), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert "1,200 points expire on 2026-12-31" in html
    assert "Available points" in html
    assert '<html lang="en">' in html


def test_language_switch_sets_the_language(alice_client):
    response = alice_client.post(
        "/i18n/setlang/", {"language": "en", "next": reverse("web:history")}
    )
    assert response.status_code == 302
    assert response.url == reverse("web:history")
    page = alice_client.get(reverse("web:history")).content.decode()
    assert "Points history" in page
    assert 'value="en" lang="en" aria-pressed="true"' in page


def test_history_filters_by_kind(alice_client, alice, bob, earn):
    earn(bob, 100)
    points_transfer(sender_id=bob.pk, recipient_id=alice.pk, points=30, reference="t1")
    points_spend(member_id=alice.pk, points=50, purpose="mall", reference="s1")

    everything = alice_client.get(reverse("web:history"))
    transfers = alice_client.get(reverse("web:history"), {"kind": "transfer"})

    assert everything.context["total"] == 4
    assert [row.kind for row in everything.context["rows"]] == ["spend", "transfer", "earn", "earn"]
    assert transfers.context["total"] == 1
    (row,) = transfers.context["rows"]
    assert (row.title, row.points) == ("收到 李华 的转赠", 30)
    assert 'aria-current="true" data-kind="transfer"' in transfers.content.decode()


def test_history_htmx_request_gets_the_partial(alice_client):
    response = alice_client.get(
        reverse("web:history"),
        {"kind": "earn"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="history-panel",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.count('class="row"') == 2
    assert "HX-Request" in response["Vary"]


def test_history_paginates(alice_client, alice, earn):
    for _ in range(18):
        earn(alice, 1)  # 20 rows in all, 15 a page

    first = alice_client.get(reverse("web:history"))
    second = alice_client.get(reverse("web:history"), {"page": 2})

    assert len(first.context["rows"]) == 15
    assert (first.context["pages"], first.context["next_page"]) == (2, 2)
    assert len(second.context["rows"]) == 5
    assert second.context["previous_page"] == 1 and second.context["next_page"] is None
    assert "第 2 / 2 页" in second.content.decode()


@pytest.mark.parametrize("query", [{"kind": "bogus"}, {"page": "abc"}, {"page": "-1"}])
def test_history_ignores_bad_filters(alice_client, query):
    response = alice_client.get(reverse("web:history"), query)
    assert response.status_code == 200
    assert response.context["total"] == 2
    assert response.context["kind"] == ""


def test_history_page_past_the_end_is_empty(alice_client):
    response = alice_client.get(reverse("web:history"), {"page": 9})
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "暂无记录" in response.content.decode()


@pytest.mark.parametrize(
    "name, args",
    [
        ("web:home", []),
        ("web:history", []),
        ("web:transfer", []),
        ("web:transfer_done", []),
        ("web:profile", []),
        ("web:addresses", []),
        ("web:address_add", []),
        ("web:address_edit", [1]),
    ],
)
def test_every_member_page_needs_login(client, db, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login") + "?next=")


@pytest.mark.parametrize(
    "name, args",
    [("web:transfer_confirm", []), ("web:address_delete", [1]), ("web:address_default", [1])],
)
def test_posts_need_login_and_change_nothing(client, alice, name, args):
    from jifen.ledger.models import Transaction

    before = Transaction.objects.count()
    response = client.post(reverse(name, args=args), {"token": "x"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert Transaction.objects.count() == before


def test_home_of_a_new_member_has_an_empty_history(client, make_member):
    member = make_member()
    client.force_login(member)
    response = client.get(reverse("web:home"))
    html = response.content.decode()
    summary = response.context["summary"]
    assert (summary["available"], summary["pending"], summary["held"]) == (0, 0, 0)
    assert summary["next_expiry"] is None
    assert "还没有积分记录。" in html
    assert 'data-testid="next-expiry"' not in html


def test_home_quick_links_are_eight_existing_pages(alice_client):
    from django.urls import reverse as url

    links = alice_client.get(reverse("web:home")).context["quick_links"]

    assert len(links) == 8
    urls = [link["url"] for link in links]
    assert url("engagement:checkin") in urls and url("web:transfer") in urls
    for link in links:
        assert alice_client.get(link["url"]).status_code == 200


def test_nav_links_the_mall_when_it_exists(alice_client):
    from django.urls import NoReverseMatch

    html = alice_client.get(reverse("web:home")).content.decode()
    try:
        mall = reverse("catalog:home")
    except NoReverseMatch:
        mall = None
    if mall:
        assert html.count(f'href="{mall}"') >= 3  # top nav, tab bar, quick link
