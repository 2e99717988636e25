"""Shipped configuration files (``default.yaml``, ``monitor.yaml``)."""
