"""Keep the index right when rows go by a route other than the services (the admin's bulk
delete, a cascade from a deleted document or user, the shell)."""

from __future__ import annotations

import threading
import weakref
from functools import partial
from typing import Any

from django.db import connections, transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from knowledge import indexing
from knowledge.models import Category, FaqCitation, IndexStats, Segment

# Django sends every pre_delete signal of a delete before it deletes any row: taking the index
# lock here keeps the one lock order of all index writers (the index first, then content rows)
# for deletes that do not come through a service (which holds the lock already). It is only a
# safety net: by the time these signals run, Django's Collector has already listed the rows to
# delete, without the lock, and a citation committed meanwhile is not among them. Deleting
# documents is curation.delete_documents' job, which takes the lock before the Collector runs.


class _Held(threading.local):
    """The delete for which this thread last took the index lock, so that a delete of a
    thousand segments and their citations locks once, not once a row. A delete is known by the
    atomic block Django's Collector opens for it: a new one for every delete() call, so a later
    delete (in another transaction, or after a rollback released the lock) locks again. `stats`
    is the statistics row as locked: until that delete ends only these handlers write it."""

    block: weakref.ref[Any] | None = None
    stats: IndexStats | None = None


_held = _Held()


def _lock_once(using: str) -> IndexStats:
    blocks = connections[using].atomic_blocks
    block = blocks[-1] if blocks else None
    if (
        block is not None
        and _held.block is not None
        and _held.block() is block
        and _held.stats is not None
    ):
        return _held.stats
    stats = indexing.lock()
    if block is not None:
        _held.block, _held.stats = weakref.ref(block), stats
    return stats


@receiver(post_save, sender=Category)
def _category_saved(sender: type[Category], instance: Category, **kwargs: Any) -> None:
    # Passages carry their category's name: a rename is a new version of what search reads.
    if not kwargs.get("created") and not kwargs.get("raw"):
        indexing.touch()


@receiver(pre_delete, sender=Segment)
def segment_leaves_the_index(
    sender: type[Segment], instance: Segment, using: str, **kwargs: Any
) -> None:
    stats = _lock_once(using)
    if instance.term_count:
        indexing.unindex([instance.pk], locked=stats)


@receiver(pre_delete, sender=FaqCitation)
def citation_goes(
    sender: type[FaqCitation], instance: FaqCitation, using: str, **kwargs: Any
) -> None:
    _lock_once(using)


@receiver(post_delete, sender=FaqCitation)
def cited_segment_loses_the_faq_wording(
    sender: type[FaqCitation], instance: FaqCitation, **kwargs: Any
) -> None:
    # After the whole delete: the segment may be going too, and then there is nothing to do.
    transaction.on_commit(partial(_reindex_if_still_there, instance.segment_id))


def _reindex_if_still_there(segment_id: int) -> None:
    if Segment.objects.filter(pk=segment_id).exists():
        indexing.reindex([segment_id])
