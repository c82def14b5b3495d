"""Carrier backends: how a carrier's callbacks are verified and read, and (for the sandbox)
how its progress is played. `backend_for(carrier)` picks the backend of a Carrier row."""

from __future__ import annotations

from jifen.shipping.carriers.base import CarrierBackend, SignedJsonCarrier
from jifen.shipping.carriers.sandbox import SandboxCarrier


def backend_for(carrier) -> CarrierBackend:
    """The sandbox backend for sandbox carriers; the signed-JSON protocol otherwise (a real
    carrier's own format gets its own subclass here, chosen by `carrier.code`)."""
    if carrier.is_sandbox:
        return SandboxCarrier()
    return SignedJsonCarrier()


__all__ = ["CarrierBackend", "SandboxCarrier", "SignedJsonCarrier", "backend_for"]
