"""The member page "赚积分": the earning rules in force, in plain words, and the member's
recent purchases with the points each earned and why."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from jifen.integrations.selectors import member_purchases
from jifen.rules.selectors import earning_rules_for_members


@login_required
def earn_page(request):
    purchases = member_purchases(member_id=request.user.pk).select_related("earn_transaction")[:10]
    return render(
        request,
        "rules/earn.html",
        {"rules": earning_rules_for_members(), "purchases": purchases},
    )
