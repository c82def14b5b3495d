"""Back-office page for stored idempotent results: read-only, for support and audits."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from jifen.backoffice.admin_base import ReadOnlyAdmin
from jifen.core.models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "owner",
        "key",
        "state",
        "response_status",
        "created_at",
        "completed_at",
    )
    list_filter = ("state",)
    search_fields = ("=owner", "=key")
    ordering = ("-pk",)
    fields = (
        "owner",
        "key",
        "state",
        "request_hash",
        "response_status",
        "response_content_type",
        "response_size",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields

    @display(description=_("响应大小（字节）"))
    def response_size(self, obj: IdempotencyRecord) -> int:
        return len(obj.response_body or b"")
