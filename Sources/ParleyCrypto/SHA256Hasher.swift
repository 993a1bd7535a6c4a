internal import COpenSSL

/// SHA-256 over data that arrives in pieces, e.g. a file too large to hold in memory.
/// `finalize()` ends the computation; the hasher cannot be updated afterwards.
public final class SHA256Hasher {
    private let context: OpaquePointer
    private var finished = false

    public init() {
        guard let context = EVP_MD_CTX_new() else {
            fatalError("cannot allocate EVP_MD_CTX: \(OpenSSLErrorQueue.drain())")
        }
        // EVP_DigestInit_ex on a fetched SHA-256 only fails on allocation failure.
        guard EVP_DigestInit_ex(context, FetchedDigest.sha256.pointer, nil) == 1 else {
            fatalError("EVP_DigestInit_ex failed: \(OpenSSLErrorQueue.drain())")
        }
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    public func update<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        precondition(!finished, "SHA256Hasher updated after finalize()")
        let context = self.context
        let contiguous: Bool? = bytes.withContiguousStorageIfAvailable { (buffer: UnsafeBufferPointer<UInt8>) -> Bool in
            EVP_DigestUpdate(context, buffer.baseAddress, buffer.count) == 1
        }
        let status: Bool =
            contiguous
            ?? Array(bytes).withUnsafeBufferPointer { (buffer: UnsafeBufferPointer<UInt8>) -> Bool in
                EVP_DigestUpdate(context, buffer.baseAddress, buffer.count) == 1
            }
        precondition(status, "EVP_DigestUpdate failed: \(OpenSSLErrorQueue.drain())")
    }

    /// The digest of everything passed to `update`; call once.
    public func finalize() -> [UInt8] {
        precondition(!finished, "SHA256Hasher finalized twice")
        finished = true
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let status = output.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        precondition(status == 1 && length == 32, "EVP_DigestFinal_ex failed: \(OpenSSLErrorQueue.drain())")
        return output
    }
}
