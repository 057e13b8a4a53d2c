"""Built-in route steps. Importing this package registers them (see hub.registry)."""
