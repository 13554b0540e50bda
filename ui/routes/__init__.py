"""UI pages, one module per area; each exports ``router`` (built with :class:`ui.routing.UiRoute`)."""
