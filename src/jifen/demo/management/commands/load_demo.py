import os

from django.core.management.base import BaseCommand, CommandError

from jifen.demo.data import SEED, load_demo
from jifen.demo.extras import load_demo_extras
from jifen.ledger.verification import ledger_verify


class Command(BaseCommand):
    help = (
        "Load the demo: members, operators and a year of points history posted through the "
        "ledger services. Safe to run again: it only tops up what is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=300, help="members (default 300)")
        parser.add_argument("--days", type=int, default=365, help="days of history (default 365)")
        parser.add_argument("--seed", type=int, default=SEED, help="random seed")

    def handle(self, *args, members, days, seed, **options):
        if members < 1 or days < 1:
            raise CommandError("--members and --days must be at least 1")
        # The demo's tasks (tier checks, sandbox payment and carrier callbacks) run inline
        # even with a broker configured, so the data is whole when the command ends.
        from jifen.config.celery import app

        eager = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            self._load(members, days, seed)
        finally:
            app.conf.task_always_eager = eager

    def _load(self, members, days, seed):
        self.stdout.write(f"Loading the demo: {members} members, {days} days of history…")
        try:
            result = load_demo(
                members=members, days=days, seed=seed, log=lambda line: self.stdout.write(line)
            )
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        extra_lines = load_demo_extras(log=lambda line: self.stdout.write(line))
        report = ledger_verify()  # again, over the extras' postings too
        if not report.ok:
            raise CommandError(
                "ledger invariants broken:\n" + "\n".join(map(str, report.violations))
            )
        result.report = report
        summary = result.report.summary
        self.stdout.write(
            f"members: {result.members_created} created, {result.members_total} in the demo; "
            f"history {result.start} … {result.end}: {result.days_posted} days posted "
            f"({result.postings} postings), {result.days_skipped} already there"
        )
        self.stdout.write(
            f"ledger: {summary.get('transactions')} transactions, issued {summary.get('issued')}, "
            f"outstanding {summary.get('outstanding')}, redeemed {summary.get('redeemed')}, "
            f"expired {summary.get('expired')}"
        )
        self.stdout.write(self.style.SUCCESS("ledger verified: all invariants hold"))
        self.stdout.write(f"done in {result.seconds:.1f} s\n")
        host = os.environ.get("HOST", "127.0.0.1")
        port = os.environ.get("PORT", "8000")
        url = f"http://{host}:{port}/"
        self.stdout.write(f"Open {url}  (back-office: {url}admin/)")
        for who, login, password in result.logins:
            self.stdout.write(f"  {who:<22} login {login:<18} password {password}")
        for line in extra_lines:
            self.stdout.write(line)
