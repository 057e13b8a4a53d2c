"""``copy_to``: also deliver the current document to another endpoint (Camel's wire tap), when a
condition holds — e.g. ship notices to the warehouse while every supplier document goes to
the ERP through the route's ``to``.

The copy is a side output: rendered in the endpoint's payload format, delivered with the same
retries, idempotency keys and dead letters as the route's outputs. Put the step last: a
document that an earlier step held or filtered is not copied.

YAML::

    - copy_to: warehouse-asn-folder          # shorthand for {endpoint: ...}
    - copy_to:
        endpoint: warehouse-asn-folder
        when: {path: body.document_type, op: eq, value: ship_notice}
"""

from __future__ import annotations

from pydantic import Field

from hub.conditions import Condition
from hub.exchange import Exchange, SideOutput
from hub.payloads import identity, render
from hub.registry import Step, StepError, StrictModel, step
from hub.routes.model import NAME


class CopyToConfig(StrictModel):
    endpoint: str = Field(pattern=NAME, description="An endpoint defined in a route file")
    when: Condition | None = Field(None, description="Copy only the documents for which this holds")


@step
class CopyToStep(Step):
    kind = "copy_to"
    Config = CopyToConfig
    shorthand = "endpoint"
    summary = "Also deliver the document to another endpoint (wire tap), when a condition holds"

    def process(self, ex: Exchange) -> list[Exchange]:
        config: CopyToConfig = self.config  # type: ignore[assignment]
        if config.when is not None and not config.when.holds(ex):
            return [ex]
        fmt = "json"
        hub = self.env.services.get("hub")
        if hub is not None:
            if config.endpoint not in hub.routes.endpoints:
                raise StepError(f"copy_to: endpoint {config.endpoint!r} is not defined in any route file",
                                code="copy_to_endpoint")
            fmt = hub.routes.endpoint(config.endpoint).payload_format
        try:
            body, content_type = render(ex.body, fmt)
        except (ValueError, TypeError) as exc:
            raise StepError(f"copy_to {config.endpoint}: cannot render the document as {fmt}: {exc}",
                            code="render_error") from None
        doc_type, doc_key = identity(ex.body)
        ex.side_outputs.append(SideOutput(config.endpoint, body, content_type, doc_type, doc_key))
        return [ex]
