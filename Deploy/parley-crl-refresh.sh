#!/usr/bin/env bash
# parley-crl-refresh.sh: fetch the regime's CRLs, install each one only if it is a valid, current
# CRL signed by a CA in the trust store and not older than the one installed, then reload parleyd.
# Run by parley-crl-refresh.service (installed as /usr/local/libexec/parley/crl-refresh).
#
#   parley-crl-refresh.sh [--config FILE] [--no-reload]
#
# FILE (default /etc/parley/crl-refresh.conf) has one CRL per line, `URL DESTINATION`, where URL is
# http(s):// (CRLs are signed objects, plain http is the norm for distribution points) or file://
# (a copy carried to an offline site), and DESTINATION is one of parleyd's `trust.crls` paths.
# Blank lines and lines starting with # are ignored. Settings (environment):
#   PARLEY_CRL_ISSUERS   PEM files with the CRL signers' certificates (default
#                        "/etc/parley/trust/anchors.pem /etc/parley/trust/intermediates.pem")
#   PARLEY_CRL_MIN_VALID_SECONDS   refuse a CRL whose nextUpdate is closer than this (default 3600)
# Exit status: 0 if every CRL was fetched and is installed (changed or not), 1 if any failed (the
# others are still installed and parleyd is still reloaded), 2 on a usage or configuration error.
# Nothing is ever replaced by a CRL that fails a check: parleyd keeps the last good one, and it
# rejects messages once that one's nextUpdate has passed (fail closed), so watch this unit.
set -euo pipefail

CONFIG=/etc/parley/crl-refresh.conf
RELOAD=yes
while [ $# -gt 0 ]; do
    case $1 in
        --config) CONFIG=${2:?--config needs a file}; shift 2 ;;
        --no-reload) RELOAD=no; shift ;;
        -h|--help) sed -n '2,19s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "parley-crl-refresh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

ISSUERS=${PARLEY_CRL_ISSUERS:-/etc/parley/trust/anchors.pem /etc/parley/trust/intermediates.pem}
MIN_VALID=${PARLEY_CRL_MIN_VALID_SECONDS:-3600}
OPENSSL=${OPENSSL:-openssl}
CURL=${CURL:-curl}

[ -r "$CONFIG" ] || { echo "parley-crl-refresh: cannot read $CONFIG: create it with one 'URL DESTINATION' line per CRL" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parley-crl.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

: > "$WORK/issuers.pem"
for f in $ISSUERS; do
    if [ -r "$f" ]; then cat "$f" >> "$WORK/issuers.pem"
    else echo "parley-crl-refresh: issuer file $f is not readable (PARLEY_CRL_ISSUERS)" >&2; fi
done
[ -s "$WORK/issuers.pem" ] || { echo "parley-crl-refresh: no issuer certificates to verify CRLs against; nothing installed" >&2; exit 2; }

# crl_field FILE OPTION: one `openssl crl` field value (after the '=').
crl_field() { "$OPENSSL" crl -in "$1" -noout "$2" 2>/dev/null | sed -n '1s/^[^=]*=//p'; }

# hex_ge A B: hexadecimal A >= B (CRL numbers may exceed 64 bits).
hex_ge() {
    local a b
    a=$(printf '%s' "${1#0x}" | tr 'a-f' 'A-F' | sed 's/^0*//')
    b=$(printf '%s' "${2#0x}" | tr 'a-f' 'A-F' | sed 's/^0*//')
    if [ "${#a}" -ne "${#b}" ]; then [ "${#a}" -gt "${#b}" ]; else [[ ! "$a" < "$b" ]]; fi
}

failed=0
changed=0
n=0
now=$(date -u +%s)
while read -r url dest extra; do
    case $url in ''|'#'*) continue ;; esac
    n=$((n + 1))
    if [ -z "${dest:-}" ] || [ -n "${extra:-}" ] || [ "${dest#/}" = "$dest" ]; then
        echo "parley-crl-refresh: $CONFIG: line for '$url' must be 'URL /absolute/destination'" >&2
        failed=1; continue
    fi
    raw="$WORK/$n.raw"; new="$WORK/$n.pem"
    if ! "$CURL" -fsSL --proto '=http,https,file' --proto-redir '=http,https' --max-time 60 \
            --max-filesize 50000000 -o "$raw" "$url"; then
        echo "parley-crl-refresh: cannot fetch $url (curl failed); keeping $dest" >&2
        failed=1; continue
    fi
    if ! "$OPENSSL" crl -inform PEM -in "$raw" -out "$new" 2>/dev/null \
        && ! "$OPENSSL" crl -inform DER -in "$raw" -out "$new" 2>/dev/null; then
        echo "parley-crl-refresh: $url is not a CRL (neither PEM nor DER); keeping $dest" >&2
        failed=1; continue
    fi
    if ! verify=$("$OPENSSL" crl -in "$new" -noout -CAfile "$WORK/issuers.pem" 2>&1) \
        || ! printf '%s\n' "$verify" | grep -q '^verify OK'; then
        echo "parley-crl-refresh: $url: signature does not verify against $ISSUERS ($verify); keeping $dest" >&2
        failed=1; continue
    fi
    next=$(crl_field "$new" -nextupdate)
    if [ -z "$next" ] || ! next_s=$(date -u -d "$next" +%s 2>/dev/null); then
        echo "parley-crl-refresh: $url: CRL has no readable nextUpdate; keeping $dest" >&2
        failed=1; continue
    fi
    if [ "$next_s" -lt $((now + MIN_VALID)) ]; then
        echo "parley-crl-refresh: $url: CRL nextUpdate $next has passed or is within ${MIN_VALID}s; the CA has not published a fresh CRL. Keeping $dest" >&2
        failed=1; continue
    fi
    if [ -e "$dest" ]; then
        if cmp -s "$new" "$dest"; then continue; fi
        old_issuer=$(crl_field "$dest" -issuer); new_issuer=$(crl_field "$new" -issuer)
        if [ -n "$old_issuer" ] && [ "$old_issuer" != "$new_issuer" ]; then
            echo "parley-crl-refresh: $url: issuer '$new_issuer' differs from the installed CRL's '$old_issuer'; check the URL for $dest. Keeping $dest" >&2
            failed=1; continue
        fi
        old_num=$(crl_field "$dest" -crlnumber); new_num=$(crl_field "$new" -crlnumber)
        if [ -n "$old_num" ] && { [ -z "$new_num" ] || ! hex_ge "$new_num" "$old_num"; }; then
            echo "parley-crl-refresh: $url: CRL number ${new_num:-none} is older than the installed $old_num (rollback refused); keeping $dest" >&2
            failed=1; continue
        fi
    fi
    # Write next to the destination and rename, so parleyd never reads a half-written file.
    if ! tmp=$(mktemp "$(dirname "$dest")/.crl.XXXXXX") || ! cat "$new" > "$tmp" || ! chmod 0640 "$tmp" \
        || { [ "$(id -u)" -eq 0 ] && getent group parley >/dev/null && ! chgrp parley "$tmp"; } \
        || ! mv -f "$tmp" "$dest"; then
        [ -z "${tmp:-}" ] || rm -f "$tmp"
        echo "parley-crl-refresh: cannot write $dest (does its directory exist and is it writable?)" >&2
        failed=1; continue
    fi
    echo "parley-crl-refresh: installed $dest from $url (CRL number $(crl_field "$dest" -crlnumber), next update $next)"
    changed=$((changed + 1))
done < "$CONFIG"

[ "$n" -gt 0 ] || { echo "parley-crl-refresh: $CONFIG lists no CRLs" >&2; exit 2; }

if [ "$changed" -gt 0 ] && [ "$RELOAD" = yes ]; then
    if systemctl is-active --quiet parleyd.service; then
        systemctl reload parleyd.service
        echo "parley-crl-refresh: $changed CRL(s) changed; parleyd reloaded"
    else
        echo "parley-crl-refresh: $changed CRL(s) changed; parleyd is not running, it reads them at start"
    fi
fi
exit "$failed"
