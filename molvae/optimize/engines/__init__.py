"""The search engines, one module each, registered in :data:`ENGINES`."""
