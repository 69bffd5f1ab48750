"""Tests of the orchestrator library (a package so module names never clash across test dirs)."""
