# One image, two roles (as Oracle's MySQL Operator ships it):
#   operator:  zenith-operator run            (the Deployment in deploy/operator.yaml)
#   agent:     zenith-operator agent          (container zenith-ha of every database pod)
# The agent's reference engine drives the PostgreSQL 15 server binaries installed here.
#
#   docker build -t zenith-operator:0.1.0 .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the package and its runtime dependencies (no dev extras)
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/zenith
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# psycopg: the agent's PostgreSQL engine talks to its database with it (listed here as
# long as pyproject.toml keeps it among the dev extras only).
RUN /opt/zenith/bin/pip install . "psycopg[binary]>=3.1" \
 && /opt/zenith/bin/zenith-operator --help >/dev/null \
 && /opt/zenith/bin/python -c "import psycopg, kopf, kubernetes, aiohttp"

# --- runtime
FROM ${PYTHON_IMAGE}
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG PG_MAJOR=15
ARG UID=10001

LABEL org.opencontainers.image.title="zenith-operator" \
      org.opencontainers.image.description="Kubernetes operator for the zenith active/standby database; also the in-pod database agent (PostgreSQL ${PG_MAJOR} reference engine)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# PostgreSQL server binaries only: no cluster is created at install time (the agent runs
# initdb itself in the data volume), the same trick as the official postgres image.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql-common; \
    sed -ri 's/^#?\s*(create_main_cluster)\s*=.*$/\1 = false/' /etc/postgresql-common/createcluster.conf; \
    apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}"; \
    rm -rf /var/lib/apt/lists/* /var/lib/postgresql/* /etc/postgresql/*; \
    /usr/lib/postgresql/${PG_MAJOR}/bin/postgres --version

# postgres refuses to run as root: everything runs as this unprivileged user, which owns
# the data mount point and the default socket directory. The pods set runAsUser/fsGroup
# to the same id so the PersistentVolume is writable too.
RUN set -eux; \
    groupadd --system --gid "${UID}" zenith; \
    useradd --system --uid "${UID}" --gid zenith --home-dir /var/lib/zenith --shell /usr/sbin/nologin zenith; \
    install -d -o zenith -g zenith -m 0700 /var/lib/zenith; \
    install -d -o zenith -g zenith -m 2775 /var/run/postgresql

COPY --from=build /opt/zenith /opt/zenith

ENV PATH="/opt/zenith/bin:/usr/lib/postgresql/${PG_MAJOR}/bin:${PATH}" \
    ZENITH_PG_BINDIR="/usr/lib/postgresql/${PG_MAJOR}/bin" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

USER ${UID}:${UID}
WORKDIR /var/lib/zenith
EXPOSE 8008 32080 12345
ENTRYPOINT ["zenith-operator"]
CMD ["run"]
