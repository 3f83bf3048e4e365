"""Readers of the public benchmark data sets (C-MAPSS, SKAB) into pandas frames."""

from modax.models.datasets.cmapss import CmapssError, CmapssSubset, load_cmapss  # noqa: F401
from modax.models.datasets.skab import SkabError, SkabFile, load_skab  # noqa: F401
