import ParleyCodec

/// A WGS 84 position in microdegrees; on the wire `[lat, lon]`.
public struct Position: Sendable, Hashable, CustomStringConvertible {
    public static let latitudeRange: ClosedRange<Int64> = -90_000_000...90_000_000
    public static let longitudeRange: ClosedRange<Int64> = -180_000_000...180_000_000

    public let latitudeMicrodegrees: Int32
    public let longitudeMicrodegrees: Int32

    public init(latitudeMicrodegrees: Int64, longitudeMicrodegrees: Int64) throws {
        guard Self.latitudeRange.contains(latitudeMicrodegrees) else {
            throw ProtocolError(.invalidField, "latitude \(latitudeMicrodegrees) µ° is out of range −90 000 000…90 000 000 µ°")
        }
        guard Self.longitudeRange.contains(longitudeMicrodegrees) else {
            throw ProtocolError(.invalidField, "longitude \(longitudeMicrodegrees) µ° is out of range −180 000 000…180 000 000 µ°")
        }
        self.latitudeMicrodegrees = Int32(latitudeMicrodegrees)
        self.longitudeMicrodegrees = Int32(longitudeMicrodegrees)
    }

    /// From decimal degrees, rounded half away from zero to whole microdegrees.
    public init(latitude: Double, longitude: Double) throws {
        guard latitude.isFinite, longitude.isFinite else {
            throw ProtocolError(.invalidField, "coordinates must be finite numbers of degrees")
        }
        try self.init(latitudeMicrodegrees: Int64((latitude * 1_000_000).rounded(.toNearestOrAwayFromZero)),
                      longitudeMicrodegrees: Int64((longitude * 1_000_000).rounded(.toNearestOrAwayFromZero)))
    }

    public var latitude: Double { Double(latitudeMicrodegrees) / 1_000_000 }
    public var longitude: Double { Double(longitudeMicrodegrees) / 1_000_000 }

    public var description: String {
        func format(_ micro: Int32, _ positive: String, _ negative: String) -> String {
            let magnitude = abs(Int64(micro))
            return "\(magnitude / 1_000_000).\(String(magnitude % 1_000_000).leftPadded(to: 6))°\(micro < 0 ? negative : positive)"
        }
        return "\(format(latitudeMicrodegrees, "N", "S")) \(format(longitudeMicrodegrees, "E", "W"))"
    }

    var cbor: CBOR { [.integer(Int64(latitudeMicrodegrees)), .integer(Int64(longitudeMicrodegrees))] }

    init(cbor item: CBOR, field: String) throws {
        let pair = try Field.array(item, field, count: 2...2)
        let lat = try Field.int(Self.latitudeRange, unit: "µ° latitude")(pair[0], field + "[0]")
        let lon = try Field.int(Self.longitudeRange, unit: "µ° longitude")(pair[1], field + "[1]")
        try self.init(latitudeMicrodegrees: lat, longitudeMicrodegrees: lon)
    }

    static func parse(_ item: CBOR, _ field: String) throws -> Position { try Position(cbor: item, field: field) }
}

/// A launch or impact area: a polygon of 3…64 vertices, or a circle with a radius in metres.
public enum Area: Sendable, Hashable, CustomStringConvertible {
    case polygon([Position])
    case circle(center: Position, radiusMetres: UInt32)

    public static let vertexCount = 3...64
    public static let radiusRange: ClosedRange<UInt64> = 1...2_000_000

    public var description: String {
        switch self {
        case .polygon(let vertices): return "polygon " + vertices.map(\.description).joined(separator: ", ")
        case .circle(let center, let radius): return "circle of \(radius) m around \(center)"
        }
    }

    func validate(field: String) throws {
        switch self {
        case .polygon(let vertices):
            guard Self.vertexCount.contains(vertices.count) else {
                throw ProtocolError(.invalidField, field: field, "a polygon needs 3…64 vertices, found \(vertices.count)")
            }
        case .circle(_, let radius):
            guard Self.radiusRange.contains(UInt64(radius)) else {
                throw ProtocolError(.invalidField, field: field, "radius \(radius) m is out of range 1…2 000 000 m")
            }
        }
    }

    var cbor: CBOR {
        switch self {
        case .polygon(let vertices): return [1, .array(vertices.map(\.cbor))]
        case .circle(let center, let radius): return [2, center.cbor, .unsignedInteger(UInt64(radius))]
        }
    }

    static func parse(_ item: CBOR, _ field: String) throws -> Area {
        let parts = try Field.array(item, field, count: 2...3)
        switch (parts[0], parts.count) {
        case (.unsignedInteger(1), 2):
            let vertices = try Field.array(parts[1], field + "[1]", count: vertexCount)
            return .polygon(try vertices.enumerated().map { try Position(cbor: $1, field: "\(field)[1][\($0)]") })
        case (.unsignedInteger(2), 3):
            let center = try Position(cbor: parts[1], field: field + "[1]")
            let radius = try Field.uint(radiusRange, unit: "m")(parts[2], field + "[2]")
            return .circle(center: center, radiusMetres: UInt32(radius))
        default:
            throw ProtocolError(.invalidField, field: field, "an area is [1, [vertices]] (polygon) or [2, center, radius] (circle)")
        }
    }
}

/// An ISO 3166-1 alpha-2 country code, e.g. `FR`.
public struct CountryCode: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) throws {
        let utf8 = Array(rawValue.utf8)
        guard utf8.count == 2, utf8.allSatisfy({ (0x41...0x5A).contains($0) }) else {
            throw ProtocolError(.invalidField, "country \"\(rawValue)\" must be an ISO 3166-1 alpha-2 code: two letters A–Z")
        }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    static func parse(_ item: CBOR, _ field: String) throws -> CountryCode {
        guard case .textString(let text) = item else {
            throw ProtocolError(.invalidField, field: field, "must be a country code (text), found \(item.kindName)")
        }
        do { return try CountryCode(text) } catch var error as ProtocolError {
            error.field = field
            throw error
        }
    }
}

/// Free text with its BCP 47 language tag; on the wire `[lang, text]`.
public struct LocalizedText: Sendable, Hashable {
    public let language: String
    public let text: String

    public init(language: String, text: String, maximumLength: Int = 65_536) throws {
        try Self.checkLanguage(language, field: "")
        try Field.checkText(text, maximum: maximumLength, field: "")
        self.language = language
        self.text = text
    }

    static func checkLanguage(_ tag: String, field: String) throws {
        let utf8 = Array(tag.utf8)
        let first = utf8.split(separator: 0x2D, omittingEmptySubsequences: false).first ?? []
        let isLetter: (UInt8) -> Bool = { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
        guard (1...35).contains(utf8.count),
              utf8.allSatisfy({ isLetter($0) || (0x30...0x39).contains($0) || $0 == 0x2D }),
              (2...8).contains(first.count), first.allSatisfy(isLetter),
              !tag.contains("--"), !tag.hasSuffix("-")
        else {
            throw ProtocolError(.invalidField, field: field, "\"\(tag.prefix(40))\" is not a BCP 47 language tag (e.g. en, fr, ru, zh-Hans)")
        }
    }

    var cbor: CBOR { [.textString(language), .textString(text)] }

    static func parser(maximumLength: Int) -> (CBOR, String) throws -> LocalizedText {
        { item, field in
            let pair = try Field.array(item, field, count: 2...2)
            guard case .textString(let language) = pair[0] else {
                throw ProtocolError(.invalidField, field: field + "[0]", "language tag must be text")
            }
            try checkLanguage(language, field: field + "[0]")
            let text = try Field.text(maximumLength)(pair[1], field + "[1]")
            return try LocalizedText(language: language, text: text, maximumLength: maximumLength)
        }
    }
}
