"""Alembic revision files, one per schema change; Alembic itself skips this module."""
