"""`serve`: the web server (ASGI, uvicorn) and a Celery worker with the periodic-job scheduler
(beat) together; Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def celery_argv() -> list[str]:
    celery = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO"]
    if str(settings.CELERY_BROKER_URL).startswith("filesystem"):
        celery += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    return celery


def model_worker_argv(slots: int) -> list[str]:
    """The worker of queues llm and images. Model calls wait on the network for seconds to
    minutes: a thread pool, so that many sections and images are written at once without a
    process (and its memory) each (bench/writer.py starts this same worker)."""
    return [
        *celery_argv(),
        "--queues",
        "llm,images",
        "--pool",
        "threads",
        "--concurrency",
        str(slots),
        "--hostname",
        "models@%h",
    ]


def _health(url: str) -> int | None:
    """/healthz's status once the web server answers (it does once warm), None before."""
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:  # noqa: S310  (our own)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


class Command(BaseCommand):
    help = "Run the web server and a Celery worker (with beat) until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("WEB_CONCURRENCY", "2")),
            help="web server processes (WEB_CONCURRENCY; 2: the sign-up rush, bench/beta_race.py)",
        )
        parser.add_argument(
            "--model-slots",
            type=int,
            default=int(os.environ.get("MODEL_WORKER_SLOTS", "8")),
            help="model calls (queues llm and images) run at once (MODEL_WORKER_SLOTS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        celery = celery_argv()
        # CPU-bound jobs (indexing, analytics) in processes; one of them runs beat
        # (CELERY_BEAT_SCHEDULE) and remembers the last runs in var/.
        default = [*celery, "--queues", "default", "--concurrency", "2", "--hostname", "default@%h"]
        default += ["--beat", "--schedule", str(Path(settings.VAR_DIR) / "celerybeat-schedule")]
        waiting = model_worker_argv(options["model_slots"])
        web = [sys.executable, "-m", "uvicorn", "portal.asgi:application"]
        web += ["--host", options["host"], "--port", str(options["port"]), "--no-access-log"]
        web += ["--workers", str(options["workers"])]
        children = [subprocess.Popen(argv) for argv in (default, waiting, web)]  # noqa: S603
        url = f"http://{options['host']}:{options['port']}/"
        # Each web process warms retrieval before it takes connections (knowledge/warmup.py):
        # the address answers only then, so say when it does, not only where it will.
        self.stdout.write(f"Starting the portal on {url} (ready once warm, about half a minute)")
        local = options["host"] if options["host"] not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
        health = f"http://{local}:{options['port']}/healthz"
        ready = False

        def stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        code = 0
        try:
            while all(child.poll() is None for child in children):
                if not ready and (status := _health(health)) is not None:
                    ready = True  # asked once it answers: /healthz is not polled for ever
                    self.stdout.write(
                        f"Portal ready on {url}  (Ctrl-C stops)"
                        if status == 200
                        else f"Portal up on {url}, but {health} answers {status}: see the log"
                    )
                time.sleep(0.5)
            code = 1  # one of them died on its own
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    child.kill()
        sys.exit(code)
