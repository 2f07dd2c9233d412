"""Every table of the product, gathered for Alembic and for tests that build a schema.

The composition root is the one place that knows all domain packages; each of them owns its
own models module.
"""

from __future__ import annotations

import acd.callbacks.tables
import acd.callbacks.visit_tables
import acd.calls.tables  # noqa: F401
import api.models  # noqa: F401
import asr.models  # noqa: F401
import intake.models  # noqa: F401
import knowledge.models  # noqa: F401
import recording.models  # noqa: F401
from store.base import Base
from tickets import models as tickets_models  # noqa: F401

metadata = Base.metadata
