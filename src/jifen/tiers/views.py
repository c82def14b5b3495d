"""The member's tier page: level card, progress to the next level, benefits, notice."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from jifen.tiers.selectors import tier_history, tier_progress, window_months


@login_required
def tier_page(request):
    progress = tier_progress(request.user.pk)
    return render(
        request,
        "tiers/tier.html",
        {
            "progress": progress,
            "tier": progress.tier,
            "changes": tier_history(request.user.pk, limit=10),
            "window_months": window_months(),
            "currency": settings.JIFEN_CURRENCY,
            "nav": "tier",
        },
    )
