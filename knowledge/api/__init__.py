"""REST API: curation (`curation`) and Ask with its conversations and feedback (`ask`)."""
