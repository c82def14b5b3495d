"""`jifen bench-setup`: members, funding and bearer tokens for the HTTP load benchmark.

Members are created through the members service and funded through the ledger service
(`points_earn`, one idempotent posting per member), so the bench database verifies before
and after the run. Tokens come from the real endpoint, `POST /api/v1/auth/token`, called
in-process with Django's test client, and are written one per line to the tokens file that
the wrk scripts in bench/ read:

    operator <token>
    <member number> <token>
    ...
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.test import Client

from jifen.ledger.services import points_earn
from jifen.members.models import User
from jifen.members.selectors import member_find_by_login
from jifen.members.services import member_register

PASSWORD = "Bench-pass-2026"
OPERATOR_EMAIL = "bench-operator@jifen.local"


def bench_phone(i: int) -> str:
    return f"1990000{i:04d}"


def _ensure(*, phone=None, email=None, name="", is_staff=False) -> User:
    user = member_find_by_login(phone or email)
    if user is None:
        user = member_register(phone=phone, email=email, name=name, is_staff=is_staff)
    return user


def _token(login: str, index: int, close: bool = True) -> str:
    client = Client(REMOTE_ADDR=f"10.99.{index // 250}.{index % 250 + 1}", HTTP_HOST="localhost")
    try:
        response = client.post(
            "/api/v1/auth/token",
            {"login": login, "password": PASSWORD},
            content_type="application/json",
            secure=True,
        )
    finally:
        if close:  # a pool thread's own connection
            connections.close_all()
    if response.status_code != 200:
        raise CommandError(f"token for {login}: HTTP {response.status_code} {response.content!r}")
    return response.json()["token"]


class Command(BaseCommand):
    help = "Create funded bench members and an operator, and write their API tokens to a file."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=200)
        parser.add_argument("--fund", type=int, default=10_000_000, help="points per member")
        parser.add_argument("--tokens-file", default="var/bench/tokens.txt")
        parser.add_argument("--threads", type=int, default=2, help="parallel logins (Argon2)")

    def handle(self, *args, members, fund, tokens_file, threads, **options):
        if members < 2:
            raise CommandError("--members must be at least 2 (transfers need two)")
        operator = _ensure(email=OPERATOR_EMAIL, name="压测运营", is_staff=True)
        users = [_ensure(phone=bench_phone(i), name=f"压测会员{i}") for i in range(members)]
        # One Argon2 hash for everyone: the benchmark measures postings, not password hashing.
        User.objects.filter(pk__in=[operator.pk, *[u.pk for u in users]]).update(
            password=make_password(PASSWORD)
        )
        with transaction.atomic():
            for user in users:
                points_earn(
                    member_id=user.pk,
                    points=fund,
                    source="bench",
                    reference=f"bench:fund:{user.phone}",
                    explanation="benchmark funding",
                )
        logins = [OPERATOR_EMAIL, *[u.phone for u in users]]
        if threads <= 1:
            tokens = [_token(login, i, close=False) for i, login in enumerate(logins)]
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                tokens = list(pool.map(_token, logins, range(len(logins))))
        path = Path(tokens_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"operator {tokens[0]}"]
        pairs = zip(users, tokens[1:], strict=True)
        lines += [f"{user.member_number} {token}" for user, token in pairs]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        self.stdout.write(f"bench: {members} members funded, tokens in {path}")
