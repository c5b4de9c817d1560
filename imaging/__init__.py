"""Draw (视觉智创): image requests, jobs, refinement and the gallery."""
