import pytest

from jifen.members.selectors import member_find_by_login

pytestmark = pytest.mark.django_db


def test_find_by_phone_email_or_member_number(make_member):
    m = make_member(phone="13912345678", email="Li.Hua@Example.com")
    assert member_find_by_login("13912345678") == m
    assert member_find_by_login(" 139-1234-5678 ") == m
    assert member_find_by_login("li.hua@example.com") == m
    assert member_find_by_login(m.member_number) == m


def test_a_phone_wins_over_a_member_number_with_the_same_digits(make_member):
    first = make_member()
    other = make_member(phone=first.member_number)
    assert member_find_by_login(first.member_number) == other


@pytest.mark.parametrize("identifier", ["", "  ", "139\x00", "x" * 300, "nobody@example.com"])
def test_nothing_found_for_bad_or_unknown_identifiers(member, identifier):
    assert member_find_by_login(identifier) is None
