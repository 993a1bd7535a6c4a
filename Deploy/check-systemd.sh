#!/usr/bin/env bash
# check-systemd.sh: check the deployment files in Deploy/. Run by CI:  bash Deploy/check-systemd.sh
#   1. systemd-analyze verify on every unit; any message (unknown directive, bad value, missing
#      unit) fails. /usr/local/bin/parleyd and the CRL helper do not exist on a build machine and
#      verify rejects a unit whose executables are missing, so it verifies copies whose executable
#      paths point to /bin/true; everything else is the file as committed.
#   2. systemd-analyze security --offline=true Deploy/parleyd.service: fails if the overall
#      exposure is above MAX_EXPOSURE (2.0).
#   3. sysusers.d and tmpfiles.d applied to a scratch root: user, group, home, shell, modes, owners.
#   4. install.sh staged into scratch directories (--destdir, stub binaries): files, modes, paths,
#      and a second run that keeps the operator's configuration.
#   5. parley-crl-refresh.sh against a test PKI (Certs/make-test-pki.sh) with file:// URLs: good
#      CRLs installed (PEM and DER), and stale, rolled-back, foreign, tampered, wrong-issuer and
#      unreachable ones refused while the installed CRL stays.
#   6. shellcheck on the scripts, when shellcheck is installed.
set -euo pipefail

DEPLOY=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$DEPLOY")
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-systemd.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

checks=0
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { checks=$((checks + 1)); }
# expect WHAT COMMAND...: the command succeeds.
expect() { local what=$1; shift; if "$@"; then pass; else fail "$what"; fi; }

command -v systemd-analyze >/dev/null || {
    echo "check-systemd: systemd-analyze not found: apt-get install systemd" >&2; exit 1; }
echo "check-systemd: $(systemd-analyze --version | head -1)"

UNITS=(parleyd.service parley-crl-refresh.service parley-crl-refresh.timer)

# 1. verify ---------------------------------------------------------------------------------------
mkdir -p "$WORK/units"
for u in "${UNITS[@]}"; do
    sed -e 's#/usr/local/bin/parleyd#/bin/true#g' \
        -e 's#/usr/local/libexec/parley/crl-refresh#/bin/true#g' "$DEPLOY/$u" > "$WORK/units/$u"
done
# verify_quiet FILE...: systemd-analyze verify succeeds and prints nothing (it reports unknown
# directives and bad values as warnings with exit status 0).
verify_quiet() {
    local out rc=0
    out=$(systemd-analyze verify "$@" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
        printf '%s\n' "$out" | sed 's/^/  verify: /' >&2
        return 1
    fi
}
for u in "${UNITS[@]}"; do
    expect "systemd-analyze verify $u (ExecStart= paths replaced by /bin/true)" \
        verify_quiet "$WORK/units/$u"
done
# The check itself must notice a directive this systemd does not know.
mkdir -p "$WORK/bad"
sed 's/^NoNewPrivileges=yes$/&\nNoNewPrivilegez=yes/' "$WORK/units/parleyd.service" > "$WORK/bad/parleyd.service"
if verify_quiet "$WORK/bad/parleyd.service" 2>/dev/null; then
    fail "verify_quiet accepted a unit with an unknown directive"
else pass; fi

# 2. security exposure ---------------------------------------------------------------------------
# exposure UNIT-FILE: prints the overall exposure figure.
exposure() {
    systemd-analyze security --offline=true "$1" 2>&1 \
        | sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p'
}
for u in parleyd.service parley-crl-refresh.service; do
    e=$(exposure "$DEPLOY/$u")
    echo "check-systemd: systemd-analyze security --offline=true Deploy/$u: exposure ${e:-unknown}"
    if [ "$u" = parleyd.service ]; then
        if [ -z "$e" ]; then fail "no overall exposure in systemd-analyze security output for $u"
        elif awk -v e="$e" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e > m) }'; then
            fail "$u: exposure $e is above $MAX_EXPOSURE"
            systemd-analyze security --offline=true "$DEPLOY/$u" | grep '✗' >&2 || true
        else pass; fi
    fi
done

# 3. sysusers.d and tmpfiles.d -------------------------------------------------------------------
ROOT="$WORK/sysroot"
mkdir -p "$ROOT/etc"
if systemd-sysusers --root="$ROOT" "$DEPLOY/sysusers.d/parley.conf" >/dev/null 2>&1; then
    pw=$(grep '^parley:' "$ROOT/etc/passwd" || true)
    IFS=: read -r _ _ uid gid _ home shell <<< "$pw"
    expect "sysusers: system user parley (got '$pw')" test -n "$pw" -a "${uid:-0}" -lt 1000 -a "${uid:-0}" -gt 0
    expect "sysusers: home /var/lib/parley (got '${home:-}')" test "${home:-}" = /var/lib/parley
    expect "sysusers: no login shell (got '${shell:-}')" test "${shell:-}" = /usr/sbin/nologin
    expect "sysusers: group parley with the user's gid" grep -q "^parley:x:${gid:-x}:" "$ROOT/etc/group"
    if systemd-tmpfiles --root="$ROOT" --create "$DEPLOY/tmpfiles.d/parley.conf"; then
        for spec in "etc/parley 750 0 $gid" "etc/parley/keys 750 0 $gid" "etc/parley/trust 750 0 $gid" \
                    "var/lib/parley 700 $uid $gid"; do
            read -r path mode owner group <<< "$spec"
            got=$(stat -c '%a %u %g' "$ROOT/$path" 2>/dev/null || echo missing)
            expect "tmpfiles: /$path is $mode $owner:$group (got $got)" test "$got" = "$mode $owner $group"
        done
    else fail "systemd-tmpfiles --create tmpfiles.d/parley.conf failed"; fi
else fail "systemd-sysusers sysusers.d/parley.conf failed"; fi

# 4. install.sh into scratch directories ---------------------------------------------------------
mkdir -p "$WORK/bin"
for b in parleyd parley; do printf '#!/bin/sh\necho %s stub\n' "$b" > "$WORK/bin/$b"; chmod 0755 "$WORK/bin/$b"; done
D="$WORK/destdir"
if bash "$DEPLOY/install.sh" --destdir "$D" --no-build --bin-dir "$WORK/bin" > "$WORK/install.log" 2>&1; then
    for spec in "usr/local/bin/parleyd 755" "usr/local/bin/parley 755" \
                "usr/local/libexec/parley/crl-refresh 755" \
                "etc/systemd/system/parleyd.service 644" "etc/systemd/system/parley-crl-refresh.service 644" \
                "etc/systemd/system/parley-crl-refresh.timer 644" \
                "usr/local/lib/sysusers.d/parley.conf 644" "usr/local/lib/tmpfiles.d/parley.conf 644" \
                "etc/parley/parleyd.json 640" "etc/parley/crl-refresh.conf 640" \
                "usr/local/share/doc/parley/README.md 644" "usr/local/share/doc/parley/CONFIGURATION.md 644"; do
        read -r path mode <<< "$spec"
        got=$(stat -c '%a' "$D/$path" 2>/dev/null || echo missing)
        expect "install.sh: /$path mode $mode (got $got)" test "$got" = "$mode"
    done
    expect "install.sh: unit installed unchanged for prefix /usr/local" cmp -s "$DEPLOY/parleyd.service" "$D/etc/systemd/system/parleyd.service"
    expect "install.sh: example configuration is valid JSON" python3 -m json.tool "$D/etc/parley/parleyd.json" /dev/null
    echo '{"edited": true}' > "$D/etc/parley/parleyd.json"
    if bash "$DEPLOY/install.sh" --destdir "$D" --no-build --bin-dir "$WORK/bin" > "$WORK/install2.log" 2>&1; then
        expect "install.sh: second run keeps the edited configuration" grep -q edited "$D/etc/parley/parleyd.json"
    else fail "install.sh: second run failed: $(cat "$WORK/install2.log")"; fi
else fail "install.sh --destdir failed: $(cat "$WORK/install.log")"; fi
P="$WORK/pkg"
if bash "$DEPLOY/install.sh" --destdir "$P" --prefix /usr --unit-dir /usr/lib/systemd/system \
        --bin-dir "$WORK/bin" > "$WORK/install3.log" 2>&1; then
    expect "install.sh --prefix /usr: ExecStart=/usr/bin/parleyd" \
        grep -q '^ExecStart=/usr/bin/parleyd ' "$P/usr/lib/systemd/system/parleyd.service"
    expect "install.sh --prefix /usr: no /usr/local left in the units" \
        bash -c "! grep -q /usr/local $P/usr/lib/systemd/system/*"
    expect "install.sh --prefix /usr: sysusers.d in /usr/lib" test -f "$P/usr/lib/sysusers.d/parley.conf"
else fail "install.sh --prefix /usr failed: $(cat "$WORK/install3.log")"; fi
if bash "$DEPLOY/install.sh" --destdir "$WORK/x" --bogus >/dev/null 2>&1; then
    fail "install.sh accepted an unknown option"
else pass; fi

# 5. CRL refresh -----------------------------------------------------------------------------------
if command -v curl >/dev/null && command -v openssl >/dev/null; then
    PKI="$WORK/pki"
    bash "$REPO/Certs/make-test-pki.sh" "$PKI" US-NRRC RU-NRRC > "$WORK/pki.log" 2>&1 \
        || { cat "$WORK/pki.log" >&2; fail "make-test-pki.sh failed"; }
    T="$WORK/trust"; mkdir -p "$T"
    export PARLEY_CRL_ISSUERS="$PKI/trust/anchors.pem $PKI/trust/intermediates.pem"
    # refresh CONF-LINES...: runs the refresh with these lines as its configuration; sets RC, OUT.
    refresh() {
        printf '%s\n' "# test" "$@" > "$WORK/crl.conf"
        RC=0
        OUT=$(bash "$DEPLOY/parley-crl-refresh.sh" --config "$WORK/crl.conf" --no-reload 2>&1) || RC=$?
    }
    # expect_refused WHAT WORD URL DEST: exit 1, message contains WORD, DEST unchanged.
    expect_refused() {
        local before
        before=$(cat "$4" 2>/dev/null || true)
        refresh "$3 $4"
        if [ "$RC" -eq 1 ] && printf '%s' "$OUT" | grep -q "$2" && [ "$(cat "$4" 2>/dev/null || true)" = "$before" ]; then pass
        else fail "crl-refresh: $1: expected refusal mentioning '$2', got rc=$RC: $OUT"; fi
    }

    refresh "file://$PKI/root/crl.der $T/root-crl.pem" "file://$PKI/issuing/crl.pem $T/issuing-crl.pem"
    expect "crl-refresh: installs root (DER) and issuing (PEM) CRLs (rc=$RC: $OUT)" \
        test "$RC" -eq 0 -a "$(printf '%s\n' "$OUT" | grep -c '^parley-crl-refresh: installed')" -eq 2
    expect "crl-refresh: root CRL installed as PEM" \
        bash -c "openssl crl -in '$T/root-crl.pem' -noout 2>/dev/null && head -1 '$T/root-crl.pem' | grep -q 'BEGIN X509 CRL'"
    expect "crl-refresh: issuing CRL installed byte for byte" cmp -s "$PKI/issuing/crl.pem" "$T/issuing-crl.pem"
    expect "crl-refresh: installed CRL mode 640 (got $(stat -c %a "$T/issuing-crl.pem"))" \
        test "$(stat -c %a "$T/issuing-crl.pem")" = 640
    refresh "file://$PKI/issuing/crl.pem $T/issuing-crl.pem"
    expect "crl-refresh: unchanged CRL: rc 0, nothing installed (rc=$RC: $OUT)" test "$RC" -eq 0 -a -z "$OUT"

    # A newer CRL from the same CA is taken; the older one is then a rollback.
    cp "$PKI/issuing/crl.pem" "$WORK/older.pem"
    PARLEY_CA_DIR="$PKI/issuing" openssl ca -batch -config "$REPO/Certs/openssl/issuing-ca.cnf" \
        -gencrl -out "$WORK/newer.pem" > "$WORK/gencrl.log" 2>&1 || fail "openssl ca -gencrl: $(cat "$WORK/gencrl.log")"
    refresh "file://$WORK/newer.pem $T/issuing-crl.pem"
    expect "crl-refresh: newer CRL installed (rc=$RC: $OUT)" cmp -s "$WORK/newer.pem" "$T/issuing-crl.pem"
    expect_refused "older CRL number" "rollback refused" "file://$WORK/older.pem" "$T/issuing-crl.pem"
    expect_refused "expired CRL" "nextUpdate" "file://$PKI/negative/expired-crl/issuing-crl.pem" "$T/issuing-crl.pem"
    expect_refused "CRL of another CA" "does not verify" "file://$PKI/negative/other-ca/issuing/crl.pem" "$T/issuing-crl.pem"
    expect_refused "root CRL at the issuing CRL's place" "issuer" "file://$PKI/root/crl.pem" "$T/issuing-crl.pem"
    cp "$PKI/issuing/crl.der" "$WORK/tampered.der"
    size=$(stat -c %s "$WORK/tampered.der")
    printf '\xff' | dd of="$WORK/tampered.der" bs=1 seek=$((size - 10)) conv=notrunc status=none
    expect_refused "tampered CRL" "does not verify" "file://$WORK/tampered.der" "$T/issuing-crl.pem"
    expect_refused "not a CRL" "not a CRL" "file://$PKI/issuing/ca.pem" "$T/issuing-crl.pem"
    expect_refused "unreachable URL" "cannot fetch" "file://$WORK/no-such.crl" "$T/issuing-crl.pem"
    refresh "file://$WORK/newer.pem relative/path.pem"
    expect "crl-refresh: relative destination refused (rc=$RC)" test "$RC" -eq 1
    # One bad source does not hold back a good one.
    rm -f "$T/root-crl.pem"
    refresh "file://$WORK/no-such.crl $T/issuing-crl.pem" "file://$PKI/root/crl.pem $T/root-crl.pem"
    expect "crl-refresh: good CRL installed beside a failing one, rc 1 (rc=$RC: $OUT)" \
        test "$RC" -eq 1 -a -f "$T/root-crl.pem"
    unset PARLEY_CRL_ISSUERS
else
    fail "curl and openssl are needed for the CRL refresh checks (apt-get install curl openssl)"
fi

# 6. shellcheck --------------------------------------------------------------------------------------
if command -v shellcheck >/dev/null; then
    expect "shellcheck Deploy/*.sh" shellcheck "$DEPLOY"/*.sh
else
    echo "check-systemd: shellcheck not installed; skipped"
fi

echo "check-systemd: $checks checks passed, $failures failed"
[ "$failures" -eq 0 ]
