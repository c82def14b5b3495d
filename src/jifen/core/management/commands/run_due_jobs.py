from django.core.management.base import BaseCommand

from jifen.core.periodic import jobs_run_due


class Command(BaseCommand):
    help = (
        "Run the periodic jobs (CELERY_BEAT_SCHEDULE) that are due, once, in this process: "
        "for installations without Redis and Celery beat (make serve runs it every minute)."
    )

    def handle(self, *args, **options):
        results = jobs_run_due()
        for name, result in results.items():
            self.stdout.write(f"{name}: {result}")
        if any(result != "ok" for result in results.values()):
            raise SystemExit(1)
