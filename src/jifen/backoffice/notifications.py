"""Alerts for the operators who can act on them (low stock, a code pool running dry).

The back-office shows each alert as a sidebar badge; this sends it too, by e-mail through
Django's EMAIL_BACKEND (the console in development), so nobody has to be looking at the
badge. Sent after the transaction that raised the alert commits, by a Celery task, so a
rolled-back change alerts no one and a slow mail server slows no checkout.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def operators_notify(*, subject: str, body: str, permission: str, path: str = "") -> None:
    """Queue an e-mail to the operators allowed to act (active staff holding `permission`,
    and superusers) once the current transaction commits. `path` is a back-office path the
    mail links to. JIFEN_OPERATOR_ALERT_EMAILS (comma-separated) replaces the recipients,
    e.g. with a shared operations mailbox."""
    from jifen.backoffice.tasks import operators_notify_task

    kwargs = {"subject": subject, "body": body, "permission": permission, "path": path}
    transaction.on_commit(lambda: operators_notify_task.delay(**kwargs))


def operator_recipients(permission: str) -> list[str]:
    configured = [
        address.strip()
        for address in getattr(settings, "JIFEN_OPERATOR_ALERT_EMAILS", "").split(",")
        if address.strip()
    ]
    if configured:
        return configured
    from jifen.members.models import User

    staff = User.objects.filter(is_active=True, is_staff=True).exclude(email="")
    return sorted({user.email for user in staff.exclude(email=None) if user.has_perm(permission)})


def operators_send(*, subject: str, body: str, permission: str, path: str = "") -> int:
    """Send the alert now; returns how many recipients it went to (0: nobody to tell)."""
    from django.core.mail import send_mail

    recipients = operator_recipients(permission)
    if not recipients:
        logger.warning("operator alert with no recipient: %s", subject)
        return 0
    if path:
        body = f"{body}\n\n{settings.JIFEN_SITE_URL.rstrip('/')}{path}"
    prefix = getattr(settings, "JIFEN_SITE_NAME", "积分商城")
    send_mail(f"[{prefix}] {subject}", body, None, recipients)
    return len(recipients)
