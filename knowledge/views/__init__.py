"""Pages: curation and analytics for editors (`curation`, `analytics`), the chat page (`ask`)."""
