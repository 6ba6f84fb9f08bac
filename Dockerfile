# syntax=docker/dockerfile:1
# Build stage: compilers stay here. The project is installed editable at /app, the
# path it keeps in the runtime stage, so that migrations/ and alembic.ini are found.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY chat ./chat
COPY migrations ./migrations
COPY client_widget ./client_widget
COPY counselor_ui ./counselor_ui
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -e .

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app chat && mkdir -p /data && chown chat /data
COPY --from=build /venv /venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/venv/bin:$PATH CHAT_DATA_DIR=/data PYTHONUNBUFFERED=1
USER chat
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["chat", "serve", "--host", "0.0.0.0", "--port", "8000"]
