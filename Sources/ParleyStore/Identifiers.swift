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

extension ParticipantID {
    /// A participant id read from the store (written only from checked ids: anything else is damage).
    static func stored(_ text: String) throws(StoreError) -> ParticipantID {
        do { return try ParticipantID(text) } catch {
            throw StoreError(
                .corrupt,
                "the store holds \(text.debugDescription) where a participant id belongs; check the store with `checkIntegrity()` and report this"
            )
        }
    }
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
            throw StoreError(
                .invalidArgument,
                "\(role) \(pid.debugDescription) is not a participant id (1–64 of A–Z 0–9 -, starting with a letter or digit)",
                file: file,
                line: line
            )
        }
    }
}
