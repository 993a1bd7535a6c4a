/// One CBOR data item (RFC 8949).
///
/// Integers keep CBOR's two major types so that the whole range −2⁶⁴ … 2⁶⁴−1 is representable:
/// `.negativeInteger(n)` is the value −1 − n. Maps keep their entries in order; the deterministic
/// encoder sorts them, the strict decoder requires them sorted.
public enum CBOR: Sendable, Hashable {
    case unsignedInteger(UInt64)
    case negativeInteger(UInt64)
    case byteString([UInt8])
    case textString(String)
    case array([CBOR])
    case map(CBORMap)
    indirect case tagged(UInt64, CBOR)
    case boolean(Bool)
    case null
    case undefined
    /// A simple value other than false, true, null and undefined (0…19, 32…255).
    case simple(UInt8)
    case float(Double)
}

extension CBOR {
    /// An integer item for any `Int` value.
    public static func integer(_ value: Int) -> CBOR {
        value >= 0 ? .unsignedInteger(UInt64(value)) : .negativeInteger(UInt64(-1 - value))
    }

    public static func integer(_ value: Int64) -> CBOR {
        value >= 0 ? .unsignedInteger(UInt64(value)) : .negativeInteger(UInt64(-1 - value))
    }

    /// The value as a Swift `Int`, when it is an integer that fits.
    public var intValue: Int? {
        switch self {
        case .unsignedInteger(let n): return n <= UInt64(Int.max) ? Int(n) : nil
        case .negativeInteger(let n): return n <= UInt64(Int.max) ? -1 - Int(n) : nil
        default: return nil
        }
    }

    public var uint64Value: UInt64? {
        if case .unsignedInteger(let n) = self { return n }
        return nil
    }

    public var bytesValue: [UInt8]? {
        if case .byteString(let b) = self { return b }
        return nil
    }

    public var textValue: String? {
        if case .textString(let s) = self { return s }
        return nil
    }

    public var arrayValue: [CBOR]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var mapValue: CBORMap? {
        if case .map(let m) = self { return m }
        return nil
    }

    public var boolValue: Bool? {
        if case .boolean(let b) = self { return b }
        return nil
    }

    /// The major type's name, for error messages ("unsigned integer", "map", …).
    public var kindName: String {
        switch self {
        case .unsignedInteger: return "unsigned integer"
        case .negativeInteger: return "negative integer"
        case .byteString: return "byte string"
        case .textString: return "text string"
        case .array: return "array"
        case .map: return "map"
        case .tagged(let tag, _): return "tag \(tag)"
        case .boolean: return "boolean"
        case .null: return "null"
        case .undefined: return "undefined"
        case .simple: return "simple value"
        case .float: return "float"
        }
    }
}

extension CBOR: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByBooleanLiteral
{
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .textString(value) }
    public init(arrayLiteral elements: CBOR...) { self = .array(elements) }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
}
