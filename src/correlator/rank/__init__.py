"""Rank: root-cause candidates of an incident, with scores and evidence."""
