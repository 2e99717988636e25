"""Discovery: the scan tile by tile over large areas, resumable."""
