"""Registered transform functions, named in route YAML (``transform: <name>``)."""
