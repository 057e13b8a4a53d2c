"""Built-in route steps. Importing this package registers them (see hub.registry)."""

from hub.steps import basic, copy, flatfile, parse, validate  # noqa: F401
