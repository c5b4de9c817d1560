"""Settings: typed environment helpers that fail loudly, production settings that pass --deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal import env

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**keep, **environ},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCTION = {
    "PORTAL_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-for-the-test-only",
    "PORTAL_ID_HASH_KEY": "another-long-random-key-for-the-test-only",
    "PORTAL_AI_KEY": "a-third-long-random-key-for-provider-api-keys",
    "ALLOWED_HOSTS": "ai.union.example",
    "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
    "REDIS_URL": os.environ.get("REDIS_URL", ""),
}


def test_production_settings_pass_the_deployment_check() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key() -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_SECRET_KEY"}
    result = manage("check", **environ)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_the_provider_key_secret() -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != "PORTAL_AI_KEY"}
    result = manage("check", **environ)
    assert result.returncode != 0 and "PORTAL_AI_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts() -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != "ALLOWED_HOSTS"}
    result = manage("check", **environ)
    assert result.returncode != 0 and "ALLOWED_HOSTS" in result.stderr


def test_production_refuses_to_start_without_a_shared_cache() -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"}
    result = manage("check", **environ)
    assert result.returncode != 0 and "REDIS_URL" in result.stderr


@pytest.mark.parametrize(
    ("environ", "debug"),
    [
        ({}, "True"),  # make run on one's own machine
        ({"ALLOWED_HOSTS": "ai.union.example"}, "False"),  # PORTAL_ENV forgotten on a server
        ({"ALLOWED_HOSTS": "ai.union.example", "DJANGO_DEBUG": "true"}, "True"),  # asked for
    ],
)
def test_debug_pages_only_on_a_machine_of_ones_own(
    environ: dict[str, str], debug: str, tmp_path: Path
) -> None:
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
        PORTAL_VAR_DIR=str(tmp_path),
        **environ,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == debug


def test_without_redis_every_process_shares_one_cache(tmp_path: Path) -> None:
    """make run's default: two web processes and the worker count one member's questions
    against one rate limit and see one word list."""
    shared = {"PORTAL_VAR_DIR": str(tmp_path), "REDIS_URL": ""}
    wrote = manage(
        "shell", "-c", "from django.core.cache import cache; cache.set('seen', 'yes', 60)", **shared
    )
    assert wrote.returncode == 0, wrote.stderr
    read = manage(
        "shell", "-c", "from django.core.cache import cache; print(cache.get('seen'))", **shared
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip().splitlines()[-1] == "yes"


def test_a_secret_can_come_from_a_file(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "key").write_text("from-a-file\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(tmp_path / "key"))
    monkeypatch.delenv("SOME_SECRET", raising=False)
    assert env.env_secret("SOME_SECRET") == "from-a-file"


@pytest.mark.parametrize(
    ("reader", "raw"),
    [(lambda: env.env_bool("X_FLAG", False), "perhaps"), (lambda: env.env_int("X_FLAG", 1), "ten")],
)
def test_a_malformed_value_stops_start_up_with_its_name(reader, raw: str, monkeypatch) -> None:
    monkeypatch.setenv("X_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        reader()


def test_a_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    store = tmp_path / "secrets.json"
    first = env.dev_secret(store, "KEY")
    assert env.dev_secret(store, "KEY") == first and len(first) > 40
    assert oct(store.stat().st_mode)[-3:] == "600"


@pytest.mark.django_db
def test_the_models_and_their_migrations_agree() -> None:
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
