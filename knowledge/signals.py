"""Keep the index right when rows go by a route other than the services (the admin's bulk
delete, a cascade from a deleted document or user, the shell)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from knowledge import indexing
from knowledge.models import FaqCitation, Segment

# Django sends every pre_delete signal of a delete before it deletes any row: taking the index
# lock here keeps the one lock order of all index writers (the index first, then content rows)
# for deletes that do not come through a service (which holds the lock already). It is only a
# safety net: by the time these signals run, Django's Collector has already listed the rows to
# delete, without the lock, and a citation committed meanwhile is not among them. Deleting
# documents is curation.delete_documents' job, which takes the lock before the Collector runs.


@receiver(pre_delete, sender=Segment)
def segment_leaves_the_index(sender: type[Segment], instance: Segment, **kwargs: Any) -> None:
    indexing.lock()
    if instance.term_count:
        indexing.unindex([instance.pk])


@receiver(pre_delete, sender=FaqCitation)
def citation_goes(sender: type[FaqCitation], instance: FaqCitation, **kwargs: Any) -> None:
    indexing.lock()


@receiver(post_delete, sender=FaqCitation)
def cited_segment_loses_the_faq_wording(
    sender: type[FaqCitation], instance: FaqCitation, **kwargs: Any
) -> None:
    # After the whole delete: the segment may be going too, and then there is nothing to do.
    transaction.on_commit(partial(_reindex_if_still_there, instance.segment_id))


def _reindex_if_still_there(segment_id: int) -> None:
    if Segment.objects.filter(pk=segment_id).exists():
        indexing.reindex([segment_id])
