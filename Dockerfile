# hedgeops: one image for every process. compose.yaml starts the migrate job, the Celery
# worker, beat and Flower from it with different commands; run alone it prints the CLI help.
#
#   docker build -t hedgeops .
#   docker run --rm hedgeops                      # hedgeops --help
#   docker run --rm -e HEDGEOPS_DATABASE_URL=... hedgeops hedgeops db upgrade

FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_NO_INPUT=1

RUN python -m venv /opt/hedgeops
ENV PATH=/opt/hedgeops/bin:$PATH

WORKDIR /src
# README.md is the package's readme in pyproject.toml: the build needs it.
COPY pyproject.toml README.md ./
COPY core ./core
COPY db ./db
COPY tasks ./tasks
COPY workers ./workers
# Flower is not a dependency of the project, only of this image (the monitoring UI).
RUN pip install . "flower>=2.0,<3"


FROM python:3.11-slim

ENV PATH=/opt/hedgeops/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HEDGEOPS_PRICE_DROP_DIR=/data/prices/incoming

COPY --from=build /opt/hedgeops /opt/hedgeops

# Non-root. The directories exist (owned by the user) before compose mounts named volumes
# on them, so a fresh volume starts with this ownership: the price drop folder and beat's
# schedule file. /app holds the embedded-mode SQLite file (./var) when no database is set.
RUN groupadd --system --gid 10001 hedgeops \
    && useradd --system --uid 10001 --gid hedgeops --home-dir /app --shell /usr/sbin/nologin hedgeops \
    && mkdir -p /app /data/prices/incoming /var/lib/hedgeops/beat \
    && chown -R hedgeops:hedgeops /app /data /var/lib/hedgeops

USER 10001:10001
WORKDIR /app

CMD ["hedgeops", "--help"]
