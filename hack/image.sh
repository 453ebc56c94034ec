#!/usr/bin/env bash
# `make image`: build the Dockerfile's two targets and print their sizes.
#   operator -> $IMAGE           (deploy/operator.yaml)
#   database -> $DATABASE_IMAGE  (default of spec.zenithSpec.image)
# With docker (when its daemon answers) or podman; else buildah (BUILDAH_OPTS, e.g.
# "--storage-driver vfs"). IMAGE_TOOL=docker|podman|buildah chooses.
# Extra build flags (e.g. --build-arg PYTHON_IMAGE=...) come from IMAGE_BUILD_ARGS.
# Where python:3.11-slim-bookworm cannot be pulled, hack/bookworm-base.sh makes a base.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-zenith-operator:0.1.0}
DATABASE_IMAGE=${DATABASE_IMAGE:-zenith-database:0.1.0}
read -r -a extra <<<"${IMAGE_BUILD_ARGS:-}"

read -r -a opts <<<"${BUILDAH_OPTS:-}"
if [ -n "${IMAGE_TOOL:-}" ]; then tool=("$IMAGE_TOOL")
elif docker info >/dev/null 2>&1; then tool=(docker)
elif command -v podman >/dev/null 2>&1; then tool=(podman)
elif command -v buildah >/dev/null 2>&1; then tool=(buildah)
else echo "make image: needs docker (with its daemon), podman or buildah" >&2; exit 2
fi
[ "${tool[0]}" != buildah ] || tool+=("${opts[@]}")

build() {  # target tag
  if [ "${tool[0]}" = buildah ]; then
    "${tool[@]}" bud --layers --target "$1" -t "$2" "${extra[@]}" .
  else
    "${tool[@]}" build --target "$1" -t "$2" "${extra[@]}" .
  fi
}
size() {  # tag -> "NNN MB" (uncompressed, as `docker image ls` shows it)
  if [ "${tool[0]}" = buildah ]; then
    "${tool[@]}" images --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["size"])'
  else
    echo "$(( $("${tool[@]}" image inspect --format '{{.Size}}' "$1") / 1000 / 1000 )) MB"
  fi
}

build operator "$IMAGE"
build database "$DATABASE_IMAGE"
for tag in "$IMAGE" "$DATABASE_IMAGE"; do
  printf '%-28s %s\n' "$tag" "$(size "$tag")"
done
