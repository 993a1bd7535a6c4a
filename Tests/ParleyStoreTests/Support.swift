import Foundation
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

enum Fixture {
    static let us = "US-NRRC"
    static let ru = "RU-NRRC"
    static let hcoc = "HCOC-CC"
    static let base = Date(timeIntervalSince1970: 1_780_000_000)

    static func id(_ n: Int) -> MessageID {
        var bytes = [UInt8](repeating: 0, count: 16)
        var value = UInt64(n)
        for i in 0..<8 {
            bytes[15 - i] = UInt8(value & 0xFF)
            value >>= 8
        }
        bytes[0] = 0xA5
        return try! MessageID(bytes: bytes)
    }

    static func randomID() -> MessageID {
        try! MessageID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255) })
    }

    /// Stand-in for signed COSE bytes: unique per (label, id), `size` bytes long.
    static func bytes(_ label: String, _ id: MessageID, size: Int = 120) -> Data {
        var data = Data([0xD2, 0x84]) + Data(label.utf8) + id.data
        while data.count < size { data.append(UInt8(truncatingIfNeeded: data.count &* 31)) }
        return data
    }

    static func fields(
        _ id: MessageID,
        type: UInt64 = 11,
        created: Date = base,
        references: [MessageReference] = [],
        remarks: LocalizedText? = nil,
        label: String = "msg"
    ) -> MessageFields {
        MessageFields(
            id: id,
            bytes: bytes(label, id),
            type: type,
            created: created,
            references: references,
            remarks: remarks
        )
    }

    static func incoming(
        _ id: MessageID,
        seq: UInt64,
        from sender: String = ru,
        type: UInt64 = 11,
        created: Date = base,
        references: [MessageReference] = [],
        remarks: LocalizedText? = nil,
        label: String = "in",
        received: Date = base
    ) -> IncomingMessage {
        IncomingMessage(
            fields: fields(id, type: type, created: created, references: references, remarks: remarks, label: label),
            sender: sender.pid,
            recipient: us.pid,
            sequenceNumber: seq,
            received: received
        )
    }

    static func receipt(for message: IncomingMessage) -> Data {
        Data("receipt:".utf8) + message.fields.id.bytes + Data(message.sender.utf8)
    }

    static func sha256Hex(_ data: Data) -> String { data.sha256.hexString }
}

extension ParleyStore {
    /// Queues a message with fixed contents to `recipients`.
    @discardableResult
    func queue(
        _ id: MessageID,
        to recipients: [String] = [Fixture.ru, Fixture.hcoc],
        type: UInt64 = 11,
        references: [MessageReference] = [],
        remarks: LocalizedText? = nil,
        at: Date = Fixture.base
    ) async throws -> QueuedMessage {
        try await enqueue(sender: Fixture.us.pid, recipients: recipients.map(\.pid), queuedAt: at) { _ in
            Fixture.fields(id, type: type, created: at, references: references, remarks: remarks, label: "out")
        }
    }
}

func fileBytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }
