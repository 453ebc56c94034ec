#!/usr/bin/env bash
# A Debian bookworm base with Python 3.11 for `make image` where python:3.11-slim-bookworm
# cannot be pulled: debootstrap (minbase) + python3, python3-venv, ca-certificates, passwd,
# slimmed as Docker's debian:bookworm-slim is (no docs but copyrights, man pages, locales,
# apt lists; dpkg keeps them out of later installs too), imported into buildah as $BASE.
# Needs root, debootstrap and buildah (BUILDAH_OPTS, default "--storage-driver vfs").
# HOST_CA (a CA bundle, e.g. this machine's when its egress re-signs TLS) is copied in and
# named in PIP_CERT, so pip in the image build trusts what the host trusts (~0.2 MB).
#   hack/bookworm-base.sh && IMAGE_TOOL=buildah \
#     IMAGE_BUILD_ARGS="--isolation chroot --network host --build-arg PYTHON_IMAGE=$BASE" make image
set -euo pipefail
BASE=${BASE:-localhost/python:3.11-slim-bookworm-local}
read -r -a opts <<<"${BUILDAH_OPTS:---storage-driver vfs}"
mirror=${MIRROR:-$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | head -1 | awk '{print $2}')}
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# dpkg's filter of debian:bookworm-slim, in place before the first package is unpacked
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,passwd \
  bookworm "$root" "$mirror" >/dev/null
# what the filter could not keep out (debootstrap unpacks its first packages itself)
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$root"/usr/share/{man,groff,info,lintian,linda}/* \
  "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/lib/dpkg/*-old "$root"/var/log/* "$root"/tmp/*
ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
env=(--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8)
if [ -n "${HOST_CA:-}" ]; then
  cp "$HOST_CA" "$root/etc/ssl/certs/host-ca-bundle.crt"
  env+=(--env PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt)
fi

c=$(buildah "${opts[@]}" from scratch)
buildah "${opts[@]}" copy "$c" "$root" / >/dev/null
buildah "${opts[@]}" config "${env[@]}" --cmd python "$c"
buildah "${opts[@]}" commit -q "$c" "$BASE" >/dev/null
buildah "${opts[@]}" rm "$c" >/dev/null
printf '%-28s %s\n' "$BASE" "$(buildah "${opts[@]}" images --json "$BASE" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["size"])')"
