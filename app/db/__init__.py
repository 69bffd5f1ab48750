"""Persistence: declarative base, engine/session configuration and Alembic migrations."""
