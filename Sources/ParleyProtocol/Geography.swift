import ParleyCodec

/// A WGS 84 position in microdegrees; on the wire `[lat, lon]`.
public struct Position: Sendable, Hashable, CustomStringConvertible {
    public static let latitudeRange: ClosedRange<Int64> = -90_000_000...90_000_000
    public static let longitudeRange: ClosedRange<Int64> = -180_000_000...180_000_000

    public let latitudeMicrodegrees: Int32
    public let longitudeMicrodegrees: Int32

    public init(latitudeMicrodegrees: Int64, longitudeMicrodegrees: Int64) throws {
        guard Self.latitudeRange.contains(latitudeMicrodegrees) else {
            throw ProtocolError(
                .invalidField,
                "latitude \(latitudeMicrodegrees) µ° is out of range −90 000 000…90 000 000 µ°"
            )
        }
        guard Self.longitudeRange.contains(longitudeMicrodegrees) else {
            throw ProtocolError(
                .invalidField,
                "longitude \(longitudeMicrodegrees) µ° is out of range −180 000 000…180 000 000 µ°"
            )
        }
        self.latitudeMicrodegrees = Int32(latitudeMicrodegrees)
        self.longitudeMicrodegrees = Int32(longitudeMicrodegrees)
    }

    /// From decimal degrees, rounded half away from zero to whole microdegrees.
    public init(latitude: Double, longitude: Double) throws {
        guard latitude.isFinite, longitude.isFinite, abs(latitude) <= 1000, abs(longitude) <= 1000 else {
            throw ProtocolError(.invalidField, "coordinates must be finite numbers of degrees")
        }
        try self.init(
            latitudeMicrodegrees: Int64((latitude * 1_000_000).rounded(.toNearestOrAwayFromZero)),
            longitudeMicrodegrees: Int64((longitude * 1_000_000).rounded(.toNearestOrAwayFromZero))
        )
    }

    public var latitude: Double { Double(latitudeMicrodegrees) / 1_000_000 }
    public var longitude: Double { Double(longitudeMicrodegrees) / 1_000_000 }

    public var description: String {
        func format(_ micro: Int32, _ positive: String, _ negative: String) -> String {
            let magnitude = abs(Int64(micro))
            return
                "\(magnitude / 1_000_000).\(String(magnitude % 1_000_000).leftPadded(to: 6))°\(micro < 0 ? negative : positive)"
        }
        return "\(format(latitudeMicrodegrees, "N", "S")) \(format(longitudeMicrodegrees, "E", "W"))"
    }

    init(from reader: inout CBORReader) throws {
        let (lat, lon) = try Field.pair(
            &reader,
            { try Field.int(&$0, Self.latitudeRange, unit: "µ° latitude") },
            { try Field.int(&$0, Self.longitudeRange, unit: "µ° longitude") }
        )
        try self.init(latitudeMicrodegrees: lat, longitudeMicrodegrees: lon)
    }

    func write(to w: inout CBORWriter) {
        w.writeArrayHeader(2)
        w.writeInteger(Int64(latitudeMicrodegrees))
        w.writeInteger(Int64(longitudeMicrodegrees))
    }
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

    /// SPEC.md §4.4: the one place the area rules live; decoding and composing both call it.
    func validate() throws {
        switch self {
        case .polygon(let vertices):
            guard Self.vertexCount.contains(vertices.count) else {
                throw ProtocolError(.invalidField, "a polygon needs 3…64 vertices, found \(vertices.count)")
            }
            guard vertices.last != vertices.first else {
                throw ProtocolError(
                    .invalidField,
                    "the last vertex repeats the first; list each vertex once (the polygon is closed implicitly)"
                )
            }
        case .circle(_, let radius):
            guard Self.radiusRange.contains(UInt64(radius)) else {
                throw ProtocolError(.invalidField, "radius \(radius) m is out of range 1…2 000 000 m")
            }
        }
    }

    init(from reader: inout CBORReader) throws {
        let count = try Field.array(&reader, count: 2...3)
        let kind = try Field.named("[0]") { try reader.readUnsigned() }
        switch (kind, count) {
        case (1, 2):
            self = .polygon(
                try Field.named("[1]") {
                    let n = try Field.array(&reader, count: Self.vertexCount)
                    return try Field.elements(&reader, count: n) { try Position(from: &$0) }
                }
            )
        case (2, 3):
            let center = try Field.named("[1]") { try Position(from: &reader) }
            let radius = try Field.named("[2]") { try Field.uint(&reader, Self.radiusRange, unit: "m") }
            self = .circle(center: center, radiusMetres: UInt32(radius))
        default:
            throw ProtocolError(.invalidField, "an area is [1, [vertices]] (polygon) or [2, center, radius] (circle)")
        }
        try validate()
    }

    func write(to w: inout CBORWriter) {
        switch self {
        case .polygon(let vertices):
            w.writeArrayHeader(2)
            w.writeUnsigned(1)
            w.writeArrayHeader(vertices.count)
            for vertex in vertices { vertex.write(to: &w) }
        case .circle(let center, let radius):
            w.writeArrayHeader(3)
            w.writeUnsigned(2)
            center.write(to: &w)
            w.writeUnsigned(UInt64(radius))
        }
    }
}

/// An ISO 3166-1 alpha-2 country code, e.g. `FR`.
public struct CountryCode: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) throws {
        let utf8 = Array(rawValue.utf8)
        guard utf8.count == 2, utf8.allSatisfy({ (0x41...0x5A).contains($0) }) else {
            throw ProtocolError(
                .invalidField,
                "country \"\(rawValue)\" must be an ISO 3166-1 alpha-2 code: two letters A–Z"
            )
        }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

/// Free text with its BCP 47 language tag; on the wire `[lang, text]`.
public struct LocalizedText: Sendable, Hashable {
    public let language: String
    public let text: String

    public init(language: String, text: String, maximumLength: Int = 65_536) throws {
        try Self.checkLanguage(language)
        try Field.checkText(text, maximum: maximumLength)
        self.language = language
        self.text = text
    }

    /// 1–35 characters of `A–Z a–z 0–9 -`, subtags separated by single hyphens, the first 2–8 letters.
    static func checkLanguage(_ tag: String) throws {
        var valid = (1...35).contains(tag.utf8.count)
        var subtagLength = 0
        var inFirstSubtag = true
        for byte in tag.utf8 where valid {
            let isLetter = (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            if byte == 0x2D {
                valid = subtagLength > 0 && (!inFirstSubtag || subtagLength >= 2)
                inFirstSubtag = false
                subtagLength = 0
            } else {
                valid = isLetter || (!inFirstSubtag && (0x30...0x39).contains(byte))
                subtagLength += 1
                if inFirstSubtag && subtagLength > 8 { valid = false }
            }
        }
        valid = valid && subtagLength > 0 && (!inFirstSubtag || subtagLength >= 2)
        guard valid else {
            throw ProtocolError(
                .invalidField,
                "\"\(tag.prefix(40))\" is not a BCP 47 language tag (e.g. en, fr, ru, zh-Hans)"
            )
        }
    }

    init(from reader: inout CBORReader, maximumLength: Int) throws {
        let (language, text) = try Field.pair(
            &reader,
            { r -> String in
                let tag = try r.readTextString()
                try Self.checkLanguage(tag)
                return tag
            },
            { try Field.text(&$0, maximumLength) }
        )
        self.language = language
        self.text = text
    }

    func write(to w: inout CBORWriter) {
        w.writeArrayHeader(2)
        w.writeTextString(language)
        w.writeTextString(text)
    }
}
