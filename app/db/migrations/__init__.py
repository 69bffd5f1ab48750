"""Alembic environment and revisions (the fixed chain: 0001_auth -> 0002_runs -> ...)."""
