"""Harvest: read values back from returned packs (filled trackers and review forms)."""
