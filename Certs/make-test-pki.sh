#!/usr/bin/env bash
# make-test-pki.sh: build a complete, throw-away TEST PKI for Parley with the configurations in
# Certs/openssl/ (the same profiles a regime uses in production; see Certs/README.md).
#
#   Certs/make-test-pki.sh [--alg ed25519|p256|p384] [--ca-alg p384|ed25519]
#                          [--tls-alg ed25519|p256|p384] DIR PARTICIPANT...
#
# DIR must not exist or be empty. Every key written is a TEST key (see DIR/README.txt).
# Output layout (ID = each participant id, FIRST = the first one given):
#   DIR/README.txt                          test-only notice and this layout
#   DIR/root/ca.pem ca.der                  regime root CA (self-signed)
#   DIR/root/crl.pem crl.der                root CRL (empty, nextUpdate +365 days)
#   DIR/root/private/ca.key                 root CA key
#   DIR/issuing/ca.pem ca.der               issuing CA (signed by the root)
#   DIR/issuing/crl.pem crl.der             issuing CRL (lists REVOKED-TEST, nextUpdate +30 days)
#   DIR/issuing/private/ca.key              issuing CA key
#   DIR/{root,issuing}/db/                  `openssl ca` databases (index.txt, crlnumber, certs/)
#   DIR/trust/anchors.pem                   trust anchors (the root)
#   DIR/trust/intermediates.pem             untrusted intermediates (the issuing CA)
#   DIR/trust/crls.pem                      both CRLs (root + issuing), PEM
#   DIR/participants/ID/signing.key signing.pem signing-chain.pem   (chain = leaf + issuing CA)
#   DIR/participants/ID/tls.key tls.pem tls-chain.pem   TLS, also valid for localhost and 127.0.0.1
#   DIR/participants/ID/tls-production.key tls-production.pem tls-production-chain.pem
#                                           TLS in the production profile: participant URI and
#                                           DNS <id>.parley.test only, no IP address
#   DIR/participants/FIRST/signing-2.key signing-2.pem signing-2-chain.pem   second valid signing
#                                           certificate (key rollover: both valid at once)
#   DIR/negative/revoked/                   REVOKED-TEST: signing.* and tls.* (+ -chain.pem), both
#                                           listed in DIR/issuing/crl.pem
#   DIR/negative/expired/signing.{key,pem} signing-chain.pem     FIRST, validity entirely in the past
#   DIR/negative/not-yet-valid/signing.{key,pem} signing-chain.pem   FIRST, validity in the future
#   DIR/negative/no-participant-uri/signing.{key,pem} signing-chain.pem   FIRST, SAN without URI
#   DIR/negative/two-participant-uris/signing.{key,pem} signing-chain.pem  FIRST + a second URI
#   DIR/negative/uppercase-participant-uri/signing.{key,pem} signing-chain.pem  FIRST, prefix in upper case
#   DIR/negative/other-ca/                  a separate root + issuing CA (root/, issuing/,
#                                           anchors.pem, crls.pem) and a signing.{key,pem}
#                                           signing-chain.pem for FIRST under it
#   DIR/negative/expired-crl/issuing-crl.pem issuing-crl.der   issuing CRL whose nextUpdate passed
#   DIR/negative/expired-crl/crls.pem       root CRL + that expired issuing CRL
# Private keys are PKCS#8 PEM, mode 0600; everything else 0644.
set -euo pipefail

usage() {
    sed -n '5,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
die() { echo "make-test-pki: $*" >&2; exit 1; }

CERTS_DIR=$(cd "$(dirname "$0")" && pwd)
CNF="$CERTS_DIR/openssl"
OPENSSL=${OPENSSL:-openssl}

leaf_alg=ed25519
ca_alg=p384
tls_alg=p256
while [ $# -gt 0 ]; do
    case "$1" in
        --alg) [ $# -ge 2 ] || usage; leaf_alg=$2; shift 2 ;;
        --ca-alg) [ $# -ge 2 ] || usage; ca_alg=$2; shift 2 ;;
        --tls-alg) [ $# -ge 2 ] || usage; tls_alg=$2; shift 2 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) echo "make-test-pki: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || usage
case "$leaf_alg" in ed25519|p256|p384) ;; *) die "--alg must be ed25519, p256 or p384 (got '$leaf_alg')" ;; esac
case "$ca_alg" in ed25519|p384) ;; *) die "--ca-alg must be p384 or ed25519 (got '$ca_alg')" ;; esac
case "$tls_alg" in ed25519|p256|p384) ;; *) die "--tls-alg must be ed25519, p256 or p384 (got '$tls_alg')" ;; esac

OUT=$1
shift
PARTICIPANTS=("$@")
for id in "${PARTICIPANTS[@]}"; do
    [[ "$id" =~ ^[A-Z0-9][A-Z0-9-]{0,63}$ ]] \
        || die "invalid participant id '$id' (1-64 chars of A-Z 0-9 -, first a letter or digit)"
    [ "$id" != REVOKED-TEST ] || die "REVOKED-TEST is reserved for the revoked test participant"
done
dups=$(printf '%s\n' "${PARTICIPANTS[@]}" | sort | uniq -d)
[ -z "$dups" ] || die "participant id given twice: $dups"
FIRST=${PARTICIPANTS[0]}

if [ -e "$OUT" ]; then
    [ -d "$OUT" ] || die "$OUT exists and is not a directory"
    [ -z "$(ls -A "$OUT")" ] || die "$OUT is not empty; refusing to write a test PKI into it"
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
umask 022

LOG=$(mktemp "${TMPDIR:-/tmp}/make-test-pki.XXXXXX")
trap 'rm -f "$LOG"' EXIT
# Runs an openssl command quietly; on failure shows its output and stops.
run() {
    if ! "$@" >"$LOG" 2>&1; then
        echo "make-test-pki: command failed: $*" >&2
        cat "$LOG" >&2
        exit 1
    fi
}

YEAR=$(date -u +%Y)
# YYYYMMDDHHMMSSZ at 1 January of YEAR+offset (POSIX date has no arithmetic).
jan1() { printf '%04d0101000000Z' $((YEAR + $1)); }

ORG="Parley TEST PKI - NOT FOR PRODUCTION"

# genkey ALG FILE: a PKCS#8 PEM private key with mode 0600.
genkey() {
    case "$1" in
        ed25519) (umask 077; run "$OPENSSL" genpkey -algorithm ed25519 -out "$2") ;;
        p256) (umask 077; run "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
                  -pkeyopt ec_param_enc:named_curve -out "$2") ;;
        p384) (umask 077; run "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
                  -pkeyopt ec_param_enc:named_curve -out "$2") ;;
    esac
    chmod 0600 "$2"
}

# csr KEY SUBJECT OUT
csr() { run "$OPENSSL" req -new -config "$CNF/csr.cnf" -key "$1" -subj "$2" -out "$3"; }

# init_ca CADIR: the directory layout the CA configurations expect.
init_ca() {
    mkdir -p "$1/private" "$1/db/certs"
    chmod 0700 "$1/private"
    : >"$1/db/index.txt"
    echo 01 >"$1/db/crlnumber"
}

# make_root CADIR CN STARTDATE ENDDATE
make_root() {
    init_ca "$1"
    genkey "$ca_alg" "$1/private/ca.key"
    csr "$1/private/ca.key" "/O=$ORG/CN=$2" "$1/ca.csr"
    PARLEY_CA_DIR=$1 run "$OPENSSL" ca -batch -notext -config "$CNF/root-ca.cnf" -selfsign \
        -extensions v3_root_ca -subj "/O=$ORG/CN=$2" -startdate "$3" -enddate "$4" \
        -in "$1/ca.csr" -out "$1/ca.pem"
    rm -f "$1/ca.csr"
    run "$OPENSSL" x509 -in "$1/ca.pem" -outform DER -out "$1/ca.der"
}

# make_issuing ROOTDIR CADIR CN STARTDATE ENDDATE
make_issuing() {
    init_ca "$2"
    genkey "$ca_alg" "$2/private/ca.key"
    csr "$2/private/ca.key" "/O=$ORG/CN=$3" "$2/ca.csr"
    PARLEY_CA_DIR=$1 run "$OPENSSL" ca -batch -notext -config "$CNF/root-ca.cnf" \
        -extensions v3_issuing_ca -subj "/O=$ORG/CN=$3" -startdate "$4" -enddate "$5" \
        -in "$2/ca.csr" -out "$2/ca.pem"
    rm -f "$2/ca.csr"
    run "$OPENSSL" x509 -in "$2/ca.pem" -outform DER -out "$2/ca.der"
}

# gencrl CNFFILE CADIR OUT.pem [extra openssl ca options...]: PEM and DER (OUT.der).
gencrl() {
    local cnf=$1 dir=$2 out=$3
    shift 3
    PARLEY_CA_DIR=$dir run "$OPENSSL" ca -batch -config "$CNF/$cnf" -gencrl -out "$out" "$@"
    run "$OPENSSL" crl -in "$out" -outform DER -out "${out%.pem}.der"
}

# issue CADIR PROFILE ID KEYALG OUTDIR NAME [extra openssl ca options...]
#   PROFILE: signing | tls | an extension file path:section (test-only profiles)
#   writes OUTDIR/NAME.key, NAME.pem, NAME-chain.pem (leaf + issuing CA)
issue() {
    local cadir=$1 profile=$2 id=$3 alg=$4 dir=$5 name=$6
    shift 6
    local extfile section
    case "$profile" in
        signing) extfile=$CNF/participant-signing.cnf section=participant_signing ;;
        tls) extfile=$CNF/participant-tls.cnf section=participant_tls_test ;;
        tls-production) extfile=$CNF/participant-tls.cnf section=participant_tls ;;
        *) extfile=${profile%%:*} section=${profile#*:} ;;
    esac
    local dns
    dns="$(printf '%s' "$id" | tr 'A-Z' 'a-z').parley.test"
    mkdir -p "$dir"
    genkey "$alg" "$dir/$name.key"
    csr "$dir/$name.key" "/O=$ORG/CN=$id" "$dir/$name.csr"
    PARLEY_CA_DIR=$cadir PARLEY_PARTICIPANT_ID=$id PARLEY_TLS_DNS=$dns \
        run "$OPENSSL" ca -batch -notext -config "$CNF/issuing-ca.cnf" \
        -extfile "$extfile" -extensions "$section" -subj "/O=$ORG/CN=$id" \
        -in "$dir/$name.csr" -out "$dir/$name.pem" "$@"
    rm -f "$dir/$name.csr"
    cat "$dir/$name.pem" "$cadir/ca.pem" >"$dir/$name-chain.pem"
}

ROOT=$OUT/root
ISS=$OUT/issuing
NEG=$OUT/negative

# Regime CAs. Back-dated so the expired test certificate lies inside the CAs' validity.
make_root "$ROOT" "Parley TEST Root CA" "$(jan1 -5)" "$(jan1 15)"
make_issuing "$ROOT" "$ISS" "Parley TEST Issuing CA" "$(jan1 -4)" "$(jan1 10)"

# Participants.
for id in "${PARTICIPANTS[@]}"; do
    issue "$ISS" signing "$id" "$leaf_alg" "$OUT/participants/$id" signing
    issue "$ISS" tls "$id" "$tls_alg" "$OUT/participants/$id" tls
    issue "$ISS" tls-production "$id" "$tls_alg" "$OUT/participants/$id" tls-production
done
issue "$ISS" signing "$FIRST" "$leaf_alg" "$OUT/participants/$FIRST" signing-2

# Negative artefacts under the regime's CAs.
issue "$ISS" signing "$FIRST" "$leaf_alg" "$NEG/expired" signing \
    -startdate "$(jan1 -3)" -enddate "$(jan1 -1)"
issue "$ISS" signing "$FIRST" "$leaf_alg" "$NEG/not-yet-valid" signing \
    -startdate "$(jan1 2)" -enddate "$(jan1 4)"

mkdir -p "$NEG"
cat >"$NEG/test-profiles.cnf" <<'EOF'
# TEST-ONLY malformed signing profiles (never use for a real regime).
[ no_participant_uri ]
basicConstraints        = critical, CA:FALSE
keyUsage                = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier    = hash
authorityKeyIdentifier  = keyid:always
subjectAltName          = DNS:no-participant-uri.parley.test

[ two_participant_uris ]
basicConstraints        = critical, CA:FALSE
keyUsage                = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier    = hash
authorityKeyIdentifier  = keyid:always
subjectAltName          = URI:urn:parley:participant:$ENV::PARLEY_PARTICIPANT_ID, URI:urn:parley:participant:SECOND-ID

[ uppercase_participant_uri ]
basicConstraints        = critical, CA:FALSE
keyUsage                = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier    = hash
authorityKeyIdentifier  = keyid:always
subjectAltName          = URI:URN:PARLEY:PARTICIPANT:$ENV::PARLEY_PARTICIPANT_ID
EOF
issue "$ISS" "$NEG/test-profiles.cnf:no_participant_uri" "$FIRST" "$leaf_alg" \
    "$NEG/no-participant-uri" signing
issue "$ISS" "$NEG/test-profiles.cnf:two_participant_uris" "$FIRST" "$leaf_alg" \
    "$NEG/two-participant-uris" signing
issue "$ISS" "$NEG/test-profiles.cnf:uppercase_participant_uri" "$FIRST" "$leaf_alg" \
    "$NEG/uppercase-participant-uri" signing

# Revoked participant: certificates issued, then revoked for key compromise with an invalidityDate
# a year back, so that they count as revoked at every time of their validity (SPEC.md §8.4 rule 2),
# also at a verification time just before this script ran.
issue "$ISS" signing REVOKED-TEST "$leaf_alg" "$NEG/revoked" signing
issue "$ISS" tls REVOKED-TEST "$tls_alg" "$NEG/revoked" tls
for c in signing tls; do
    PARLEY_CA_DIR=$ISS run "$OPENSSL" ca -batch -config "$CNF/issuing-ca.cnf" \
        -revoke "$NEG/revoked/$c.pem" -crl_compromise "$(jan1 -1)"
done

# CRLs. The expired issuing CRL comes first so the current one has the higher crlNumber.
mkdir -p "$NEG/expired-crl"
gencrl issuing-ca.cnf "$ISS" "$NEG/expired-crl/issuing-crl.pem" \
    -crl_lastupdate "$(jan1 -1)" -crl_nextupdate "$(printf '%04d0201000000Z' $((YEAR - 1)))"
gencrl root-ca.cnf "$ROOT" "$ROOT/crl.pem"
gencrl issuing-ca.cnf "$ISS" "$ISS/crl.pem"

mkdir -p "$OUT/trust"
cp "$ROOT/ca.pem" "$OUT/trust/anchors.pem"
cp "$ISS/ca.pem" "$OUT/trust/intermediates.pem"
cat "$ROOT/crl.pem" "$ISS/crl.pem" >"$OUT/trust/crls.pem"
cat "$ROOT/crl.pem" "$NEG/expired-crl/issuing-crl.pem" >"$NEG/expired-crl/crls.pem"

# A second, unrelated regime: same profiles, different anchors.
OTHER=$NEG/other-ca
make_root "$OTHER/root" "Other TEST Root CA" "$(jan1 -5)" "$(jan1 15)"
make_issuing "$OTHER/root" "$OTHER/issuing" "Other TEST Issuing CA" "$(jan1 -4)" "$(jan1 10)"
issue "$OTHER/issuing" signing "$FIRST" "$leaf_alg" "$OTHER" signing
gencrl root-ca.cnf "$OTHER/root" "$OTHER/root/crl.pem"
gencrl issuing-ca.cnf "$OTHER/issuing" "$OTHER/issuing/crl.pem"
cp "$OTHER/root/ca.pem" "$OTHER/anchors.pem"
cat "$OTHER/root/crl.pem" "$OTHER/issuing/crl.pem" >"$OTHER/crls.pem"

{
    echo "TEST PKI - NOT FOR PRODUCTION"
    echo
    echo "Generated by Certs/make-test-pki.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)."
    echo "Every private key in this directory is a throw-away TEST key. Never use any file here"
    echo "in a real regime, never commit the keys. Subjects carry O=$ORG."
    echo
    echo "Participants: ${PARTICIPANTS[*]} (first: $FIRST); revoked test participant: REVOKED-TEST"
    echo "Algorithms: CA keys $ca_alg, participant signing keys $leaf_alg, TLS keys $tls_alg"
    echo "TLS names: urn:parley:participant:<ID>, DNS <id in lower case>.parley.test, localhost, 127.0.0.1"
    echo
    echo "Layout:"
    sed -n '/^# Output layout/,/^# Private keys/p' "$0" | sed 's/^# \{0,1\}//'
    echo
    echo "Check a leaf like a Parley node does:"
    echo "  openssl verify -crl_check_all -CAfile trust/anchors.pem -untrusted trust/intermediates.pem \\"
    echo "      -CRLfile trust/crls.pem participants/<ID>/signing.pem"
} >"$OUT/README.txt"

echo "make-test-pki: TEST PKI for ${PARTICIPANTS[*]} written to $OUT"
