import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from jifen.core.errors import DomainError
from jifen.members.selectors import member_find_by_login
from jifen.tiers.services import (
    tier_birthday_gifts,
    tier_notices_send,
    tier_review,
    tiers_review_due,
)


class Command(BaseCommand):
    help = (
        "Re-evaluate member tiers: send downgrade notices, review members whose review date "
        "has come, post birthday gifts. With --member, review that member now."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            help="business day to run as (YYYY-MM-DD); default today",
        )
        parser.add_argument(
            "--member", help="phone, e-mail or member number: review this member at once"
        )

    def handle(self, *args, today=None, member=None, **options):
        if member:
            user = member_find_by_login(member)
            if user is None:
                raise CommandError(f"no member {member!r}")
            try:
                change = tier_review(member_id=user.pk, today=today, manual=True)
            except DomainError as error:
                raise CommandError(error.message) from None
            if change is None:
                self.stdout.write(f"member {user.member_number}: level kept")
            else:
                self.stdout.write(
                    f"member {user.member_number}: {change.from_level} → {change.to_level}"
                )
            return
        notices = tier_notices_send(today=today)
        changed = tiers_review_due(today=today)
        gifts = tier_birthday_gifts(today=today)
        self.stdout.write(f"notices {notices}; levels changed {changed}; birthday gifts {gifts}")
