"""Fixtures for the integration API: a client with its secret, and signed requests."""

import json
import time
from dataclasses import dataclass

import pytest

from jifen.integrations.signing import sign


@dataclass
class Signed:
    """Signed requests from one integration client through Django's test client."""

    http: object
    key_id: str
    secret: str
    obj: object

    def request(
        self, method, path, data=None, *, raw=None, timestamp=None, secret=None, headers=None
    ):
        body = raw if raw is not None else (b"" if data is None else json.dumps(data).encode())
        ts = str(int(time.time()) if timestamp is None else timestamp)
        extra = {
            "HTTP_X_JIFEN_KEY": self.key_id,
            "HTTP_X_JIFEN_TIMESTAMP": ts,
            "HTTP_X_JIFEN_SIGNATURE": sign(secret=secret or self.secret, timestamp=ts, body=body),
        }
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        call = getattr(self.http, method.lower())
        return call(path, data=body, content_type="application/json", **extra)

    def post_events(self, data, **kwargs):
        return self.request("POST", "/api/v1/integration/events", data, **kwargs)


@pytest.fixture
def integration(db, client):
    from jifen.integrations.services import api_client_create

    obj, secret = api_client_create(name="商城")
    return Signed(http=client, key_id=obj.key_id, secret=secret, obj=obj)


@pytest.fixture
def base_rate(db):
    from jifen.rules.services import rule_save

    return rule_save(code="base", data={"name": "基础", "kind": "base_rate", "points": 1})
