"""Every domain's models, imported so ``Base.metadata`` is complete for Alembic and tests.

Domains add one line each here (e.g. ``from app.auth import models as _auth_models``).
"""

from __future__ import annotations

from app.db.base import Base

__all__ = ["Base"]

# --- domain models (one import line per domain) -------------------------------------------
from app.auth import models as _auth_models  # noqa: F401
from app.conversations import models as _conversations_models  # noqa: F401
from app.datasets import models as _datasets_models  # noqa: F401
from app.images import models as _images_models  # noqa: F401
from app.runs import models as _runs_models  # noqa: F401
