# syntax=docker/dockerfile:1
# hotline-kpi service image (docker-compose.yml builds it; docs/deployment.md, docs/dashboards.md).
#
#   docker build -t hotline-kpi .
#   docker run --rm -e HOTLINE_KPI_DATABASE_URL=postgresql+psycopg://... hotline-kpi db upgrade
#   docker run -p 9105:9105 -e HOTLINE_KPI_DATABASE_URL=... hotline-kpi          # serve
#
# Runs as an unprivileged user; state (inbox, archive, quarantine, originals, reports)
# lives in /var/lib/hotline-kpi, which should be a volume. Settings come from the
# environment (HOTLINE_KPI_*), secrets included: none is baked into the image. The target
# catalogue, alert rules and benchmark are the package's defaults (hotline_kpi/defaults/);
# mount files of your own and name them in HOTLINE_KPI_TARGETS_DIR,
# HOTLINE_KPI_ALERTS__RULES_FILE, HOTLINE_KPI_REPORT__BENCHMARK_FILE to override them.
#
# Python 3.11 on Debian 13 "trixie": the suite in the tag keeps a rebuild on the same Debian.
ARG PYTHON_IMAGE=python:3.11-slim-trixie

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY hotline_kpi ./hotline_kpi
# The exact versions of requirements.lock (docs/deployment.md), and the project's wheel.
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.lock \
 && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
# An ARG before the first FROM is not seen inside a stage unless named again.
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="hotline-kpi" \
      org.opencontainers.image.description="KPI monitoring for government service hotlines (Shanghai 12345 first)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/${PYTHON_IMAGE}"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TZ=Asia/Shanghai \
    HOTLINE_KPI_VAR_DIR=/var/lib/hotline-kpi \
    HOTLINE_KPI_SERVICE__HOST=0.0.0.0 \
    HOTLINE_KPI_SERVICE__PORT=9105
# WeasyPrint (the report's PDF) needs Pango and HarfBuzz-Subset (without it, it subsets the fonts
# with fontTools: about 5 times slower and 170 MB more); the PDF and the charts need Noto CJK.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/hotline-kpi --create-home \
        --shell /usr/sbin/nologin hotline-kpi
# The wheels are mounted from the build stage for this step only: no layer keeps them.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,source=requirements.lock,target=/tmp/requirements.lock \
    pip install --no-cache-dir --no-index --find-links /wheels -r /tmp/requirements.lock hotline-kpi
USER hotline-kpi
WORKDIR /var/lib/hotline-kpi
VOLUME ["/var/lib/hotline-kpi"]
EXPOSE 9105
# /healthz answers while the process serves; /readyz also wants a fresh evaluation. The port
# is the one the service is given (HOTLINE_KPI_SERVICE__PORT), not a fixed 9105.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HOTLINE_KPI_SERVICE__PORT', '9105'), timeout=4)"]
ENTRYPOINT ["hotline-kpi"]
CMD ["serve"]
