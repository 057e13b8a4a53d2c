"""Broker access: topology (the one place that declares exchanges and queues), publishers,
and the embedded ``hubdb://`` transport."""

from hub.broker.embedded import register as _register_embedded

_register_embedded()
