internal import COpenSSL

/// Signing, verification and key classification on `EVP_PKEY`s. Each call holds a context from the
/// key's pool for its duration only (`EVPKey.withContext`), so one key may be used from many threads at once.
enum KeyOperations {
    /// Which Parley algorithm an `EVP_PKEY` is for; throws for anything else (RSA, other curves,
    /// explicit curve parameters).
    static func algorithm(of key: OpaquePointer) throws -> SignatureAlgorithm {
        let id = EVP_PKEY_get_base_id(key)
        if id == parley_EVP_PKEY_ED25519() {
            return .edDSA
        }
        guard id == parley_EVP_PKEY_EC() else {
            let name = EVP_PKEY_get0_type_name(key).map { String(cString: $0) } ?? "id \(id)"
            throw CryptoError(.unsupportedAlgorithm, "key type \(name) is not Ed25519, ECDSA P-256 or ECDSA P-384")
        }
        var buffer = [CChar](repeating: 0, count: 80)
        var length = 0
        guard EVP_PKEY_get_group_name(key, &buffer, buffer.count, &length) == 1 else {
            throw CryptoError.openSSL(.unsupportedAlgorithm, "EC key without a named curve")
        }
        let curve = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var nid = OBJ_sn2nid(curve)
        if nid == NID_undef { nid = EC_curve_nist2nid(curve) }
        switch nid {
        case NID_X9_62_prime256v1: return .es256
        case NID_secp384r1: return .es384
        default:
            OpenSSLErrorQueue.clear()
            throw CryptoError(.unsupportedAlgorithm, "EC curve \(curve) is not P-256 or P-384")
        }
    }

    /// A COSE-form signature (Ed25519 64 bytes; ECDSA `r‖s` with low S).
    static func sign(key evpKey: EVPKey, algorithm: SignatureAlgorithm, message: [UInt8]) throws -> [UInt8] {
        var length = Int(EVP_PKEY_get_size(evpKey.pointer))
        var signature = [UInt8](repeating: 0, count: length)
        let input = algorithm.digest.map { Digest.compute(message, with: $0) } ?? message
        let signed = evpKey.withContext(signing: true) { context in
            input.withUnsafeBufferPointer { inputBuffer in
                signature.withUnsafeMutableBufferPointer { signatureBuffer in
                    evpKey.signsDigests
                        ? EVP_PKEY_sign(context, signatureBuffer.baseAddress, &length, inputBuffer.baseAddress, inputBuffer.count) == 1
                        : EVP_DigestSign(context, signatureBuffer.baseAddress, &length, inputBuffer.baseAddress, inputBuffer.count) == 1
                }
            }
        }
        guard signed == true else {
            throw CryptoError.openSSL(.signingFailed, signed == nil ? "cannot initialise \(algorithm) signing" : "\(algorithm) signing failed")
        }
        signature.removeSubrange(length...)
        guard let scalarLength = algorithm.scalarLength else {
            guard signature.count == 64 else {
                throw CryptoError(.signingFailed, "Ed25519 produced \(signature.count) bytes instead of 64")
            }
            return signature
        }
        // Low-S (SPEC.md §5.3): OpenSSL returns either of (r, s) and (r, n − s).
        return ECDSALowS.normalized(try rawSignature(fromDER: signature, scalarLength: scalarLength), algorithm: algorithm)
    }

    static func verify(key evpKey: EVPKey, algorithm: SignatureAlgorithm, signature: [UInt8], message: [UInt8]) -> Bool {
        guard signature.count == algorithm.signatureLength else { return false }
        let encoded: [UInt8]
        if let order = algorithm.groupOrder, let scalarLength = algorithm.scalarLength {
            let r = signature[0..<scalarLength]
            let s = signature[scalarLength...]
            guard isInSignatureRange(r, order: order), isInSignatureRange(s, order: order) else { return false }
            guard let der = derSignature(r: r, s: s) else { return false }
            encoded = der
        } else {
            encoded = signature
        }
        let input = algorithm.digest.map { Digest.compute(message, with: $0) } ?? message
        let verified = evpKey.withContext(signing: false) { context in
            input.withUnsafeBufferPointer { inputBuffer in
                encoded.withUnsafeBufferPointer { signatureBuffer in
                    evpKey.signsDigests
                        ? EVP_PKEY_verify(context, signatureBuffer.baseAddress, signatureBuffer.count, inputBuffer.baseAddress, inputBuffer.count) == 1
                        : EVP_DigestVerify(context, signatureBuffer.baseAddress, signatureBuffer.count, inputBuffer.baseAddress, inputBuffer.count) == 1
                }
            }
        }
        if verified != true {
            OpenSSLErrorQueue.clear()
            return false
        }
        return true
    }

    /// 0 < value < order, both big-endian of the same length.
    static func isInSignatureRange(_ value: ArraySlice<UInt8>, order: [UInt8]) -> Bool {
        guard value.contains(where: { $0 != 0 }) else { return false }
        for (byte, limit) in zip(value, order) where byte != limit {
            return byte < limit
        }
        return false  // equal to the order
    }

    /// DER `ECDSA-Sig-Value` from fixed-length r and s (ECDSA_SIG_set0, i2d_ECDSA_SIG).
    static func derSignature(r: ArraySlice<UInt8>, s: ArraySlice<UInt8>) -> [UInt8]? {
        let rNumber = r.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
        let sNumber = s.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
        guard let rNumber, let sNumber, let signature = ECDSA_SIG_new() else {
            BN_free(rNumber)
            BN_free(sNumber)
            OpenSSLErrorQueue.clear()
            return nil
        }
        defer { ECDSA_SIG_free(signature) }
        guard ECDSA_SIG_set0(signature, rNumber, sNumber) == 1 else {
            BN_free(rNumber)
            BN_free(sNumber)
            OpenSSLErrorQueue.clear()
            return nil
        }
        var output: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_ECDSA_SIG(signature, &output)
        guard length > 0, let output else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        defer { parley_OPENSSL_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }

    /// Fixed-length `r‖s` from a DER `ECDSA-Sig-Value` (d2i_ECDSA_SIG, ECDSA_SIG_get0, BN_bn2binpad).
    static func rawSignature(fromDER der: [UInt8], scalarLength: Int) throws -> [UInt8] {
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let parsed else {
            throw CryptoError.openSSL(.signingFailed, "OpenSSL produced an unparsable ECDSA signature")
        }
        defer { ECDSA_SIG_free(parsed) }
        var r: OpaquePointer? = nil
        var s: OpaquePointer? = nil
        ECDSA_SIG_get0(parsed, &r, &s)
        var raw = [UInt8](repeating: 0, count: 2 * scalarLength)
        let written = raw.withUnsafeMutableBufferPointer { buffer in
            (BN_bn2binpad(r, buffer.baseAddress, Int32(scalarLength)),
             BN_bn2binpad(s, buffer.baseAddress! + scalarLength, Int32(scalarLength)))
        }
        guard written.0 == Int32(scalarLength), written.1 == Int32(scalarLength) else {
            throw CryptoError.openSSL(.signingFailed, "ECDSA signature component longer than \(scalarLength) bytes")
        }
        return raw
    }
}
