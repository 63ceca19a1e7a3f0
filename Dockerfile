# The local cloud in a container (the LocalStack dev path: docker compose up).
# It serves the browser client, the REST and WebSocket APIs and the Management API, invokes the
# Lambda handlers in-process and polls DynamoDB Streams, all read from terraform/*.tf. With
# LOCALCLOUD_AWS_ENDPOINT set (docker-compose.yml does) its tables live in LocalStack.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. The project is installed
# editable: the local cloud finds terraform/, lambda/ and frontend/ next to its own source.
COPY pyproject.toml README.md ./
COPY lambda ./lambda
COPY scripts/localcloud ./scripts/localcloud
RUN pip install -e '.[local]'

COPY terraform ./terraform
COPY frontend ./frontend

RUN useradd --create-home --uid 10001 chat && chown -R chat /app
USER chat

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/config.js', timeout=2)"]

ENTRYPOINT ["python", "-m", "localcloud"]
CMD ["--host", "0.0.0.0", "--port", "8000"]
