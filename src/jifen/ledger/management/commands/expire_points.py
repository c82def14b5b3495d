import datetime as dt

from django.core.management.base import BaseCommand

from jifen.ledger.services import points_expire, points_mature


class Command(BaseCommand):
    help = "Expire lots past their expiry date and make due pending points available."

    def add_arguments(self, parser):
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            help="business day to run as (YYYY-MM-DD); default today",
        )

    def handle(self, *args, today=None, **options):
        matured = points_mature(today=today)
        expired = points_expire(today=today)
        self.stdout.write(f"matured {matured} points; expired {expired} points")
