from celery import shared_task

from jifen.backoffice.notifications import operators_send


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def operators_notify_task(*, subject: str, body: str, permission: str, path: str = "") -> int:
    """E-mail an operator alert (see jifen.backoffice.notifications); a mail server that
    is down is retried with backoff."""
    return operators_send(subject=subject, body=body, permission=permission, path=path)
