"""Import every module that defines tables, so ``Base.metadata`` is complete for migrations."""

from hub.store import models as store_models  # noqa: F401
from hub.store import ingest_keys as store_ingest_keys  # noqa: F401
from edi.common import control_numbers as edi_control_numbers  # noqa: F401
from edi.common import interchanges as edi_interchanges  # noqa: F401
from hub import business_exceptions  # noqa: F401
from hub.canonical import xref as canonical_xref  # noqa: F401
from hub import partners  # noqa: F401
from connectors.outbound import guards as outbound_guards  # noqa: F401
from hub.delivery import circuit as delivery_circuit  # noqa: F401
from connectors import security as connector_security  # noqa: F401
from hub.console import models as console_models  # noqa: F401
from connectors.as2 import store as as2_store  # noqa: F401
from hub.reload import models as reload_models  # noqa: F401
