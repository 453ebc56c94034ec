# Two images from one Dockerfile (`make image` builds both and prints their sizes):
#   operator  zenith-operator:0.1.0  `zenith-operator run`, the Deployment in deploy/operator.yaml;
#             Python and the package only: no database server, no psycopg
#   database  zenith-database:0.1.0  `zenith-operator agent`, container zenith-ha of every database
#             pod (the default of spec.zenithSpec.image): the package with its `agent` extra
#             (psycopg) + the PostgreSQL 15 server binaries its reference engine drives
# Only the product is installed (pyproject.toml + src/); the sandbox (./sandbox) never is.
# `docker build .` without --target gives the database image, which can also run the operator.
#
#   docker build --target operator -t zenith-operator:0.1.0 .
#   docker build --target database -t zenith-database:0.1.0 .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the package and its runtime dependencies (no dev extras).
# The operator's has no optional extra; the database image's adds `agent` (psycopg).
# hack/image_check.py then imports every module (but those of an extra left out) and
# fails on a package that must not be there (the sandbox's, the kubernetes client).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/zenith
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY hack/image_check.py ./

FROM build AS build-operator
RUN /opt/zenith/bin/pip install . \
 && /opt/zenith/bin/python -m pip uninstall -q -y pip setuptools \
 && /opt/zenith/bin/zenith-operator --help >/dev/null \
 && /opt/zenith/bin/python image_check.py psycopg psycopg-binary

FROM build AS build-database
RUN /opt/zenith/bin/pip install ".[agent]" \
 && /opt/zenith/bin/python -m pip uninstall -q -y pip setuptools \
 && /opt/zenith/bin/zenith-operator --help >/dev/null \
 && /opt/zenith/bin/python image_check.py

# --- common: the unprivileged user (each target adds its virtualenv)
FROM ${PYTHON_IMAGE} AS common
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG UID=10001
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# postgres refuses to run as root: everything runs as this unprivileged user, which owns
# the data mount point. The pods set runAsUser/fsGroup to the same id so the
# PersistentVolume is writable too.
RUN set -eux; \
    groupadd --system --gid "${UID}" zenith; \
    useradd --system --uid "${UID}" --gid zenith --home-dir /var/lib/zenith --shell /usr/sbin/nologin zenith; \
    install -d -o zenith -g zenith -m 0700 /var/lib/zenith
ENV PATH="/opt/zenith/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /var/lib/zenith
ENTRYPOINT ["zenith-operator"]

# --- operator: no database server
FROM common AS operator
ARG UID=10001
LABEL org.opencontainers.image.title="zenith-operator" \
      org.opencontainers.image.description="Kubernetes operator for the zenith active/standby database"
COPY --from=build-operator /opt/zenith /opt/zenith
USER ${UID}:${UID}
EXPOSE 8080
CMD ["run"]

# --- database: the agent and the PostgreSQL server binaries (the default target)
FROM common AS database
ARG PG_MAJOR=15
ARG UID=10001
LABEL org.opencontainers.image.title="zenith-database" \
      org.opencontainers.image.description="zenith database pod: the zenith-operator agent and PostgreSQL ${PG_MAJOR} (reference engine)"
# PostgreSQL server binaries only: no cluster is created at install time (the agent runs
# initdb itself in the data volume), the same trick as the official postgres image.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql-common; \
    sed -ri 's/^#?\s*(create_main_cluster)\s*=.*$/\1 = false/' /etc/postgresql-common/createcluster.conf; \
    apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}"; \
    rm -rf /var/lib/apt/lists/* /var/lib/postgresql/* /etc/postgresql/*; \
    /usr/lib/postgresql/${PG_MAJOR}/bin/postgres --version; \
    install -d -o zenith -g zenith -m 2775 /var/run/postgresql
COPY --from=build-database /opt/zenith /opt/zenith
ENV PATH="/usr/lib/postgresql/${PG_MAJOR}/bin:${PATH}" \
    ZENITH_PG_BINDIR="/usr/lib/postgresql/${PG_MAJOR}/bin"
USER ${UID}:${UID}
EXPOSE 8008 32080 12345
CMD ["agent"]
