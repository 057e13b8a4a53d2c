"""Routes: YAML models, loading and validation, the engine that runs steps, schema and tests."""
