"""The inverted index over published segments and their embeddings (written by indexing)."""

from __future__ import annotations

from django.db import models

from knowledge.models.content import Segment


class IndexTerm(models.Model):
    """One term of the inverted index with its document frequency over indexed segments."""

    text = models.CharField(max_length=64, unique=True)
    df = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.text


class Posting(models.Model):
    """Term frequency of a term in a segment; `length` repeats the segment's term count so BM25
    is computed from the index alone."""

    pk = models.CompositePrimaryKey("segment_id", "term_id")
    # The primary key (segment first) and posting_by_term (term first, covering) are the only
    # indexes: posting lists are read by term, a segment's postings dropped by segment.
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    term = models.ForeignKey(IndexTerm, on_delete=models.CASCADE, related_name="+", db_index=False)
    tf = models.PositiveSmallIntegerField()
    length = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["term"], include=["segment", "tf", "length"], name="posting_by_term"
            )
        ]

    def __str__(self) -> str:
        return f"{self.term_id}@{self.segment_id}×{self.tf}"


class SegmentTerms(models.Model):
    """A segment's postings in one row (the forward index, written with them by `indexing`):
    its term ids (int8, big-endian, ascending), their tf (int2, big-endian, same order) and its
    length. BM25's candidates read one row each instead of their hundreds of posting rows."""

    segment = models.OneToOneField(
        Segment, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    terms = models.BinaryField()
    tf = models.BinaryField()
    length = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.segment_id}: {len(self.terms) // 8} terms"


class IndexStats(models.Model):
    """Collection statistics for BM25 (one row, updated with the postings)."""

    segments = models.PositiveIntegerField(default=0)
    terms = models.PositiveBigIntegerField(default=0)
    # A new random number with every write of the index (`indexing`): the processes that keep
    # the posting lists in memory (`memindex`) reload when it changes. Random rather than a
    # counter, so that a rolled-back write and the next one never carry the same version.
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.segments} segments, {self.terms} terms"


class SegmentEmbedding(models.Model):
    """A segment's vector from the configured embedding model (float32, little-endian)."""

    segment = models.OneToOneField(Segment, on_delete=models.CASCADE, related_name="embedding")
    dims = models.PositiveSmallIntegerField()
    vector = models.BinaryField()
    # SHA-256 of the text that was embedded: a changed segment is embedded again.
    text_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.segment_id} ({self.dims})"


# --- Ask: conversations, answers, feedback ---------------------------------------------------
