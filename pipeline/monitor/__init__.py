"""Monitoring: new imagery per site, replayed statuses, alerts and their history."""
