"""The knowledge app's services, the only code that changes its state: `curation` (documents,
segments, FAQ, lexicon), `asking` (Ask's turns and feedback), `analytics` (topics, the weekly
figures, the editors' work list)."""
