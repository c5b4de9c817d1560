"""Draw's tables: brand kits and presets (brands), requests and their results (requests)."""

from imaging.models.brands import BrandKit, StylePreset
from imaging.models.requests import DailyQuota, ImageRequest, ImageResult, RenderMode

__all__ = ["BrandKit", "DailyQuota", "ImageRequest", "ImageResult", "RenderMode", "StylePreset"]
