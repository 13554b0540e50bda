"""The access layer: one decision point for every read and write."""
