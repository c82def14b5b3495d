"""The sandbox carrier (沙箱物流): a carrier that exists only to be played.

It speaks the Jifen carrier protocol (SignedJsonCarrier), and can produce the next step of
a parcel's journey — shipped → in transit → out for delivery → delivered (an exception
resumes in transit) — as a real signed callback, which the back-office's "模拟物流进度"
sends through the same handler as a carrier's POST (jifen.shipping.services.callback_handle).
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jifen.shipping.carriers.base import SignedJsonCarrier

# status now → (next status, what the carrier says, where)
STEPS = {
    "shipped": ("in_transit", _("快件已到达【上海转运中心】，正发往下一站"), _("上海")),
    "exception": ("in_transit", _("快件已恢复运输"), _("上海")),
    "in_transit": ("out_for_delivery", _("快递员正在派送，请保持电话畅通"), _("目的地网点")),
    "out_for_delivery": ("delivered", _("已签收，签收人：本人。感谢使用沙箱物流"), _("目的地网点")),
}


class SandboxCarrier(SignedJsonCarrier):
    def next_event(self, shipment) -> dict | None:
        """The event that moves `shipment` one step on, or None once it is delivered. Its
        time is now, and never before the shipment's latest event."""
        step = STEPS.get(shipment.status)
        if step is None:
            return None
        status, description, location = step
        moment = max(timezone.now(), shipment.last_event_at + timezone.timedelta(seconds=1))
        return {
            "status": status,
            "description": str(description),
            "location": str(location),
            "occurred_at": moment.replace(microsecond=0).isoformat(),
        }
