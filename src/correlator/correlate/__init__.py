"""Correlate: alerts → deduplicated, topology-grouped incidents."""
