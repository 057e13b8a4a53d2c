#!/usr/bin/env sh
# Post messages to the inbound API (`hub api`, default http://127.0.0.1:8080) as a partner.
#   1. hub partners load routes/partners.yaml
#   2. hub partners api-key create P-0042 --label "acme integration"   # prints the key once
#   3. HUB_API_KEY=shk_... sh examples/connectors/post-message.sh
set -eu
API=${HUB_API_URL:-http://127.0.0.1:8080}
KEY=${HUB_API_KEY:?set HUB_API_KEY to a key from hub partners api-key create}
HERE=$(dirname "$0")

# A CSV cycle count (route cycle-counts): format from the content type, doctype as a parameter.
curl -sS -X POST "$API/api/v1/messages?doctype=cycle_count&filename=counts.csv" \
  -H "X-API-Key: $KEY" -H "Content-Type: text/csv" \
  --data-binary @"$HERE/../cycle-counts/counts-2026-11-20.csv"
echo

# Legacy XML orders (route xml-orders): the document type is the root element, Orders.
curl -sS -X POST "$API/api/v1/messages" -H "X-API-Key: $KEY" -H "Content-Type: application/xml" \
  --data-binary @"$HERE/orders.xml"
echo

# Then: curl -sS -H "X-API-Key: $KEY" "$API/api/v1/messages/<message id>"   (status and trace)
#       curl -sS "$API/metrics"   and   curl -sS "$API/readyz"
