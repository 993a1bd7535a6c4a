internal import COpenSSL

/// One-shot message digests.
public enum Digest {
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        compute(bytes, with: .sha256)
    }

    public static func sha384(_ bytes: [UInt8]) -> [UInt8] {
        compute(bytes, with: .sha384)
    }

    static func compute(_ bytes: [UInt8], with digest: FetchedDigest) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: digest.size)
        let status = bytes.withUnsafeBytes { input in
            output.withUnsafeMutableBufferPointer { digest.digest(input, into: $0) }
        }
        // A fetched SHA-2 digest only fails on allocation failure.
        precondition(status, "SHA-2 digest failed: \(OpenSSLErrorQueue.drain())")
        return output
    }
}
