#!/usr/bin/env python3
"""Cross-checks Parley's COSE_Sign1 against an independent implementation (pycose 1.1.0).

  pycose_interop.py verify MESSAGE SIGNER_CERT_PEM
      Verifies a COSE_Sign1 that Parley signed, with the public key of the signer's certificate.
      Prints the protected header and exits 0 only if the signature verifies.
  pycose_interop.py sign KEY_PEM CHAIN_PEM PAYLOAD CONTENT_TYPE OUT
      Signs PAYLOAD with pycose as a Parley message would be (SPEC.md §5): protected header {1: alg,
      3: content type, -65537: SHA-256 of the x5chain's CBOR encoding}, unprotected header
      {33: x5chain}, embedded payload, tag 18.

Used by Tests/ParleyProtocolTests/InteropTests.swift; the interpreter comes from $PARLEY_PYTHON.
"""
import hashlib
import sys

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pycose.algorithms import EdDSA, Es256, Es384
from pycose.headers import Algorithm, ContentType, X5chain
from pycose.keys import CoseKey
from pycose.messages import Sign1Message

ALGORITHMS = {-8: EdDSA, -7: Es256, -35: Es384}
X5CHAIN_SHA256 = -65537  # Parley's private-use header label (SPEC.md §5.2)


def algorithm_for(public_key):
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return EdDSA
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": Es256, "secp384r1": Es384}[public_key.curve.name]
    raise SystemExit(f"unsupported key type {type(public_key).__name__}")


def load_chain(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


def verify(message_path, cert_path):
    with open(message_path, "rb") as f:
        raw = f.read()
    tag = cbor2.loads(raw)
    if not isinstance(tag, cbor2.CBORTag) or tag.tag != 18:
        raise SystemExit("not a tagged COSE_Sign1")
    message = Sign1Message.decode(raw)
    certificate = load_chain(cert_path)[0]
    public_pem = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    message.key = CoseKey.from_pem_public_key(public_pem)
    alg = message.phdr.get(Algorithm)
    expected = algorithm_for(certificate.public_key())
    if alg is not expected and getattr(alg, "identifier", None) != expected.identifier:
        raise SystemExit(f"header alg {alg} does not match the certificate's key ({expected.fullname})")
    x5chain = message.uhdr.get(X5chain)
    if x5chain is None:
        raise SystemExit("no x5chain (33) in the unprotected header")
    if message.phdr.get(X5CHAIN_SHA256) != hashlib.sha256(cbor2.dumps(x5chain)).digest():
        raise SystemExit("x5chain-sha256 in the protected header is not the SHA-256 of the x5chain")
    if not message.verify_signature():
        raise SystemExit("pycose: signature does NOT verify")
    print(f"pycose: signature verifies (alg {expected.fullname}, {len(message.payload)} byte payload)")


def sign(key_path, chain_path, payload_path, content_type, out_path):
    with open(key_path, "rb") as f:
        key_pem = f.read()
    private_key = serialization.load_pem_private_key(key_pem, password=None)
    chain = [c.public_bytes(serialization.Encoding.DER) for c in load_chain(chain_path)]
    with open(payload_path, "rb") as f:
        payload = f.read()
    alg = algorithm_for(private_key.public_key())
    x5chain = chain[0] if len(chain) == 1 else chain
    chain_digest = hashlib.sha256(cbor2.dumps(x5chain)).digest()
    message = Sign1Message(
        phdr={Algorithm: alg, ContentType: content_type, X5CHAIN_SHA256: chain_digest},
        uhdr={X5chain: x5chain},
        payload=payload,
    )
    message.key = CoseKey.from_pem_private_key(key_pem.decode())
    encoded = message.encode(tag=True)
    with open(out_path, "wb") as f:
        f.write(encoded)
    print(f"pycose: signed {len(payload)} bytes with {alg.fullname}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 7 and sys.argv[1] == "sign":
        sign(*sys.argv[2:])
    else:
        raise SystemExit(__doc__)
