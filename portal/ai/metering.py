"""The meter: one row per model call, written after the call has ended."""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from time import monotonic

from django.db import connection

from portal.ai.errors import AIError
from portal.ai.models import Outcome, Usage
from portal.ai.routing import ModelSpec
from portal.models import User

log = logging.getLogger("portal.ai")


@dataclass
class Reading:
    """What one attempt on one model cost; filled in while the call runs."""

    spec: ModelSpec
    feature: str
    user_id: int | None
    streamed: bool = False
    started: float = field(default_factory=monotonic)
    first_token: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    images: int = 0

    def mark_first_token(self) -> None:
        if self.first_token is None:
            self.first_token = monotonic()

    def row(self, error: AIError | None = None, *, outcome: str | None = None) -> Usage:
        ended = monotonic()
        return Usage(
            user_id=self.user_id,
            feature=self.feature,
            capability=self.spec.capability,
            model_id=self.spec.model_id,
            provider_name=self.spec.provider_name,
            model_name=self.spec.name,
            streamed=self.streamed,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            images=self.images,
            latency_ms=round((ended - self.started) * 1000),
            ttft_ms=(
                round((self.first_token - self.started) * 1000)
                if self.first_token is not None
                else None
            ),
            outcome=outcome or (Outcome.ERROR if error else Outcome.OK),
            error_code=error.code if error else "",
            error_detail=error.detail if error else "",
        )


def user_id(user: User | None) -> int | None:
    return user.pk if user is not None and user.pk else None


def save(row: Usage) -> None:
    # A plain INSERT: the caller's model call is over, so no transaction is held across it.
    row.save(force_insert=True)


_BATCH_SECONDS = 0.5
_BATCH_ROWS = 500


class _Writer:
    """Writes the meter rows of streamed answers from one thread, in batches, so that an
    answer's end never waits for the database. `flush()` waits for what is queued."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Usage] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, row: Usage) -> None:
        self._queue.put(row)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ai-meter", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            rows = [self._queue.get()]
            # Gather for a moment: one INSERT for a burst of answers, written after it.
            deadline = time.monotonic() + _BATCH_SECONDS
            while len(rows) < _BATCH_ROWS:
                try:
                    rows.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            try:
                self._write(rows)
            finally:
                for _row in rows:
                    self._queue.task_done()

    @staticmethod
    def _write(rows: list[Usage]) -> None:
        try:
            Usage.objects.bulk_create(rows)
        except Exception:
            # One bad row (a user deleted meanwhile) must not cost the others their record.
            for row in rows:
                try:
                    Usage.objects.bulk_create([row])
                except Exception:
                    log.exception("could not write a meter row for %s", row.feature)
        finally:
            try:
                connection.close()
            except Exception:
                log.exception("closing the meter's database connection failed")

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until the queued rows are written (at most `timeout` seconds: shutdown must not
        hang on a database that is down)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)


_writer = _Writer()
save_later = _writer.put
flush = _writer.flush
atexit.register(flush)
