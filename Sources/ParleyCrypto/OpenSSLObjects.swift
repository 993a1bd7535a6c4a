internal import COpenSSL
import Synchronization

// Thin owners of long-lived OpenSSL objects: each frees its pointer in deinit. They are
// @unchecked Sendable because after construction ParleyCrypto only uses them through OpenSSL
// calls that are safe to make concurrently on a shared, unmodified object (signing and verifying
// with an EVP_PKEY, reading an X509 or X509_CRL, X509_STORE_CTX_init on a populated X509_STORE).

/// Owns an `EVP_PKEY`, and small pools of contexts initialised for signing and verifying with it.
///
/// A context serves one call at a time and is then returned, so a call neither initialises a context
/// (which fetches the algorithm) nor copies one: the same reuse `openssl speed` measures. Ed25519 keys
/// pool `EVP_MD_CTX`s for `EVP_DigestSign`/`EVP_DigestVerify` (one-shot calls leave them reusable);
/// ECDSA keys pool `EVP_PKEY_CTX`s for `EVP_PKEY_sign`/`EVP_PKEY_verify` on a digest computed first.
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer
    /// Whether contexts are `EVP_PKEY_CTX`s over a precomputed digest (ECDSA) or `EVP_MD_CTX`s (Ed25519).
    let signsDigests: Bool
    /// Idle contexts' addresses, plain integers so they can live in a Mutex.
    private let idle = Mutex<(sign: [UInt], verify: [UInt])>(([], []))
    /// Contexts kept per operation; more concurrent calls make and free their own.
    static let poolLimit = 16

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
        signsDigests = EVP_PKEY_get_base_id(pointer) != parley_EVP_PKEY_ED25519()
    }

    deinit {
        let (sign, verify) = idle.withLock { $0 }
        for address in sign + verify { free(address) }
        EVP_PKEY_free(pointer)
    }

    /// Runs `body` with a context ready for this key's sign (or verify) call; nil if no context can be
    /// made (OpenSSL's error queue then says why). A context whose call failed is freed, not reused.
    func withContext(signing: Bool, _ body: (OpaquePointer) -> Bool) -> Bool? {
        let pooled = idle.withLock { idle in signing ? idle.sign.popLast() : idle.verify.popLast() }
        guard let address = pooled ?? makeContext(signing: signing), let context = OpaquePointer(bitPattern: address)
        else {
            return nil
        }
        guard body(context) else {
            free(address)
            return false
        }
        let kept = idle.withLock { idle in
            if signing, idle.sign.count < Self.poolLimit {
                idle.sign.append(address)
                return true
            }
            if !signing, idle.verify.count < Self.poolLimit {
                idle.verify.append(address)
                return true
            }
            return false
        }
        if !kept { free(address) }
        return true
    }

    private func makeContext(signing: Bool) -> UInt? {
        if signsDigests {
            guard let context = EVP_PKEY_CTX_new(pointer, nil) else { return nil }
            guard (signing ? EVP_PKEY_sign_init(context) : EVP_PKEY_verify_init(context)) == 1 else {
                EVP_PKEY_CTX_free(context)
                return nil
            }
            return UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(context)))
        }
        guard let context = EVP_MD_CTX_new() else { return nil }
        let status =
            signing
            ? EVP_DigestSignInit(context, nil, nil, nil, pointer)
            : EVP_DigestVerifyInit(context, nil, nil, nil, pointer)
        guard status == 1 else {
            EVP_MD_CTX_free(context)
            return nil
        }
        return UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(context)))
    }

    private func free(_ address: UInt) {
        if signsDigests {
            EVP_PKEY_CTX_free(OpaquePointer(bitPattern: address))
        } else {
            EVP_MD_CTX_free(OpaquePointer(bitPattern: address))
        }
    }
}

/// Owns an `X509`.
final class X509Object: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        X509_free(pointer)
    }
}

/// Owns an `X509_CRL`.
final class X509CRLObject: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        X509_CRL_free(pointer)
    }
}

/// Owns an `X509_STORE`. Populated once at construction, read-only afterwards.
final class X509StoreObject: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        X509_STORE_free(pointer)
    }
}

/// An explicitly fetched `EVP_MD`, kept for the life of the process (avoids an implicit fetch per call).
final class FetchedDigest: @unchecked Sendable {
    let pointer: OpaquePointer
    let size: Int
    /// Idle EVP_MD_CTX addresses for this digest, so a one-shot digest allocates no context.
    private let idle = Mutex<[UInt]>([])
    static let poolLimit = 16

    private init(name: String) {
        guard let pointer = EVP_MD_fetch(nil, name, nil) else {
            fatalError("OpenSSL has no \(name) digest: \(OpenSSLErrorQueue.drain())")
        }
        self.pointer = pointer
        self.size = Int(EVP_MD_get_size(pointer))
    }

    deinit {
        for address in idle.withLock({ $0 }) { EVP_MD_CTX_free(OpaquePointer(bitPattern: address)) }
        EVP_MD_free(pointer)
    }

    /// The digest of `bytes`; nil only if OpenSSL cannot allocate (its error queue says why).
    func digest(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<UInt8>) -> Bool {
        guard
            let address = idle.withLock({ $0.popLast() })
                ?? EVP_MD_CTX_new().map({ UInt(bitPattern: Int(bitPattern: UnsafeRawPointer($0))) }),
            let context = OpaquePointer(bitPattern: address)
        else { return false }
        var length: UInt32 = 0
        let ok =
            EVP_DigestInit_ex2(context, pointer, nil) == 1
            && EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1
            && EVP_DigestFinal_ex(context, output.baseAddress, &length) == 1
            && Int(length) == size
        let kept =
            ok
            && idle.withLock { idle in
                guard idle.count < Self.poolLimit else { return false }
                idle.append(address)
                return true
            }
        if !kept { EVP_MD_CTX_free(context) }
        return ok
    }

    static let sha256 = FetchedDigest(name: "SHA256")
    static let sha384 = FetchedDigest(name: "SHA384")
}

/// A memory BIO for one function's use.
struct MemoryBIO: ~Copyable {
    let pointer: OpaquePointer

    /// An empty, writable memory BIO.
    init() throws {
        guard let pointer = BIO_new(BIO_s_mem()) else {
            throw CryptoError.openSSL(.openSSLFailure, "cannot allocate a memory BIO")
        }
        self.pointer = pointer
    }

    /// A BIO reading `bytes`, which must outlive it (it does not copy).
    init(readingFrom bytes: UnsafeRawBufferPointer) throws {
        guard let pointer = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else {
            throw CryptoError.openSSL(.openSSLFailure, "cannot allocate a memory BIO")
        }
        self.pointer = pointer
    }

    deinit {
        BIO_free(pointer)
    }

    /// Everything written so far.
    var contents: [UInt8] {
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = parley_BIO_get_mem_data(pointer, &data)
        guard let data, length > 0 else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    var string: String {
        String(decoding: contents, as: UTF8.self)
    }
}
