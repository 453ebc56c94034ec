#!/usr/bin/env bash
# `make image`: build the Dockerfile's two targets and print their sizes.
#   operator -> $IMAGE           (deploy/operator.yaml)
#   database -> $DATABASE_IMAGE  (default of spec.zenithSpec.image)
# With docker or podman; else buildah (BUILDAH_OPTS, e.g. "--storage-driver vfs").
# Extra build flags (e.g. --build-arg PYTHON_IMAGE=...) come from IMAGE_BUILD_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-zenith-operator:0.1.0}
DATABASE_IMAGE=${DATABASE_IMAGE:-zenith-database:0.1.0}
read -r -a extra <<<"${IMAGE_BUILD_ARGS:-}"

if command -v docker >/dev/null 2>&1; then tool=(docker)
elif command -v podman >/dev/null 2>&1; then tool=(podman)
elif command -v buildah >/dev/null 2>&1; then read -r -a opts <<<"${BUILDAH_OPTS:-}"; tool=(buildah "${opts[@]}")
else echo "make image: needs docker, podman or buildah" >&2; exit 2
fi

build() {  # target tag
  if [ "${tool[0]}" = buildah ]; then
    "${tool[@]}" bud --layers --target "$1" -t "$2" "${extra[@]}" .
  else
    "${tool[@]}" build --target "$1" -t "$2" "${extra[@]}" .
  fi
}
size() {  # tag -> bytes
  if [ "${tool[0]}" = buildah ]; then
    # the uncompressed size of the image's layers, as `docker image ls` shows it
    "${tool[@]}" inspect --type image --format '{{range .OCIv1.RootFS.DiffIDs}}{{.}} {{end}}' "$1" >/dev/null
    "${tool[@]}" images --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["size"])'
  else
    "${tool[@]}" image inspect --format '{{.Size}}' "$1"
  fi
}

build operator "$IMAGE"
build database "$DATABASE_IMAGE"
for tag in "$IMAGE" "$DATABASE_IMAGE"; do
  bytes=$(size "$tag")
  printf '%-28s %5d MB\n' "$tag" $((bytes / 1000 / 1000))
done
