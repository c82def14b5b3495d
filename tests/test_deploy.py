"""Production configuration: `jifen check --deploy` is clean with production variables."""

import os
import secrets
import subprocess
import sys


def run_manage(*args, env_extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "JIFEN_TESTING", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "jifen.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_extra={
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "jifen.example.com",
            "JIFEN_VAR_DIR": str(tmp_path),
            "JIFEN_TESTING": "0",
            # The only built-in gateway is the sandbox, refused in production unless the
            # site says no money moves (payments/tests/test_sandbox_guard.py checks both).
            "JIFEN_ALLOW_SANDBOX_PAY": "1",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_manage(
        "check", env_extra={"JIFEN_VAR_DIR": str(tmp_path), "JIFEN_TESTING": "0", "SECRET_KEY": ""}
    )
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_openapi_is_served_at_the_stable_addresses(client):
    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"] == "Jifen API"
    assert "/api/v1/me/points" in schema["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr.net" not in docs.content  # assets come from the installed package
