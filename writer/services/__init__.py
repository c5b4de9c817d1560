"""The only code of Write that changes state: templates, drafting, editing, sharing, export."""
