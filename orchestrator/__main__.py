"""``python -m orchestrator ask "question"`` (see :mod:`orchestrator.cli`)."""

from orchestrator.cli import main

raise SystemExit(main())
