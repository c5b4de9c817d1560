"""Export of drafts as official documents: the .docx (GB/T 9704-2012 layout) and its PDF."""

from writer.export.document import ExportSection, OfficialDocument

__all__ = ["ExportSection", "OfficialDocument"]
