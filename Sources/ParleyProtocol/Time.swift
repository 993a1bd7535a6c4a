import Foundation

/// A UTC instant in whole seconds since 1970-01-01T00:00:00Z; on the wire `#6.1(uint)`.
public struct UTCTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var secondsSince1970: Int64

    public init(secondsSince1970: Int64) { self.secondsSince1970 = secondsSince1970 }

    public init(_ date: Date) { secondsSince1970 = Int64(date.timeIntervalSince1970.rounded(.down)) }

    public static var now: UTCTime { UTCTime(Date()) }

    public var date: Date { Date(timeIntervalSince1970: TimeInterval(secondsSince1970)) }

    public static func < (lhs: UTCTime, rhs: UTCTime) -> Bool { lhs.secondsSince1970 < rhs.secondsSince1970 }

    public static func + (lhs: UTCTime, seconds: Int64) -> UTCTime { UTCTime(secondsSince1970: lhs.secondsSince1970 + seconds) }

    /// RFC 3339 with a `Z` offset, e.g. `2026-12-01T06:00:00Z`.
    public var description: String {
        let days = secondsSince1970 >= 0 ? secondsSince1970 / 86_400 : (secondsSince1970 - 86_399) / 86_400
        let secondOfDay = secondsSince1970 - days * 86_400
        let date = CalendarDate(daysSince1970: days)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", date.year, date.month, date.day,
                      secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC, no fractions).
    public init(rfc3339 text: String) throws {
        let parts = text.split(separator: "T", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].hasSuffix("Z") else {
            throw ProtocolError(.invalidField, "time \"\(text)\" must be RFC 3339 UTC, like 2026-12-01T06:00:00Z")
        }
        let date = try CalendarDate(String(parts[0]))
        let clock = parts[1].dropLast().split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, clock.allSatisfy({ $0.count == 2 }),
              let h = Int64(clock[0]), let m = Int64(clock[1]), let s = Int64(clock[2]),
              (0...23).contains(h), (0...59).contains(m), (0...59).contains(s)
        else {
            throw ProtocolError(.invalidField, "time \"\(text)\" must be RFC 3339 UTC, like 2026-12-01T06:00:00Z")
        }
        self.init(secondsSince1970: date.daysSince1970 * 86_400 + h * 3600 + m * 60 + s)
    }
}

/// A calendar date (RFC 8943 full-date); on the wire `#6.1004("YYYY-MM-DD")`.
public struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init(year: Int, month: Int, day: Int) throws {
        guard (1...9999).contains(year), (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day) else {
            throw ProtocolError(.invalidField, "\(year)-\(month)-\(day) is not a calendar date")
        }
        (self.year, self.month, self.day) = (year, month, day)
    }

    public init(_ text: String) throws {
        let utf8 = Array(text.utf8)
        guard utf8.count == 10, utf8[4] == 0x2D, utf8[7] == 0x2D,
              let y = Int(String(decoding: utf8[0..<4], as: UTF8.self)),
              let m = Int(String(decoding: utf8[5..<7], as: UTF8.self)),
              let d = Int(String(decoding: utf8[8..<10], as: UTF8.self)),
              [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy({ (0x30...0x39).contains(utf8[$0]) })
        else {
            throw ProtocolError(.invalidField, "date \"\(text)\" must be YYYY-MM-DD")
        }
        try self.init(year: y, month: m, day: d)
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
