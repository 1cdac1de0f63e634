# hotline-kpi service image (docker-compose.yml builds it; docs/dashboards.md).
#
#   docker build -t hotline-kpi .
#   docker run --rm -e HOTLINE_KPI_DATABASE_URL=postgresql+psycopg://... hotline-kpi db upgrade
#   docker run -p 9105:9105 -e HOTLINE_KPI_DATABASE_URL=... hotline-kpi          # serve
#
# Runs as an unprivileged user; state (inbox, archive, quarantine, originals) lives in
# /var/lib/hotline-kpi, which should be a volume. Settings come from the environment
# (HOTLINE_KPI_*), secrets included: none is baked into the image.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hotline_kpi ./hotline_kpi
RUN pip wheel --no-cache-dir --wheel-dir /wheels . tzdata

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TZ=Asia/Shanghai \
    HOTLINE_KPI_VAR_DIR=/var/lib/hotline-kpi \
    HOTLINE_KPI_SERVICE__HOST=0.0.0.0 \
    HOTLINE_KPI_SERVICE__PORT=9105
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/hotline-kpi --create-home \
        --shell /usr/sbin/nologin hotline-kpi
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels hotline-kpi tzdata && rm -rf /wheels
USER hotline-kpi
WORKDIR /var/lib/hotline-kpi
VOLUME ["/var/lib/hotline-kpi"]
EXPOSE 9105
# /healthz answers while the process serves; /readyz also wants a fresh evaluation.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9105/healthz', timeout=4)"]
ENTRYPOINT ["hotline-kpi"]
CMD ["serve"]
