import Foundation
import ParleyTestSupport

/// A JSON value that keeps number literals as written, so that integers beyond 64 bits compare exactly.
indirect enum JSONValue: Equatable {
    case number(String)
    case string(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    subscript(key: String) -> JSONValue? {
        guard case .object(let fields) = self else { return nil }
        return fields.first(where: { $0.0 == key })?.1
    }

    var string: String? {
        guard case .string(let s) = self else { return nil }
        return s
    }
    var array: [JSONValue]? {
        guard case .array(let a) = self else { return nil }
        return a
    }
    var bool: Bool? {
        guard case .bool(let b) = self else { return nil }
        return b
    }
}

/// A small strict JSON parser for test vector files.
struct JSONParser {
    private let scalars: [UInt8]
    private var i = 0

    static func parse(_ data: Data) throws -> JSONValue {
        var parser = JSONParser(scalars: Array(data))
        parser.skipSpace()
        let value = try parser.value()
        parser.skipSpace()
        guard parser.i == parser.scalars.count else { throw ParseError(offset: parser.i) }
        return value
    }

    struct ParseError: Error { var offset: Int }

    private init(scalars: [UInt8]) { self.scalars = scalars }

    private mutating func skipSpace() {
        while i < scalars.count, [0x20, 0x0A, 0x0D, 0x09].contains(scalars[i]) { i += 1 }
    }

    private mutating func expect(_ literal: String) throws {
        for byte in literal.utf8 {
            guard i < scalars.count, scalars[i] == byte else { throw ParseError(offset: i) }
            i += 1
        }
    }

    private mutating func value() throws -> JSONValue {
        guard i < scalars.count else { throw ParseError(offset: i) }
        switch scalars[i] {
        case UInt8(ascii: "{"):
            i += 1
            var fields: [(String, JSONValue)] = []
            skipSpace()
            if scalars[i] == UInt8(ascii: "}") {
                i += 1
                return .object(fields)
            }
            while true {
                skipSpace()
                guard case .string(let key) = try value() else { throw ParseError(offset: i) }
                skipSpace()
                try expect(":")
                skipSpace()
                fields.append((key, try value()))
                skipSpace()
                if scalars[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                try expect("}")
                return .object(fields)
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if scalars[i] == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            while true {
                skipSpace()
                items.append(try value())
                skipSpace()
                if scalars[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                try expect("]")
                return .array(items)
            }
        case UInt8(ascii: "\""):
            i += 1
            var units: [UInt16] = []
            while scalars[i] != UInt8(ascii: "\"") {
                if scalars[i] == UInt8(ascii: "\\") {
                    i += 1
                    let c = scalars[i]
                    i += 1
                    switch c {
                    case UInt8(ascii: "n"): units.append(0x0A)
                    case UInt8(ascii: "t"): units.append(0x09)
                    case UInt8(ascii: "r"): units.append(0x0D)
                    case UInt8(ascii: "b"): units.append(0x08)
                    case UInt8(ascii: "f"): units.append(0x0C)
                    case UInt8(ascii: "u"):
                        let hex = String(decoding: scalars[i..<i + 4], as: UTF8.self)
                        guard let unit = UInt16(hex, radix: 16) else { throw ParseError(offset: i) }
                        units.append(unit)
                        i += 4
                    default: units.append(UInt16(c))
                    }
                } else {
                    let start = i
                    while scalars[i] != UInt8(ascii: "\"") && scalars[i] != UInt8(ascii: "\\") { i += 1 }
                    units.append(contentsOf: String(decoding: scalars[start..<i], as: UTF8.self).utf16)
                }
            }
            i += 1
            return .string(String(decoding: units, as: UTF16.self))
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        default:
            let start = i
            while i < scalars.count, "+-0123456789.eE".utf8.contains(scalars[i]) { i += 1 }
            guard i > start else { throw ParseError(offset: i) }
            return .number(String(decoding: scalars[start..<i], as: UTF8.self))
        }
    }
}

/// Decimal text of a big-endian unsigned magnitude (for CBOR bignums).
func decimalString(bigEndian bytes: [UInt8]) -> String {
    var digits: [UInt8] = [0]  // little-endian base-10 digits
    for byte in bytes {
        var carry = Int(byte)
        for k in digits.indices {
            let v = Int(digits[k]) * 256 + carry
            digits[k] = UInt8(v % 10)
            carry = v / 10
        }
        while carry > 0 {
            digits.append(UInt8(carry % 10))
            carry /= 10
        }
    }
    while digits.count > 1 && digits.last == 0 { digits.removeLast() }
    return String(digits.reversed().map { Character(String($0)) })
}

/// Decimal text of `magnitude + 1` (for negative bignums, −1 − n).
func decimalStringPlusOne(bigEndian bytes: [UInt8]) -> String {
    var bytes = bytes
    var k = bytes.count - 1
    while k >= 0 {
        guard bytes[k] == 0xFF else {
            bytes[k] += 1
            break
        }
        bytes[k] = 0
        k -= 1
    }
    if k < 0 { bytes.insert(1, at: 0) }
    return decimalString(bigEndian: bytes)
}

/// The file next to this test file's `Vectors/` folder.
func vectorURL(_ name: String, filePath: String = #filePath) -> URL {
    URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Vectors").appendingPathComponent(
        name
    )
}
