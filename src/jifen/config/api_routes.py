"""Mounts each app's Ninja router on the API."""

from jifen.config.api import api

# Each domain app contributes `router` in its api.py; add them here as they are built.
ROUTERS: list[tuple[str, str]] = []

for prefix, dotted in ROUTERS:
    module = __import__(dotted, fromlist=["router"])
    api.add_router(prefix, module.router)
