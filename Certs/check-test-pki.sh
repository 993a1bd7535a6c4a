#!/usr/bin/env bash
# check-test-pki.sh: build test PKIs with make-test-pki.sh in temporary directories (ECDSA and
# Ed25519 CAs, every participant key algorithm) and check each artefact with the plain openssl
# command. Exits non-zero on any unexpected outcome. Run by CI:  Certs/check-test-pki.sh
set -euo pipefail

CERTS_DIR=$(cd "$(dirname "$0")" && pwd)
MAKE="$CERTS_DIR/make-test-pki.sh"
OPENSSL=${OPENSSL:-openssl}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-test-pki.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

checks=0
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { checks=$((checks + 1)); }

NOW=$(date -u +%s)
DAY=86400

# verify ARGS...: openssl verify with the regime's anchors, intermediates and CRLs; sets OUT, RC.
verify() {
    set +e
    OUT=$("$OPENSSL" verify -crl_check_all -CAfile "$P/trust/anchors.pem" \
        -untrusted "$P/trust/intermediates.pem" "$@" 2>&1)
    RC=$?
    set -e
}

# expect_ok WHAT CERT [options...]: verifies with trust/crls.pem.
expect_ok() {
    local what=$1 cert=$2
    shift 2
    verify -CRLfile "$P/trust/crls.pem" "$@" "$cert"
    if [ "$RC" -eq 0 ] && printf '%s\n' "$OUT" | grep -q ': OK$'; then pass
    else fail "[$LABEL] $what: expected OK, got (rc=$RC): $OUT"; fi
}

# expect_error WHAT MESSAGE CERT [options...]: verification fails with MESSAGE.
expect_error() {
    local what=$1 msg=$2 cert=$3
    shift 3
    set +e
    OUT=$("$OPENSSL" verify "$@" "$cert" 2>&1)
    RC=$?
    set -e
    if [ "$RC" -ne 0 ] && printf '%s\n' "$OUT" | grep -q "$msg"; then pass
    else fail "[$LABEL] $what: expected failure '$msg', got (rc=$RC): $OUT"; fi
}

# plain_ok WHAT CERT [options...]: verifies without CRL checking (to show a negative artefact is
# otherwise well-formed and fails only for the reason it was made for).
plain_ok() {
    local what=$1 cert=$2
    shift 2
    set +e
    OUT=$("$OPENSSL" verify "$@" "$cert" 2>&1)
    RC=$?
    set -e
    if [ "$RC" -eq 0 ]; then pass; else fail "[$LABEL] $what: expected OK, got (rc=$RC): $OUT"; fi
}

# ext CERT NAME: the text of one extension.
ext() { "$OPENSSL" x509 -in "$1" -noout -ext "$2" 2>/dev/null | sed 1d | sed 's/^ *//'; }

# expect_eq WHAT GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then pass; else fail "[$LABEL] $1: got '$2', want '$3'"; fi
}

# check_key KEY CERT ALG: PKCS#8 PEM, mode 0600, algorithm, and matching the certificate.
check_key() {
    local key=$1 cert=$2 alg=$3
    expect_eq "$key first line" "$(head -1 "$key")" "-----BEGIN PRIVATE KEY-----"
    expect_eq "$key mode" "$(ls -l "$key" | cut -c1-10)" "-rw-------"
    local text want
    text=$("$OPENSSL" pkey -in "$key" -noout -text 2>&1)
    case "$alg" in
        ed25519) want="ED25519 Private-Key" ;;
        p256) want="NIST CURVE: P-256" ;;
        p384) want="NIST CURVE: P-384" ;;
    esac
    if printf '%s\n' "$text" | grep -q "$want"; then pass; else fail "[$LABEL] $key: not $alg"; fi
    expect_eq "$key matches $cert" "$("$OPENSSL" pkey -in "$key" -pubout)" \
        "$("$OPENSSL" x509 -in "$cert" -noout -pubkey)"
}

# check_signing CERT ID: the signing profile.
check_signing() {
    local cert=$1 id=$2
    expect_eq "$cert basicConstraints" "$(ext "$cert" basicConstraints)" "CA:FALSE"
    expect_eq "$cert keyUsage" "$(ext "$cert" keyUsage)" "Digital Signature, Non Repudiation"
    expect_eq "$cert SAN" "$(ext "$cert" subjectAltName)" "URI:urn:parley:participant:$id"
    expect_eq "$cert EKU" "$(ext "$cert" extendedKeyUsage)" ""
    "$OPENSSL" x509 -in "$cert" -noout -text | grep -q "X509v3 Basic Constraints: critical" \
        && "$OPENSSL" x509 -in "$cert" -noout -text | grep -q "X509v3 Key Usage: critical" \
        && pass || fail "[$LABEL] $cert: basicConstraints/keyUsage not critical"
    [ -n "$(ext "$cert" subjectKeyIdentifier)" ] && [ -n "$(ext "$cert" authorityKeyIdentifier)" ] \
        && pass || fail "[$LABEL] $cert: missing SKI/AKI"
}

# check_tls CERT ID [production]
check_tls() {
    local cert=$1 id=$2 dns san
    dns="$(printf '%s' "$id" | tr 'A-Z' 'a-z').parley.test"
    san="URI:urn:parley:participant:$id, DNS:$dns, DNS:localhost, IP Address:127.0.0.1"
    [ "${3:-}" = production ] && san="URI:urn:parley:participant:$id, DNS:$dns"
    expect_eq "$cert basicConstraints" "$(ext "$cert" basicConstraints)" "CA:FALSE"
    expect_eq "$cert keyUsage" "$(ext "$cert" keyUsage)" "Digital Signature"
    expect_eq "$cert EKU" "$(ext "$cert" extendedKeyUsage)" \
        "TLS Web Server Authentication, TLS Web Client Authentication"
    expect_eq "$cert SAN" "$(ext "$cert" subjectAltName)" "$san"
    expect_ok "$cert as TLS server" "$cert" -purpose sslserver
    expect_ok "$cert as TLS client" "$cert" -purpose sslclient
}

# check_pki LABEL MAKE-OPTIONS... -- PARTICIPANTS...
check_pki() {
    LABEL=$1
    shift
    local opts=()
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    local ids=("$@") first=$1
    local leaf_alg=ed25519 ca_alg=p384 tls_alg=p256 i=0
    while [ $i -lt ${#opts[@]} ]; do
        case "${opts[$i]}" in
            --alg) leaf_alg=${opts[$((i + 1))]} ;;
            --ca-alg) ca_alg=${opts[$((i + 1))]} ;;
            --tls-alg) tls_alg=${opts[$((i + 1))]} ;;
        esac
        i=$((i + 2))
    done
    P=$WORK/$LABEL
    local start end
    start=$(date +%s)
    "$MAKE" ${opts[@]+"${opts[@]}"} "$P" "${ids[@]}" >/dev/null
    end=$(date +%s)
    [ $((end - start)) -le 10 ] && pass || fail "[$LABEL] make-test-pki took $((end - start)) s"
    grep -q "TEST PKI - NOT FOR PRODUCTION" "$P/README.txt" && pass || fail "[$LABEL] README.txt"

    # CAs.
    expect_eq "root basicConstraints" "$(ext "$P/root/ca.pem" basicConstraints)" "CA:TRUE, pathlen:1"
    expect_eq "root keyUsage" "$(ext "$P/root/ca.pem" keyUsage)" "Certificate Sign, CRL Sign"
    expect_eq "root SAN" "$(ext "$P/root/ca.pem" subjectAltName)" ""
    expect_eq "issuing basicConstraints" "$(ext "$P/issuing/ca.pem" basicConstraints)" \
        "CA:TRUE, pathlen:0"
    expect_eq "issuing keyUsage" "$(ext "$P/issuing/ca.pem" keyUsage)" "Certificate Sign, CRL Sign"
    check_key "$P/root/private/ca.key" "$P/root/ca.pem" "$ca_alg"
    check_key "$P/issuing/private/ca.key" "$P/issuing/ca.pem" "$ca_alg"
    expect_ok "issuing CA" "$P/issuing/ca.pem"
    expect_eq "root DER" "$("$OPENSSL" x509 -in "$P/root/ca.der" -inform DER)" \
        "$("$OPENSSL" x509 -in "$P/root/ca.pem")"

    # Valid participants.
    local id d
    for id in "${ids[@]}"; do
        d=$P/participants/$id
        for c in signing tls; do
            check_key "$d/$c.key" "$d/$c.pem" "$([ $c = signing ] && echo "$leaf_alg" || echo "$tls_alg")"
            expect_ok "$id $c" "$d/$c.pem"
            verify -CRLfile "$P/trust/crls.pem" -untrusted "$d/$c-chain.pem" "$d/$c.pem"
            [ "$RC" -eq 0 ] && pass || fail "[$LABEL] $id $c with its chain file: $OUT"
            expect_eq "$id $c chain = leaf + issuing" "$(cat "$d/$c-chain.pem")" \
                "$(cat "$d/$c.pem" "$P/issuing/ca.pem")"
        done
        check_signing "$d/signing.pem" "$id"
        check_tls "$d/tls.pem" "$id"
        check_tls "$d/tls-production.pem" "$id" production
    done

    # Key rollover: a second, different key for the first participant, valid at the same time.
    d=$P/participants/$first
    check_key "$d/signing-2.key" "$d/signing-2.pem" "$leaf_alg"
    check_signing "$d/signing-2.pem" "$first"
    expect_ok "$first signing-2" "$d/signing-2.pem"
    [ "$("$OPENSSL" x509 -in "$d/signing.pem" -noout -pubkey)" != \
      "$("$OPENSSL" x509 -in "$d/signing-2.pem" -noout -pubkey)" ] \
        && pass || fail "[$LABEL] rollover certificates share a key"

    # CRL cadence: issuing CRL good for 30 days, root CRL for 365.
    expect_ok "CRLs in 29 days" "$d/signing.pem" -attime $((NOW + 29 * DAY))
    expect_error "CRLs in 31 days" "CRL has expired" "$d/signing.pem" -crl_check_all \
        -CAfile "$P/trust/anchors.pem" -untrusted "$P/trust/intermediates.pem" \
        -CRLfile "$P/trust/crls.pem" -attime $((NOW + 31 * DAY))
    plain_ok "root CRL in 364 days" "$P/issuing/ca.pem" -crl_check -CAfile "$P/trust/anchors.pem" \
        -CRLfile "$P/root/crl.pem" -attime $((NOW + 364 * DAY))
    expect_error "root CRL in 366 days" "CRL has expired" "$P/issuing/ca.pem" -crl_check \
        -CAfile "$P/trust/anchors.pem" -CRLfile "$P/root/crl.pem" -attime $((NOW + 366 * DAY))
    local c
    for c in root/crl issuing/crl negative/expired-crl/issuing-crl; do
        expect_eq "$c DER" "$("$OPENSSL" crl -in "$P/$c.der" -inform DER)" \
            "$("$OPENSSL" crl -in "$P/$c.pem")"
        "$OPENSSL" crl -in "$P/$c.pem" -noout -text | grep -q "X509v3 CRL Number" \
            && pass || fail "[$LABEL] $c has no crlNumber"
    done
    expect_eq "trust/crls.pem" "$(cat "$P/trust/crls.pem")" \
        "$(cat "$P/root/crl.pem" "$P/issuing/crl.pem")"

    # Negative artefacts.
    local n=$P/negative
    expect_error "revoked signing" "certificate revoked" "$n/revoked/signing.pem" -crl_check_all \
        -CAfile "$P/trust/anchors.pem" -untrusted "$P/trust/intermediates.pem" \
        -CRLfile "$P/trust/crls.pem"
    expect_error "revoked tls" "certificate revoked" "$n/revoked/tls.pem" -crl_check_all \
        -CAfile "$P/trust/anchors.pem" -untrusted "$P/trust/intermediates.pem" \
        -CRLfile "$P/trust/crls.pem"
    check_signing "$n/revoked/signing.pem" REVOKED-TEST
    plain_ok "revoked signing without CRLs" "$n/revoked/signing.pem" \
        -CAfile "$P/trust/anchors.pem" -untrusted "$P/trust/intermediates.pem"
    expect_eq "revocation reason" \
        "$("$OPENSSL" crl -in "$P/issuing/crl.pem" -noout -text | grep -c "Key Compromise")" 2

    local base=(-crl_check_all -CAfile "$P/trust/anchors.pem" -untrusted "$P/trust/intermediates.pem"
        -CRLfile "$P/trust/crls.pem")
    expect_error "expired" "certificate has expired" "$n/expired/signing.pem" "${base[@]}"
    check_signing "$n/expired/signing.pem" "$first"
    plain_ok "expired, verified at a time inside its validity" "$n/expired/signing.pem" \
        -CAfile "$P/trust/anchors.pem" -untrusted "$P/trust/intermediates.pem" \
        -attime $((NOW - 730 * DAY))
    expect_error "not yet valid" "certificate is not yet valid" "$n/not-yet-valid/signing.pem" \
        "${base[@]}"
    check_signing "$n/not-yet-valid/signing.pem" "$first"
    plain_ok "not yet valid, verified at a time inside its validity" \
        "$n/not-yet-valid/signing.pem" -CAfile "$P/trust/anchors.pem" \
        -untrusted "$P/trust/intermediates.pem" -attime $((NOW + 1095 * DAY))

    expect_error "other CA" "unable to get local issuer certificate" "$n/other-ca/signing.pem" \
        "${base[@]}"
    expect_error "other CA with its own intermediate" "unable to get local issuer certificate" \
        "$n/other-ca/signing.pem" -crl_check_all -CAfile "$P/trust/anchors.pem" \
        -untrusted "$n/other-ca/signing-chain.pem" -CRLfile "$P/trust/crls.pem"
    plain_ok "other CA under its own anchors" "$n/other-ca/signing.pem" -crl_check_all \
        -CAfile "$n/other-ca/anchors.pem" -untrusted "$n/other-ca/issuing/ca.pem" \
        -CRLfile "$n/other-ca/crls.pem"
    check_signing "$n/other-ca/signing.pem" "$first"
    check_key "$n/other-ca/signing.key" "$n/other-ca/signing.pem" "$leaf_alg"

    expect_error "expired CRL" "CRL has expired" "$d/signing.pem" -crl_check_all \
        -CAfile "$P/trust/anchors.pem" -untrusted "$P/trust/intermediates.pem" \
        -CRLfile "$n/expired-crl/crls.pem"
    expect_error "missing issuing CRL" "unable to get certificate CRL" "$d/signing.pem" \
        -crl_check_all -CAfile "$P/trust/anchors.pem" -untrusted "$P/trust/intermediates.pem" \
        -CRLfile "$P/root/crl.pem"
    expect_error "missing root CRL" "unable to get certificate CRL" "$d/signing.pem" \
        -crl_check_all -CAfile "$P/trust/anchors.pem" -untrusted "$P/trust/intermediates.pem" \
        -CRLfile "$P/issuing/crl.pem"

    expect_eq "no-participant-uri SAN" "$(ext "$n/no-participant-uri/signing.pem" subjectAltName)" \
        "DNS:no-participant-uri.parley.test"
    expect_eq "two-participant-uris SAN" \
        "$(ext "$n/two-participant-uris/signing.pem" subjectAltName)" \
        "URI:urn:parley:participant:$first, URI:urn:parley:participant:SECOND-ID"
    expect_ok "no-participant-uri chain" "$n/no-participant-uri/signing.pem"
    expect_ok "two-participant-uris chain" "$n/two-participant-uris/signing.pem"
    expect_eq "uppercase-participant-uri SAN" \
        "$(ext "$n/uppercase-participant-uri/signing.pem" subjectAltName)" \
        "URI:URN:PARLEY:PARTICIPANT:$first"
    expect_ok "uppercase-participant-uri chain" "$n/uppercase-participant-uri/signing.pem"

    # Every private key is 0600 PKCS#8; nothing else is a key.
    local k bad=0
    while IFS= read -r k; do
        [ "$(ls -l "$k" | cut -c1-10)" = "-rw-------" ] || { fail "[$LABEL] $k mode"; bad=1; }
        [ "$(head -1 "$k")" = "-----BEGIN PRIVATE KEY-----" ] || { fail "[$LABEL] $k not PKCS#8"; bad=1; }
    done < <(find "$P" -name '*.key')
    [ $bad -eq 0 ] && pass
    k=$(grep -rl "PRIVATE KEY" "$P" | grep -v '\.key$' || true)
    expect_eq "private keys outside *.key files" "$k" ""
}

check_pki default -- US-NRRC RU-NRRC HCOC-CC 1-X
check_pki ed25519-ca-p256 --ca-alg ed25519 --alg p256 -- US-NRRC RU-NRRC
check_pki p384-leaf-ed25519-tls --alg p384 --tls-alg ed25519 -- HCOC-CC
check_pki ed25519-ca-p384-tls --ca-alg ed25519 --tls-alg p384 -- A

# Refusals.
LABEL=refusals
expect_refusal() {
    local what=$1
    shift
    if "$MAKE" "$@" >/dev/null 2>&1; then fail "[$LABEL] $what: accepted"; else pass; fi
}
mkdir -p "$WORK/nonempty" && echo keep >"$WORK/nonempty/file"
expect_refusal "non-empty DIR" "$WORK/nonempty" US-NRRC
expect_eq "non-empty DIR untouched" "$(ls -A "$WORK/nonempty")" "file"
expect_refusal "lower-case id" "$WORK/r1" us-nrrc
expect_refusal "leading hyphen" -- "$WORK/r2" -US
expect_refusal "65-character id" "$WORK/r3" "$(printf 'A%.0s' $(seq 65))"
expect_refusal "duplicate id" "$WORK/r4" US-NRRC US-NRRC
expect_refusal "reserved id" "$WORK/r5" REVOKED-TEST
expect_refusal "no participant" "$WORK/r6"
expect_refusal "unknown --alg" --alg rsa "$WORK/r7" US-NRRC
expect_refusal "unknown --ca-alg" --ca-alg p256 "$WORK/r8" US-NRRC
"$MAKE" "$WORK/r9" "$(printf 'A%.0s' $(seq 64))" >/dev/null && pass || fail "[$LABEL] 64-character id refused"

echo "check-test-pki: $checks checks passed, $failures failed"
[ "$failures" -eq 0 ]
