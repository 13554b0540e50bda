"""Metric governance: definitions, proposals, approval chains, review meetings."""
