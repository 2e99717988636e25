"""The scan: imagery and sites in, site verdicts, hotspots, series and rasters out."""
