import pytest
from django.core.management import call_command
from django.test import Client

from jifen.demo.management.commands.bench_setup import OPERATOR_EMAIL
from jifen.members.models import User

pytestmark = pytest.mark.django_db


def test_bench_setup_funds_members_and_writes_working_tokens(tmp_path):
    tokens_file = tmp_path / "tokens.txt"
    args = ["--members", "3", "--fund", "5000", "--tokens-file", str(tokens_file), "--threads", "1"]
    call_command("bench_setup", *args)
    lines = tokens_file.read_text().splitlines()
    assert lines[0].startswith("operator ") and len(lines) == 4
    number, token = lines[1].split()
    client = Client(HTTP_HOST="localhost")
    response = client.get("/api/v1/me/points", HTTP_AUTHORIZATION=f"Bearer {token}", secure=True)
    assert response.status_code == 200
    assert response.json()["available"] == 5000
    # The operator's token may post adjustments (the earn measurement).
    operator_token = lines[0].split()[1]
    response = client.post(
        "/api/v1/admin/adjustments",
        {"member": number, "points": 5, "reason": "bench"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {operator_token}",
        secure=True,
    )
    assert response.status_code == 201, response.content
    # Running again funds nobody twice.
    call_command("bench_setup", *args)
    assert User.objects.filter(is_staff=False).count() == 3
    assert User.objects.get(email=OPERATOR_EMAIL).is_staff
    response = client.get("/api/v1/me/points", HTTP_AUTHORIZATION=f"Bearer {token}", secure=True)
    assert response.json()["available"] == 5005
