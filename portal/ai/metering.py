"""The meter: one row per model call, written after the call has ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from time import monotonic

from portal.ai.errors import AIError
from portal.ai.models import Outcome, Usage
from portal.ai.routing import ModelSpec
from portal.models import User


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
