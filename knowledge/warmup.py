"""Everything retrieval builds once per process, built before the process takes requests
(registered with `portal.readiness` by the app's ready()). Each part is rebuilt later when
its data changes, by the search that finds the change (lexicon, FAQ, index versions)."""

from __future__ import annotations

import importlib

from django.conf import settings

from knowledge import associations, embedding, faqmatch, lexicon, memindex, retrieval
from knowledge.text import segmenter

# Imported by the first search otherwise: haystack imports its tools (and jsonschema) the first
# time a pipeline copies its inputs; citing is imported by search() when it runs.
MODULES = ("haystack.tools", "knowledge.citing")
# What segmenting the FAQ and their articles made, for the next process to start
# (`Segmenter.stored`).
SEGMENTATIONS = settings.VAR_DIR / "cache" / "segmentations.json"


def warm() -> None:
    for module in MODULES:
        importlib.import_module(module)
    segmenter.load()
    lexicon.current()  # adds the editors' words to the segmenter
    with segmenter.stored(SEGMENTATIONS):
        faq = faqmatch.current()
        associations.settle(faq)  # learned now, even over a model learned before
    memindex.current()
    retrieval.kept_rows()  # a small base's passages, with the posting lists
    embedding.preload()
