"""What we found: classification of critical points, atlases, Taylor models, derivative checks."""

from .classify import CriticalPoint, Kind, classify

__all__ = ["CriticalPoint", "Kind", "classify"]
