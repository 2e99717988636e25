"""Reports: evidence figures, site reports, PDF and web map, rebuilt from a scan's files alone.

Never imports the scan (``tests/test_layers.py``): a third party rebuilds every report from a
copy of the output folder.
"""
