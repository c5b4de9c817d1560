"""Knowledge base: categories, documents, segments, retrieval and the Ask service."""
