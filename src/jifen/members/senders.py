"""Where one-time codes go. Production plugs in an SMS gateway with the same interface."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

logger = logging.getLogger("jifen.codes")


class ConsoleSender:
    """Development sender: prints the message (and keeps it for tests)."""

    outbox: list[tuple[str, str]] = []

    def send(self, recipient: str, message: str) -> None:
        self.outbox.append((recipient, message))
        print(f"[jifen code] to {recipient}: {message}", flush=True)  # noqa: T201


class EmailSender:
    """Sends codes for e-mail recipients by Django's mail backend."""

    def send(self, recipient: str, message: str) -> None:
        send_mail(settings.JIFEN_SITE_NAME, message, None, [recipient])


def code_sender():
    return import_string(settings.JIFEN_CODE_SENDER)()
