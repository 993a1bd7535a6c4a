/// The low-S rule of Protocol/SPEC.md §5.3 for ES256 and ES384 signatures in `r ‖ s` form.
///
/// `(r, s)` and `(r, n − s)` are both valid ECDSA signatures of the same message; requiring
/// `s ≤ n/2` leaves exactly one, so that nobody but the signer can produce other valid bytes for a
/// signed object.
public enum ECDSALowS {
    static let p256Order = SignatureAlgorithm.es256.groupOrder!
    static let p384Order = SignatureAlgorithm.es384.groupOrder!

    static let p256HalfOrder = halfOrder(p256Order)
    static let p384HalfOrder = halfOrder(p384Order)

    static func order(of algorithm: SignatureAlgorithm) -> [UInt8]? {
        switch algorithm {
        case .es256: return p256Order
        case .es384: return p384Order
        case .edDSA: return nil
        }
    }

    /// True when `signature` is not ECDSA, or its `s` is at most half the group order.
    public static func isLowS(_ signature: [UInt8], algorithm: SignatureAlgorithm) -> Bool {
        let half: [UInt8]
        switch algorithm {
        case .es256: half = p256HalfOrder
        case .es384: half = p384HalfOrder
        case .edDSA: return true
        }
        guard signature.count == 2 * half.count else { return false }
        let s = signature[half.count...]
        return s.lexicographicallyPrecedes(half) || s.elementsEqual(half)
    }

    /// Replaces `s` by `n − s` in place when `s > n/2`.
    static func normalize(_ signature: inout [UInt8], algorithm: SignatureAlgorithm) {
        guard !isLowS(signature, algorithm: algorithm), let n = order(of: algorithm), signature.count == 2 * n.count
        else { return }
        replaceSWithOrderMinusS(&signature, order: n)
    }

    /// The same signature with `s` replaced by `n − s` when `s > n/2`.
    public static func normalized(_ signature: [UInt8], algorithm: SignatureAlgorithm) -> [UInt8] {
        isLowS(signature, algorithm: algorithm) ? signature : twin(of: signature, algorithm: algorithm)
    }

    /// `(r, n − s)`: the other valid ECDSA signature of the same message. Unchanged for EdDSA or a
    /// signature of the wrong length.
    public static func twin(of signature: [UInt8], algorithm: SignatureAlgorithm) -> [UInt8] {
        guard let n = order(of: algorithm), signature.count == 2 * n.count else { return signature }
        var twin = signature
        replaceSWithOrderMinusS(&twin, order: n)
        return twin
    }

    /// `s ← n − s` on the second half of `r‖s` (big-endian, `n` as wide as `s`, `s ≤ n`).
    private static func replaceSWithOrderMinusS(_ signature: inout [UInt8], order n: [UInt8]) {
        var borrow = 0
        for i in n.indices.reversed() {
            var d = Int(n[i]) - Int(signature[n.count + i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            signature[n.count + i] = UInt8(d)
        }
    }

    /// ⌊n / 2⌋ as big-endian bytes of the same width.
    static func halfOrder(_ n: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: n.count)
        var carry: UInt8 = 0
        for i in n.indices {
            result[i] = (n[i] >> 1) | carry
            carry = (n[i] & 1) << 7
        }
        return result
    }
}
