internal import COpenSSL
import Synchronization

// Thin owners of long-lived OpenSSL objects: each frees its pointer in deinit. They are
// @unchecked Sendable because after construction ParleyCrypto only uses them through OpenSSL
// calls that are safe to make concurrently on a shared, unmodified object (signing and verifying
// with an EVP_PKEY, reading an X509 or X509_CRL, X509_STORE_CTX_init on a populated X509_STORE).

/// Owns an `EVP_PKEY`, and the initialised signing or verifying contexts that calls copy instead of
/// initialising their own (an `EVP_DigestSignInit` fetches the algorithm each time; a copy does not).
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer
    /// Addresses of the template `EVP_MD_CTX`s (0 until first use): plain integers so they can live in a Mutex.
    private let templates = Mutex<(sign: UInt, verify: UInt)>((0, 0))

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        let (sign, verify) = templates.withLock { $0 }
        EVP_MD_CTX_free(OpaquePointer(bitPattern: sign))
        EVP_MD_CTX_free(OpaquePointer(bitPattern: verify))
        EVP_PKEY_free(pointer)
    }

    /// A fresh context ready for `EVP_DigestSign` (or `EVP_DigestVerify`), copied from this key's
    /// template; nil if OpenSSL fails (its error queue then says why). The caller frees it.
    func initialisedContext(signing: Bool, digest: OpaquePointer?) -> OpaquePointer? {
        let key = pointer
        let address: UInt = templates.withLock { t in
            let existing = signing ? t.sign : t.verify
            if existing != 0 { return existing }
            guard let context = EVP_MD_CTX_new() else { return 0 }
            let status = signing
                ? EVP_DigestSignInit(context, nil, digest, nil, key)
                : EVP_DigestVerifyInit(context, nil, digest, nil, key)
            guard status == 1 else {
                EVP_MD_CTX_free(context)
                return 0
            }
            let created = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(context)))
            if signing { t.sign = created } else { t.verify = created }
            return created
        }
        guard let template = OpaquePointer(bitPattern: address), let context = EVP_MD_CTX_new() else { return nil }
        guard EVP_MD_CTX_copy_ex(context, template) == 1 else {
            EVP_MD_CTX_free(context)
            return nil
        }
        return context
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

    private init(name: String) {
        guard let pointer = EVP_MD_fetch(nil, name, nil) else {
            fatalError("OpenSSL has no \(name) digest: \(OpenSSLErrorQueue.drain())")
        }
        self.pointer = pointer
        self.size = Int(EVP_MD_get_size(pointer))
    }

    deinit {
        EVP_MD_free(pointer)
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
