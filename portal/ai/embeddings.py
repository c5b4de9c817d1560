"""Embeddings: vectors for texts, in batches, all from one model per call."""

from __future__ import annotations

from collections.abc import Sequence

from openai.types import CreateEmbeddingResponse

from portal.ai import clients, metering
from portal.ai.errors import BadResponse
from portal.ai.metering import Reading
from portal.ai.models import Feature
from portal.ai.routing import ModelSpec
from portal.ai.serving import serve
from portal.ai.threads import off_loop
from portal.models import User


def _batch(spec: ModelSpec, reading: Reading, texts: Sequence[str]) -> list[list[float]]:
    answer = clients.openai_client(spec).embeddings.create(
        model=spec.name, input=list(texts), timeout=clients.timeout(spec)
    )
    if not isinstance(answer, CreateEmbeddingResponse) or len(answer.data) != len(texts):
        raise BadResponse(detail=f"expected {len(texts)} embeddings, got: {str(answer)[:200]}")
    if answer.usage is not None:
        reading.tokens_in += answer.usage.prompt_tokens
    vectors = [item.embedding for item in sorted(answer.data, key=lambda item: item.index)]
    if any(not vector or len(vector) != len(vectors[0]) for vector in vectors):
        raise BadResponse(detail="embeddings of differing or zero length")
    return vectors


def embed(
    texts: Sequence[str], *, user: User | None = None, feature: str = Feature.EMBEDDING
) -> list[list[float]]:
    """One vector per text, in order. Should a model fail half-way, the next model starts
    over, so that the vectors of one call never mix two models' spaces."""
    if not texts:
        return []

    def call(spec: ModelSpec, reading: Reading) -> list[list[float]]:
        reading.tokens_in = 0
        vectors: list[list[float]] = []
        for start in range(0, len(texts), spec.batch_size):
            vectors.extend(_batch(spec, reading, texts[start : start + spec.batch_size]))
        return vectors

    return serve(feature, metering.user_id(user), call)


async def aembed(
    texts: Sequence[str], *, user: User | None = None, feature: str = Feature.EMBEDDING
) -> list[list[float]]:
    """`embed` for async views: the same call, in a worker thread."""
    return await off_loop(embed)(texts, user=user, feature=feature)
