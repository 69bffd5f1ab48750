"""Internals of the offline engine (see :mod:`orchestrator.providers.offline`).

``extract`` reads parameters out of a question, ``intent`` turns them into a plan, ``steps``
decides which tools a step calls and ``writers`` turns tool results into markdown.
"""
