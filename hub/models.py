"""Import every module that defines tables, so ``Base.metadata`` is complete for migrations."""

from hub.store import models as store_models  # noqa: F401
