"""Command groups of the ``lakegate`` CLI, one module per resource; ``api.cli`` mounts them."""
