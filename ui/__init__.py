"""The web UI: discovery, lineage, metric workflow and access requests, served by the API app."""
