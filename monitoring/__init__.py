"""The monitoring strategy as code: pure Python, no Pulumi import.

Builders take settings and return plain data (dicts, JSON, InfluxQL) that components deploy.
"""
