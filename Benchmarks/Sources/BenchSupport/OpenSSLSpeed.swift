import ParleyCrypto

/// `openssl speed`, the reference for signatures: OpenSSL's own loop on one core, in CPU time.
public enum OpenSSLSpeed {
    /// The `openssl speed` name of each algorithm.
    public static func name(_ algorithm: SignatureAlgorithm) -> String {
        switch algorithm {
        case .edDSA: "ed25519"
        case .es256: "ecdsap256"
        case .es384: "ecdsap384"
        }
    }

    /// Signs and verifies per second of `algorithms`, from `openssl speed -seconds N ...`.
    public static func run(
        _ openssl: String = "openssl",
        seconds: Int,
        _ algorithms: [SignatureAlgorithm]
    )
        throws -> [SignatureAlgorithm: (sign: Double, verify: Double)]
    {
        parse(try runTool(openssl, ["speed", "-seconds", String(seconds)] + algorithms.map(name)))
    }

    /// sign/s and verify/s from `openssl speed` output lines such as
    /// ` 256 bits ecdsa (nistp256)   0.0000s   0.0001s  29402.0  12914.0`.
    public static func parse(_ output: String) -> [SignatureAlgorithm: (sign: Double, verify: Double)] {
        var result: [SignatureAlgorithm: (sign: Double, verify: Double)] = [:]
        for line in output.split(separator: "\n") {
            let algorithm: SignatureAlgorithm
            if line.contains("(Ed25519)") {
                algorithm = .edDSA
            } else if line.contains("(nistp256)") {
                algorithm = .es256
            } else if line.contains("(nistp384)") {
                algorithm = .es384
            } else {
                continue
            }
            let numbers = line.split(separator: " ").compactMap { Double($0) }
            guard numbers.count >= 2 else { continue }
            result[algorithm] = (numbers[numbers.count - 2], numbers[numbers.count - 1])
        }
        return result
    }
}
