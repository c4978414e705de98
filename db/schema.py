"""The whole schema: every models module imported once, so `Base.metadata` holds every
table. Alembic's environment, the schema checks and the test fixtures import this, never
a single domain's models."""

from __future__ import annotations

from db import coverage_gaps, models
from db.base import Base
from db.hedging import journal_models, settlement_models
from db.hedging import models as hedging_models
from db.mt5 import guard_models
from db.mt5 import models as mt5_models

metadata = Base.metadata
MODEL_MODULES = (models, coverage_gaps, hedging_models, journal_models, settlement_models, mt5_models, guard_models)

__all__ = ["MODEL_MODULES", "metadata"]
