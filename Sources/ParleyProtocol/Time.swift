import Foundation

/// A UTC instant in whole seconds since 1970-01-01T00:00:00Z; on the wire `#6.1(uint)`.
public struct UTCTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var secondsSince1970: Int64

    public init(secondsSince1970: Int64) { self.secondsSince1970 = secondsSince1970 }

    public init(_ date: Date) { secondsSince1970 = Int64(date.timeIntervalSince1970.rounded(.down)) }

    public static var now: UTCTime { UTCTime(Date()) }

    public var date: Date { Date(timeIntervalSince1970: TimeInterval(secondsSince1970)) }

    public static func < (lhs: UTCTime, rhs: UTCTime) -> Bool { lhs.secondsSince1970 < rhs.secondsSince1970 }

    public static func + (lhs: UTCTime, seconds: Int64) -> UTCTime {
        UTCTime(secondsSince1970: lhs.secondsSince1970 + seconds)
    }

    /// RFC 3339 with a `Z` offset, e.g. `2026-12-01T06:00:00Z`.
    public var description: String {
        let days = secondsSince1970 >= 0 ? secondsSince1970 / 86_400 : (secondsSince1970 - 86_399) / 86_400
        let secondOfDay = secondsSince1970 - days * 86_400
        let date = CalendarDate(daysSince1970: days)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ",
            date.year,
            date.month,
            date.day,
            secondOfDay / 3600,
            secondOfDay / 60 % 60,
            secondOfDay % 60
        )
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC, no fractions; every field its exact digits).
    public init(rfc3339 text: String) throws {
        let utf8 = Array(text.utf8)
        guard utf8.count == 20, utf8[10] == UInt8(ascii: "T"), utf8[13] == UInt8(ascii: ":"),
            utf8[16] == UInt8(ascii: ":"),
            utf8[19] == UInt8(ascii: "Z"),
            let h = CalendarDate.digits(utf8[11..<13]), let m = CalendarDate.digits(utf8[14..<16]),
            let s = CalendarDate.digits(utf8[17..<19]),
            h <= 23, m <= 59, s <= 59
        else {
            throw ProtocolError(.invalidField, "time \"\(text)\" must be RFC 3339 UTC, like 2026-12-01T06:00:00Z")
        }
        let date = try CalendarDate(utf8: utf8[0..<10], text: { String(decoding: utf8[0..<10], as: UTF8.self) })
        self.init(secondsSince1970: date.daysSince1970 * 86_400 + Int64(h * 3600 + m * 60 + s))
    }
}

/// A calendar date (RFC 8943 full-date); on the wire `#6.1004("YYYY-MM-DD")`.
public struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init(year: Int, month: Int, day: Int) throws {
        guard (1...9999).contains(year), (1...12).contains(month),
            (1...Self.daysIn(month: month, year: year)).contains(day)
        else {
            throw ProtocolError(.invalidField, "\(year)-\(month)-\(day) is not a calendar date")
        }
        (self.year, self.month, self.day) = (year, month, day)
    }

    public init(_ text: String) throws {
        try self.init(utf8: Array(text.utf8)[...], text: { text })
    }

    /// `YYYY-MM-DD` from its UTF-8 bytes; `text` (for the error) is made only when they are wrong.
    init(utf8: ArraySlice<UInt8>, text: () -> String) throws {
        let start = utf8.startIndex
        guard utf8.count == 10, utf8[start + 4] == UInt8(ascii: "-"), utf8[start + 7] == UInt8(ascii: "-"),
            let y = Self.digits(utf8[start..<start + 4]), let m = Self.digits(utf8[start + 5..<start + 7]),
            let d = Self.digits(utf8[start + 8..<start + 10])
        else {
            throw ProtocolError(.invalidField, "date \"\(text())\" must be YYYY-MM-DD")
        }
        try self.init(year: y, month: m, day: d)
    }

    /// The value of a run of ASCII digits; nil if any byte is not a digit.
    static func digits(_ bytes: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    init(daysSince1970 days: Int64) {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        (year, month, day) = (Int(yoe + era * 400) + (m <= 2 ? 1 : 0), m, d)
    }

    var daysSince1970: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}
