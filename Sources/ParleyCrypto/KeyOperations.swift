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
        if let digest = algorithm.digest, let scalarLength = algorithm.scalarLength {
            return try signDigest(
                key: evpKey,
                algorithm: algorithm,
                digest: digest,
                scalarLength: scalarLength,
                message: message
            )
        }
        // Ed25519 signs the message itself, in one EVP_DigestSign call.
        var length = Int(EVP_PKEY_get_size(evpKey.pointer))
        var signature = [UInt8](repeating: 0, count: length)
        let signed = evpKey.withContext(signing: true) { context in
            message.withUnsafeBufferPointer { inputBuffer in
                signature.withUnsafeMutableBufferPointer { signatureBuffer in
                    EVP_DigestSign(
                        context,
                        signatureBuffer.baseAddress,
                        &length,
                        inputBuffer.baseAddress,
                        inputBuffer.count
                    ) == 1
                }
            }
        }
        guard signed == true else {
            throw CryptoError.openSSL(
                .signingFailed,
                signed == nil ? "cannot initialise \(algorithm) signing" : "\(algorithm) signing failed"
            )
        }
        signature.removeSubrange(length...)
        guard signature.count == 64 else {
            throw CryptoError(.signingFailed, "Ed25519 produced \(signature.count) bytes instead of 64")
        }
        return signature
    }

    static func verify(key evpKey: EVPKey, algorithm: SignatureAlgorithm, signature: [UInt8], message: [UInt8]) -> Bool
    {
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
                        ? EVP_PKEY_verify(
                            context,
                            signatureBuffer.baseAddress,
                            signatureBuffer.count,
                            inputBuffer.baseAddress,
                            inputBuffer.count
                        ) == 1
                        : EVP_DigestVerify(
                            context,
                            signatureBuffer.baseAddress,
                            signatureBuffer.count,
                            inputBuffer.baseAddress,
                            inputBuffer.count
                        ) == 1
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

    /// ECDSA: the digest and the DER signature live in one temporary buffer; only the `r‖s` result
    /// is allocated (this runs once per message and receipt a node signs).
    private static func signDigest(
        key evpKey: EVPKey,
        algorithm: SignatureAlgorithm,
        digest: FetchedDigest,
        scalarLength: Int,
        message: [UInt8]
    ) throws -> [UInt8] {
        precondition(evpKey.signsDigests, "an ECDSA algorithm on a key that does not sign digests")
        let maximumDER = Int(EVP_PKEY_get_size(evpKey.pointer))
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: digest.size + maximumDER) { buffer in
            let digestBuffer = UnsafeMutableBufferPointer(rebasing: buffer[..<digest.size])
            let derBuffer = UnsafeMutableBufferPointer(rebasing: buffer[digest.size...])
            guard message.withUnsafeBytes({ digest.digest($0, into: digestBuffer) }) else {
                throw CryptoError.openSSL(.signingFailed, "cannot compute the \(algorithm) message digest")
            }
            var length = derBuffer.count
            let signed = evpKey.withContext(signing: true) { context in
                EVP_PKEY_sign(context, derBuffer.baseAddress, &length, digestBuffer.baseAddress, digestBuffer.count)
                    == 1
            }
            guard signed == true else {
                throw CryptoError.openSSL(
                    .signingFailed,
                    signed == nil ? "cannot initialise \(algorithm) signing" : "\(algorithm) signing failed"
                )
            }
            var raw = try rawSignature(
                fromDER: UnsafeBufferPointer(rebasing: derBuffer[..<length]),
                scalarLength: scalarLength
            )
            // Low-S (SPEC.md §5.3): OpenSSL returns either of (r, s) and (r, n − s).
            ECDSALowS.normalize(&raw, algorithm: algorithm)
            return raw
        }
    }

    /// DER `ECDSA-Sig-Value` (`SEQUENCE { r INTEGER, s INTEGER }`) from fixed-length r and s, both
    /// already checked to lie in [1, n − 1]. Written here rather than through ECDSA_SIG and two
    /// BIGNUMs: for P-256 and P-384 every length fits in one byte, and this runs once per verify.
    static func derSignature(r: ArraySlice<UInt8>, s: ArraySlice<UInt8>) -> [UInt8]? {
        func integer(_ value: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
            guard let first = value.firstIndex(where: { $0 != 0 }) else { return nil }
            return value[first...]
        }
        guard let r = integer(r), let s = integer(s) else { return nil }
        let rLength = r.count + (r.first! >= 0x80 ? 1 : 0)
        let sLength = s.count + (s.first! >= 0x80 ? 1 : 0)
        let contentLength = 2 + rLength + 2 + sLength
        guard contentLength < 0x80 else { return nil }
        var der: [UInt8] = []
        der.reserveCapacity(2 + contentLength)
        der.append(0x30)
        der.append(UInt8(contentLength))
        for (value, length) in [(r, rLength), (s, sLength)] {
            der.append(0x02)
            der.append(UInt8(length))
            if length > value.count { der.append(0) }
            der.append(contentsOf: value)
        }
        return der
    }

    /// Fixed-length `r‖s` from the DER `ECDSA-Sig-Value` OpenSSL produced; anything but a strict
    /// DER encoding of two positive integers of at most `scalarLength` bytes is an error.
    static func rawSignature(fromDER der: [UInt8], scalarLength: Int) throws -> [UInt8] {
        try der.withUnsafeBufferPointer { try rawSignature(fromDER: $0, scalarLength: scalarLength) }
    }

    static func rawSignature(fromDER der: UnsafeBufferPointer<UInt8>, scalarLength: Int) throws -> [UInt8] {
        func failure(_ what: String) -> CryptoError {
            CryptoError(.signingFailed, "OpenSSL produced an ECDSA signature that is not strict DER: \(what)")
        }
        guard der.count >= 8, der[0] == 0x30, der[1] < 0x80, Int(der[1]) == der.count - 2 else {
            throw failure("SEQUENCE header")
        }
        var raw = [UInt8](repeating: 0, count: 2 * scalarLength)
        var cursor = 2
        for component in 0..<2 {
            guard cursor + 2 <= der.count, der[cursor] == 0x02, der[cursor + 1] < 0x80 else {
                throw failure("INTEGER header")
            }
            let length = Int(der[cursor + 1])
            cursor += 2
            guard length >= 1, cursor + length <= der.count else { throw failure("INTEGER length") }
            var value = der[cursor..<cursor + length]
            cursor += length
            guard value.first! < 0x80 else { throw failure("negative INTEGER") }
            if value.count > 1, value.first == 0 {
                guard value[value.startIndex + 1] >= 0x80 else { throw failure("non-minimal INTEGER") }
                value = value.dropFirst()
            }
            guard value.count <= scalarLength else { throw failure("INTEGER longer than \(scalarLength) bytes") }
            let end = (component + 1) * scalarLength
            raw.replaceSubrange(end - value.count..<end, with: value)
        }
        guard cursor == der.count else { throw failure("trailing bytes") }
        return raw
    }
}
