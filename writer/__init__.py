"""Write (材料智写): templates, drafts and their export."""
