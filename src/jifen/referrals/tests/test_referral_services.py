"""referral_register, referral_purchase_qualify, referral_review, caps and flags."""

import datetime as dt

import pytest
from django.utils import timezone

from jifen.core.errors import Conflict, PermissionDenied, ValidationFailed
from jifen.ledger.models import Account, Transaction
from jifen.ledger.services import balances_of
from jifen.members.models import Address, User
from jifen.referrals import services
from jifen.referrals.alphabet import ALPHABET
from jifen.referrals.models import Fingerprint, InviteCode, Referral, ReferrerMonth
from jifen.referrals.selectors import referral_program, referral_rows, referral_stats

pytestmark = pytest.mark.django_db


def available(member) -> int:
    return balances_of(member.pk)["available"]


def test_invite_code_is_eight_unambiguous_symbols_and_stable(member):
    first = services.invite_code_ensure(member_id=member.pk)
    again = services.invite_code_ensure(member_id=member.pk)

    assert first.pk == again.pk and first.code == again.code
    assert len(first.code) == 8 and set(first.code) <= set(ALPHABET)
    assert not set(first.code) & set("01OI")


def test_registration_with_a_code_rewards_both(referrer, invite_code, make_member):
    invitee = make_member(name="李华")

    referral = services.referral_register(invitee=invitee, invite_code=invite_code.lower())

    assert referral.status == Referral.Status.REWARDED
    assert (referral.referrer_points, referral.invitee_points) == (50, 50)
    assert available(referrer) == 50 and available(invitee) == 50
    assert set(
        Transaction.objects.filter(details__referral=referral.pk).values_list(
            "reference", flat=True
        )
    ) == {f"referral:{referral.pk}:referrer", f"referral:{referral.pk}:invitee"}
    assert InviteCode.objects.get(member=referrer).rewarded_total == 1


def test_a_second_call_for_the_same_invitee_changes_nothing(referrer, invite_code, make_member):
    invitee = make_member()
    first = services.referral_register(invitee=invitee, invite_code=invite_code)

    again = services.referral_register(invitee=invitee, invite_code=invite_code)

    assert again.pk == first.pk
    assert Referral.objects.count() == 1
    assert available(referrer) == 50 and available(invitee) == 50


def test_no_code_or_disabled_program_does_nothing(referrer, invite_code, make_member):
    invitee = make_member()
    assert services.referral_register(invitee=invitee, invite_code="") is None
    assert services.referral_register(invitee=invitee, invite_code=None) is None
    services.referral_program_update(data={"enabled": False})

    assert services.referral_register(invitee=invitee, invite_code=invite_code) is None
    assert Referral.objects.count() == 0 and available(referrer) == 0


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("ABC", "invalid_invite_code"),
        ("ZZZZZZZZ", "invalid_invite_code"),
        ("0000OOOO", "invalid_invite_code"),
    ],
)
def test_unknown_or_malformed_code_is_refused(referrer, invite_code, make_member, typed, code):
    invitee = make_member()

    with pytest.raises(ValidationFailed) as error:
        services.referral_register(invitee=invitee, invite_code=typed)

    assert error.value.code == code and "invite_code" in error.value.fields
    assert Referral.objects.count() == 0 and available(referrer) == 0


def test_own_code_is_refused(referrer, invite_code):
    with pytest.raises(ValidationFailed) as error:
        services.referral_register(invitee=referrer, invite_code=invite_code)

    assert error.value.code == "own_invite_code"
    assert Referral.objects.count() == 0 and available(referrer) == 0


def test_code_of_a_closed_member_is_unknown(referrer, invite_code, make_member):
    User.objects.filter(pk=referrer.pk).update(closed_at=timezone.now())

    with pytest.raises(ValidationFailed):
        services.referral_register(invitee=make_member(), invite_code=invite_code)
    assert Referral.objects.count() == 0


def test_an_existing_member_is_not_rewarded(referrer, invite_code, make_member):
    old = make_member()
    User.objects.filter(pk=old.pk).update(date_joined=timezone.now() - dt.timedelta(days=2))
    old.refresh_from_db()

    referral = services.referral_register(invitee=old, invite_code=invite_code)

    assert referral.status == Referral.Status.REFUSED
    assert referral.reason == Referral.Reason.EXISTING_MEMBER
    assert available(referrer) == 0 and available(old) == 0


def test_a_loop_is_not_rewarded(referrer, invite_code, make_member):
    b = make_member()
    services.referral_register(invitee=b, invite_code=invite_code)  # A invites B
    c = make_member()
    services.referral_register(
        invitee=c, invite_code=services.invite_code_ensure(member_id=b.pk).code
    )  # B invites C
    # A (the root, joined today) registers C's code: A→B→C→A.
    referral = services.referral_register(
        invitee=referrer, invite_code=services.invite_code_ensure(member_id=c.pk).code
    )

    assert referral.status == Referral.Status.REFUSED
    assert referral.reason == Referral.Reason.LOOP
    assert available(referrer) == 50  # from inviting B only
    assert available(c) == 50  # C's welcome points only, nothing for "inviting" A


def test_direct_loop_b_invites_a(referrer, invite_code, make_member):
    b = make_member()
    services.referral_register(invitee=b, invite_code=invite_code)

    referral = services.referral_register(
        invitee=referrer, invite_code=services.invite_code_ensure(member_id=b.pk).code
    )

    assert (referral.status, referral.reason) == ("refused", "loop")
    assert available(b) == 50 and available(referrer) == 50


def test_shared_device_goes_to_review_then_approval_pays(
    referrer, invite_code, make_member, operator
):
    services.fingerprint_record(member_id=referrer.pk, ip="10.0.0.1", device="device-abcdefgh-1")
    invitee = make_member()

    referral = services.referral_register(
        invitee=invitee, invite_code=invite_code, ip="10.0.0.9", device="device-abcdefgh-1"
    )

    assert referral.status == Referral.Status.REVIEW and referral.flags == ["same_device"]
    assert available(referrer) == 0 and available(invitee) == 0

    approved = services.referral_review(referral_id=referral.pk, approve=True, reviewed_by=operator)

    assert approved.status == Referral.Status.REWARDED and approved.reviewed_by == operator
    assert available(referrer) == 50 and available(invitee) == 50


def test_shared_ip_rejected_pays_nothing(referrer, invite_code, make_member, operator):
    services.fingerprint_record(member_id=referrer.pk, ip="10.0.0.1")
    invitee = make_member()
    referral = services.referral_register(invitee=invitee, invite_code=invite_code, ip="10.0.0.1")
    assert referral.flags == ["same_ip"]

    rejected = services.referral_review(
        referral_id=referral.pk, approve=False, reviewed_by=operator
    )

    assert rejected.status == Referral.Status.REJECTED
    assert available(referrer) == 0 and available(invitee) == 0
    with pytest.raises(Conflict):
        services.referral_review(referral_id=referral.pk, approve=True, reviewed_by=operator)
    assert available(referrer) == 0


def test_phone_in_referrers_addresses_is_flagged(referrer, invite_code, make_member):
    Address.objects.create(
        member=referrer, recipient="王", phone="13911112222", province="京", city="京", detail="x"
    )
    invitee = make_member(phone="13911112222")

    referral = services.referral_register(invitee=invitee, invite_code=invite_code)

    assert referral.status == "review" and referral.flags == ["same_phone"]


def test_invitees_sharing_a_device_are_flagged(referrer, invite_code, make_member):
    first = services.referral_register(
        invitee=make_member(), invite_code=invite_code, device="farm-device-0001"
    )
    second = services.referral_register(
        invitee=make_member(), invite_code=invite_code, device="farm-device-0001"
    )

    assert first.status == "rewarded" and first.flags == []
    assert second.status == "review" and second.flags == ["shared_with_invitee"]
    assert Fingerprint.objects.filter(kind="device").count() == 2  # hashed, one per member


def test_review_refuses_non_staff_parties_and_wrong_state(referrer, invite_code, make_member):
    services.fingerprint_record(member_id=referrer.pk, ip="10.0.0.1")
    invitee = make_member()
    referral = services.referral_register(invitee=invitee, invite_code=invite_code, ip="10.0.0.1")

    with pytest.raises(PermissionDenied):
        services.referral_review(referral_id=referral.pk, approve=True, reviewed_by=referrer)
    staff_referrer = referrer
    User.objects.filter(pk=referrer.pk).update(is_staff=True)
    staff_referrer.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.referral_review(referral_id=referral.pk, approve=True, reviewed_by=staff_referrer)
    assert Referral.objects.get(pk=referral.pk).status == "review"
    assert available(referrer) == 0


def test_purchase_trigger_waits_for_the_first_purchase(referrer, invite_code, make_member):
    services.referral_program_update(data={"trigger": "purchase", "referrer_points": 80})
    invitee = make_member()

    referral = services.referral_register(invitee=invitee, invite_code=invite_code)
    assert referral.status == Referral.Status.PENDING and available(invitee) == 0

    done = services.referral_purchase_qualify(member_id=invitee.pk, order_reference="order-1")
    again = services.referral_purchase_qualify(member_id=invitee.pk, order_reference="order-2")

    assert done.status == Referral.Status.REWARDED and done.order_reference == "order-1"
    assert again.order_reference == "order-1"
    assert available(referrer) == 80 and available(invitee) == 50


def test_purchase_by_someone_not_invited_is_ignored(member):
    assert services.referral_purchase_qualify(member_id=member.pk, order_reference="o") is None


def test_purchase_qualify_needs_an_order_reference(member):
    with pytest.raises(ValidationFailed):
        services.referral_purchase_qualify(member_id=member.pk, order_reference="")


def test_monthly_cap_stops_the_referrer_reward_but_not_the_invitees(
    referrer, invite_code, make_member
):
    services.referral_program_update(data={"monthly_cap": 2})
    invitees = [make_member() for _ in range(3)]

    results = [services.referral_register(invitee=i, invite_code=invite_code) for i in invitees]

    assert [r.referrer_points for r in results] == [50, 50, 0]
    assert results[2].reason == Referral.Reason.CAPPED
    assert available(referrer) == 100
    assert [available(i) for i in invitees] == [50, 50, 50]
    assert ReferrerMonth.objects.get(referrer=referrer).rewarded == 2
    assert InviteCode.objects.get(member=referrer).rewarded_total == 2


def test_lifetime_cap(referrer, invite_code, make_member):
    services.referral_program_update(data={"lifetime_cap": 1})
    results = [
        services.referral_register(invitee=make_member(), invite_code=invite_code) for _ in range(2)
    ]
    assert [r.referrer_points for r in results] == [50, 0]
    assert available(referrer) == 50


def test_program_update_validates(referrer):
    before = referral_program()
    with pytest.raises(ValidationFailed) as error:
        services.referral_program_update(
            data={"referrer_points": -1, "invitee_points": 1.5, "trigger": "x", "enabled": "yes"}
        )
    assert set(error.value.fields) == {"referrer_points", "invitee_points", "trigger", "enabled"}
    after = referral_program()
    assert (after.referrer_points, after.invitee_points, after.trigger, after.enabled) == (
        before.referrer_points,
        before.invitee_points,
        before.trigger,
        before.enabled,
    )


def test_zero_invitee_points_pays_only_the_referrer(referrer, invite_code, make_member):
    services.referral_program_update(data={"invitee_points": 0})
    invitee = make_member()
    referral = services.referral_register(invitee=invitee, invite_code=invite_code)
    assert referral.status == "rewarded" and available(invitee) == 0 and available(referrer) == 50


def test_rows_are_masked_and_stats_add_up(referrer, invite_code, make_member):
    services.referral_register(invitee=make_member(name="张三丰"), invite_code=invite_code)
    services.referral_register(
        invitee=make_member(name="", phone="13712345678"), invite_code=invite_code
    )

    rows, count = referral_rows(referrer_id=referrer.pk)

    assert count == 2
    assert [row.invitee for row in rows] == ["137****5678", "*三丰"]
    assert referral_stats(referrer_id=referrer.pk) == {
        "invited": 2,
        "rewarded": 2,
        "waiting": 0,
        "points": 100,
    }


def test_a_device_already_used_by_another_account_is_flagged(referrer, invite_code, make_member):
    stranger = make_member()
    services.fingerprint_record(member_id=stranger.pk, device="second-phone-0001")

    referral = services.referral_register(
        invitee=make_member(), invite_code=invite_code, device="second-phone-0001"
    )

    assert referral.status == "review" and referral.flags == ["known_device"]


def test_flagged_with_purchase_trigger_waits_then_goes_to_review(
    referrer, invite_code, make_member
):
    services.referral_program_update(data={"trigger": "purchase"})
    services.fingerprint_record(member_id=referrer.pk, ip="10.4.4.4")
    invitee = make_member()

    referral = services.referral_register(invitee=invitee, invite_code=invite_code, ip="10.4.4.4")
    assert referral.status == "pending" and referral.flags == ["same_ip"]

    referral = services.referral_purchase_qualify(member_id=invitee.pk, order_reference="o-9")

    assert referral.status == "review" and referral.order_reference == "o-9"
    assert available(referrer) == 0 and available(invitee) == 0


def test_closed_referrer_gets_nothing_when_the_reward_comes(referrer, invite_code, make_member):
    services.referral_program_update(data={"trigger": "purchase"})
    invitee = make_member()
    services.referral_register(invitee=invitee, invite_code=invite_code)
    User.objects.filter(pk=referrer.pk).update(closed_at=timezone.now())

    referral = services.referral_purchase_qualify(member_id=invitee.pk, order_reference="o-1")

    assert referral.status == "rewarded" and referral.referrer_points == 0
    assert available(referrer) == 0 and available(invitee) == 50


def test_refund_of_the_qualifying_purchase_takes_the_reward_back(
    referrer, invite_code, make_member
):
    from jifen.ledger.services import points_spend

    services.referral_program_update(data={"trigger": "purchase"})
    invitee = make_member()
    services.referral_register(invitee=invitee, invite_code=invite_code)
    services.referral_purchase_qualify(member_id=invitee.pk, order_reference="order-7")
    points_spend(member_id=invitee.pk, points=30, purpose="mall", reference="s-1")

    assert services.referral_purchase_refund(member_id=invitee.pk, order_reference="other") is None
    referral = services.referral_purchase_refund(member_id=invitee.pk, order_reference="order-7")
    again = services.referral_purchase_refund(member_id=invitee.pk, order_reference="order-7")

    assert referral.status == again.status == Referral.Status.REVERSED
    assert referral.reason == Referral.Reason.REFUNDED
    assert available(referrer) == 0
    assert balances_of(invitee.pk)["available"] == 0
    assert Account.objects.get(member=invitee).debt == 30  # the points spent are owed
    assert Transaction.objects.filter(kind="reversal").count() == 2
    assert referral_stats(referrer_id=referrer.pk)["points"] == 0
    assert referral_rows(referrer_id=referrer.pk)[0][0].points == 0
    # The cap keeps counting the invitee: a buy-refund cycle frees no place.
    assert InviteCode.objects.get(member=referrer).rewarded_total == 1


def test_refund_while_in_review_refuses_the_referral(referrer, invite_code, make_member, operator):
    services.referral_program_update(data={"trigger": "purchase"})
    services.fingerprint_record(member_id=referrer.pk, ip="10.5.5.5")
    invitee = make_member()
    services.referral_register(invitee=invitee, invite_code=invite_code, ip="10.5.5.5")
    services.referral_purchase_qualify(member_id=invitee.pk, order_reference="o-1")

    referral = services.referral_purchase_refund(member_id=invitee.pk, order_reference="o-1")

    assert (referral.status, referral.reason) == ("refused", "refunded")
    with pytest.raises(Conflict):
        services.referral_review(referral_id=referral.pk, approve=True, reviewed_by=operator)
    assert available(referrer) == 0 and available(invitee) == 0
