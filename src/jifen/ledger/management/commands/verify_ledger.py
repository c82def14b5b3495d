from django.core.management.base import BaseCommand, CommandError

from jifen.ledger.verification import ledger_verify


class Command(BaseCommand):
    help = "Check the ledger invariants (I1–I3, I5 and any registered checks) over the database."

    def handle(self, *args, **options):
        report = ledger_verify()
        for name, value in report.summary.items():
            self.stdout.write(f"{name}: {value}")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("ledger verified: all invariants hold"))
            return
        for violation in report.violations:
            self.stderr.write(str(violation))
        raise CommandError(f"{len(report.violations)} invariant violation(s)")
