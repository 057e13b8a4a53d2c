# Supply Hub image: one image, several roles (ingest, worker, flower, api) chosen by the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HUB_DATA_DIR=/var/lib/hub HUB_ROUTES_DIR=/etc/hub/routes

WORKDIR /opt/supply-hub
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY edi ./edi
COPY connectors ./connectors
COPY transforms ./transforms
RUN pip install . \
 && useradd --system --home-dir /var/lib/hub --create-home hub \
 && mkdir -p /etc/hub/routes /var/lib/hub \
 && chown -R hub:hub /var/lib/hub
COPY routes /etc/hub/routes

USER hub
VOLUME ["/var/lib/hub"]
ENTRYPOINT ["hub"]
CMD ["worker"]
