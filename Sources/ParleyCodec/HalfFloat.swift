/// IEEE 754 binary16 conversions, written out so they behave the same on every platform.
enum HalfFloat {
    /// The value of a binary16 bit pattern (RFC 8949 Appendix D).
    static func decode(_ bits: UInt16) -> Double {
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = Double(bits & 0x3FF)
        let magnitude: Double
        switch exponent {
        case 0: magnitude = mantissa * 0x1p-24
        case 31: magnitude = mantissa == 0 ? .infinity : .nan
        default: magnitude = (mantissa + 1024) * Double(sign: .plus, exponent: exponent - 25, significand: 1)
        }
        return bits & 0x8000 != 0 ? -magnitude : magnitude
    }

    /// The binary16 bit pattern of `value` when it is exactly representable, else nil. NaN gives nil.
    static func exactBits(of value: Double) -> UInt16? {
        if value.isNaN { return nil }
        let sign: UInt16 = value.sign == .minus ? 0x8000 : 0
        let magnitude = abs(value)
        if magnitude == 0 { return sign }
        if magnitude.isInfinite { return sign | 0x7C00 }
        // Subnormal halves: multiples of 2^-24 below 2^-14.
        if magnitude < 0x1p-14 {
            let scaled = magnitude * 0x1p24
            guard scaled == scaled.rounded(.towardZero) else { return nil }
            return sign | UInt16(scaled)
        }
        let exponent = magnitude.exponent
        guard exponent <= 15 else { return nil }
        let significand = magnitude.significand  // in [1, 2)
        let mantissa = (significand - 1) * 1024
        guard mantissa == mantissa.rounded(.towardZero) else { return nil }
        return sign | UInt16(exponent + 15) << 10 | UInt16(mantissa)
    }
}
