"""The monitoring strategy as code: pure builders that return plain data (no Pulumi import)."""
