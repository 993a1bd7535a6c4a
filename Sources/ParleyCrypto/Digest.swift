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
        var length: UInt32 = 0
        let status = bytes.withUnsafeBytes { input in
            output.withUnsafeMutableBufferPointer { out in
                EVP_Digest(input.baseAddress, input.count, out.baseAddress, &length, digest.pointer, nil)
            }
        }
        // EVP_Digest on a fetched SHA-2 only fails on allocation failure.
        precondition(status == 1 && Int(length) == digest.size, "EVP_Digest failed: \(OpenSSLErrorQueue.drain())")
        return output
    }
}
