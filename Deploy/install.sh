#!/usr/bin/env bash
# install.sh: build Parley in release mode and install parleyd, parley, the systemd units, the
# sysusers.d/tmpfiles.d entries and an example configuration. Never starts or enables a service.
# Safe to run again (an upgrade): binaries, units and documentation are replaced; the
# configuration files in /etc/parley are only created when absent.
#
#   sudo Deploy/install.sh [--prefix DIR] [--unit-dir DIR] [--destdir DIR] [--no-build] [--bin-dir DIR]
#
#   --prefix DIR    installation prefix (default /usr/local): DIR/bin/parleyd, DIR/bin/parley,
#                   DIR/libexec/parley/crl-refresh, DIR/share/doc/parley/. The units' paths are
#                   rewritten to match.
#   --unit-dir DIR  where the units go (default /etc/systemd/system; /usr/lib/systemd/system for a
#                   distribution package)
#   --destdir DIR   stage everything under DIR (packaging, tests); also taken from $DESTDIR. Nothing
#                   is run against the live system: no sysusers, tmpfiles, chown or daemon-reload.
#   --no-build      do not run `swift build`; take the binaries from install.sh's last build
#                   (.build-install/), or from --bin-dir
#   --bin-dir DIR   directory holding already built parleyd and parley (implies --no-build)
#
# PARLEY_SWIFT_BUILD_FLAGS: extra `swift build` flags (default --static-swift-stdlib; set it to ""
# to link the Swift runtime dynamically from the toolchain).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DEPLOY="$REPO/Deploy"
PREFIX=/usr/local
UNIT_DIR=/etc/systemd/system
DESTDIR=${DESTDIR:-}
BUILD=yes
BIN_DIR=

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --unit-dir) UNIT_DIR=${2:?--unit-dir needs a directory}; shift 2 ;;
        --unit-dir=*) UNIT_DIR=${1#*=}; shift ;;
        --destdir) DESTDIR=${2:?--destdir needs a directory}; shift 2 ;;
        --destdir=*) DESTDIR=${1#*=}; shift ;;
        --no-build) BUILD=no; shift ;;
        --bin-dir) BIN_DIR=${2:?--bin-dir needs a directory}; BUILD=no; shift 2 ;;
        --bin-dir=*) BIN_DIR=${1#*=}; BUILD=no; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
for d in "$PREFIX" "$UNIT_DIR"; do
    case $d in /*) ;; *) echo "install.sh: '$d' must be an absolute path" >&2; exit 2 ;; esac
done
PREFIX=${PREFIX%/}
DESTDIR=${DESTDIR%/}
LIVE=no
[ -n "$DESTDIR" ] || LIVE=yes

if [ "$LIVE" = yes ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: installing into the live system needs root (or use --destdir DIR to stage)" >&2
    exit 1
fi

say() { echo "install.sh: $*"; }

# 1. Build. One product per `swift build` (SwiftPM takes only the last of several --product
# options). The Swift runtime and Foundation are linked statically by default, so the installed
# binaries do not depend on where the toolchain lives (a toolchain under /root or /home would be
# invisible to the service with ProtectHome=yes) and survive a toolchain upgrade or removal.
# Always a clean build, in a build directory of its own (.build-install/, the developer's .build/
# is left alone): an incremental build after an update can leave an executable compiled against
# an old memory layout of a changed type in a lower module (SwiftPM does not always rebuild it),
# and such a parleyd crashes at start.
read -r -a SWIFT_FLAGS <<< "${PARLEY_SWIFT_BUILD_FLAGS---static-swift-stdlib}"
SCRATCH="$REPO/.build-install"
BUILDER=$(id -un)
if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    # Build as the user who ran sudo, so the build directory does not end up owned by root.
    BUILDER=$SUDO_USER
fi
as_builder() {
    if [ "$BUILDER" != "$(id -un)" ]; then sudo -u "$BUILDER" "$@"; else "$@"; fi
}
swift_build() {
    as_builder swift build --package-path "$REPO" --scratch-path "$SCRATCH" -c release ${SWIFT_FLAGS[@]+"${SWIFT_FLAGS[@]}"} "$@"
}
if [ "$BUILD" = yes ]; then
    if [ -e "$SCRATCH" ] && [ "$(stat -c %U "$SCRATCH")" != "$BUILDER" ]; then
        echo "install.sh: $SCRATCH belongs to $(stat -c %U "$SCRATCH"), but the build runs as $BUILDER:" \
             "remove it (rm -rf $SCRATCH) or run install.sh as that user" >&2
        exit 1
    fi
    say "removing the previous build's products (swift package clean --scratch-path $SCRATCH)"
    as_builder swift package --package-path "$REPO" --scratch-path "$SCRATCH" clean
    for product in parleyd parley; do
        say "building $product (swift build -c release ${SWIFT_FLAGS[*]} --product $product)"
        swift_build --product "$product"
    done
fi
if [ -z "$BIN_DIR" ]; then
    BIN_DIR=$(swift_build --show-bin-path)
fi
for b in parleyd parley; do
    [ -x "$BIN_DIR/$b" ] || { echo "install.sh: $BIN_DIR/$b is missing: build first (without --no-build)" >&2; exit 1; }
done

# Rewrite the /usr/local paths written in the units for another prefix.
subst() { sed -e "s#/usr/local/#$PREFIX/#g" "$1"; }

# put MODE SRC DEST: install one file (DEST under DESTDIR), replacing what is there.
put() {
    install -D -m "$1" "$2" "$DESTDIR$3"
    say "installed $3"
}
# put_text MODE DEST < text
put_text() {
    local tmp
    tmp=$(mktemp)
    cat > "$tmp"
    install -D -m "$1" "$tmp" "$DESTDIR$2"
    rm -f "$tmp"
    say "installed $2"
}
# put_once MODE SRC DEST: install only if DEST does not exist (configuration the operator edits).
put_once() {
    if [ -e "$DESTDIR$3" ]; then say "kept existing $3"
    else install -D -m "$1" "$2" "$DESTDIR$3"; say "installed $3 (edit it)"; fi
}

# sysusers.d and tmpfiles.d live under the prefix's lib/ for /usr and /usr/local (both are in
# systemd's search path), else in /etc.
case $PREFIX in
    /usr|/usr/local) LIBD=$PREFIX/lib ;;
    *) LIBD=/etc ;;
esac

# 2. Binaries and helpers.
put 0755 "$BIN_DIR/parleyd" "$PREFIX/bin/parleyd"
put 0755 "$BIN_DIR/parley" "$PREFIX/bin/parley"
put 0755 "$DEPLOY/parley-crl-refresh.sh" "$PREFIX/libexec/parley/crl-refresh"

# 3. Units, users, directories.
for u in parleyd.service parley-crl-refresh.service parley-crl-refresh.timer; do
    subst "$DEPLOY/$u" | put_text 0644 "$UNIT_DIR/$u"
done
put 0644 "$DEPLOY/sysusers.d/parley.conf" "$LIBD/sysusers.d/parley.conf"
put 0644 "$DEPLOY/tmpfiles.d/parley.conf" "$LIBD/tmpfiles.d/parley.conf"

# 4. Apply to the live system before anything goes into /etc/parley: user and group, directories.
if [ "$LIVE" = yes ]; then
    if command -v systemd-sysusers >/dev/null; then
        systemd-sysusers "$LIBD/sysusers.d/parley.conf"
    elif ! getent passwd parley >/dev/null; then
        useradd --system --user-group --home-dir /var/lib/parley --no-create-home \
            --shell /usr/sbin/nologin --comment "Parley node daemon" parley
    fi
    say "user and group parley: $(id parley)"
    if command -v systemd-tmpfiles >/dev/null; then
        systemd-tmpfiles --create "$LIBD/tmpfiles.d/parley.conf"
    else
        install -d -m 0750 -o root -g parley /etc/parley /etc/parley/keys /etc/parley/trust
        install -d -m 0700 -o parley -g parley /var/lib/parley
    fi
fi

# 5. Documentation and the example configuration.
for f in README.md CONFIGURATION.md parleyd.example.json; do
    put 0644 "$DEPLOY/$f" "$PREFIX/share/doc/parley/$f"
done
put_once 0640 "$DEPLOY/parleyd.example.json" /etc/parley/parleyd.json
put_once 0640 "$DEPLOY/crl-refresh.example.conf" /etc/parley/crl-refresh.conf

if [ "$LIVE" = yes ]; then
    chown root:parley /etc/parley/parleyd.json /etc/parley/crl-refresh.conf
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        say "systemd reloaded its units (nothing started or enabled)"
    fi
fi

say "done. Next: keys and certificates (Deploy/README.md, Install), edit /etc/parley/parleyd.json,"
say "  then: parleyd --config /etc/parley/parleyd.json --check-config && systemctl enable --now parleyd"
