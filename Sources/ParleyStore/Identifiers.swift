import Foundation
import ParleyProtocol

extension MessageID {
    /// The id of a stored 16-byte blob; nil for any other length.
    init?(_ data: Data) {
        guard data.count == 16 else { return nil }
        try? self.init(bytes: [UInt8](data))
    }

    /// The 16 bytes as SQLite binds and returns them.
    var data: Data { Data(bytes) }

    /// Bytewise order, as ARCHIVE.md sorts references.
    func precedes(_ other: MessageID) -> Bool { bytes.lexicographicallyPrecedes(other.bytes) }
}

/// Participant ids (wire tables: 1–64 chars of `A–Z 0–9 -`, first a letter or digit).
enum ParticipantIDRule {
    static func isValid(_ pid: String) -> Bool {
        let utf8 = Array(pid.utf8)
        guard (1...64).contains(utf8.count) else { return false }
        for (index, byte) in utf8.enumerated() {
            let letterOrDigit = (0x41...0x5A).contains(byte) || (0x30...0x39).contains(byte)
            if letterOrDigit { continue }
            if byte == 0x2D && index > 0 { continue }
            return false
        }
        return true
    }

    static func check(_ pid: String, _ role: String, file: String = #fileID, line: Int = #line) throws(StoreError) {
        guard isValid(pid) else {
            throw StoreError(.invalidArgument, "\(role) \(pid.debugDescription) is not a participant id (1–64 of A–Z 0–9 -, starting with a letter or digit)", file: file, line: line)
        }
    }
}

extension Data {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    init?(hexString: String) {
        let chars = Array(hexString.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        self.init(bytes)
    }
}
