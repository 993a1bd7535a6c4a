// Writer for the crash-durability test (Tests/ParleyStoreTests/CrashDurabilityTests.swift): queues
// and accepts messages in a loop and prints each one on stdout only after the store acknowledged it.
// The test kills this process with SIGKILL at random points and checks every printed write survived.
//
// Usage: parley-store-crashtest <store-path>
// Output lines: "out <id-hex> <seq RU-NRRC> <seq HCOC-CC> <sha256-hex>" and "in <id-hex> <seq>".
import Foundation
import ParleyCodec
import ParleyProtocol
import ParleyStore

/// The bytes of a test message: a function of its id and sequence numbers, so the checker can
/// recompute them. The checker in the test file has the same function.
func crashTestBytes(id: MessageID, seqs: [UInt64]) -> Data {
    var bytes = Data("parley-crash-test".utf8)
    bytes.append(contentsOf: id.bytes)
    for seq in seqs { bytes.append(contentsOf: withUnsafeBytes(of: seq.bigEndian, Array.init)) }
    let length = 300 + Int(id.bytes[0]) % 400
    var counter: UInt8 = id.bytes[1]
    while bytes.count < length {
        bytes.append(counter ^ id.bytes[Int(counter) % 16])
        counter &+= 1
    }
    return bytes
}

func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func randomID() -> MessageID {
    try! MessageID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255) })
}

/// Queues and accepts messages until the process is killed.
func writeUntilKilled(storePath: String) async throws {
    let store = try ParleyStore(path: storePath)
    let ru = try ParticipantID("RU-NRRC")
    let hcoc = try ParticipantID("HCOC-CC")
    let sender = try ParticipantID("US-NRRC")
    let peers = [hcoc, ru]
    var nextIncoming = (try await store.incomingChannels().first { $0.sender == ru.rawValue }?.highest ?? 0) + 1
    while true {
        switch Int.random(in: 0..<10) {
        case 0..<5:
            let queued = try await store.enqueue(sender: sender, recipients: peers) { seqs in
                let id = randomID()
                return MessageFields(
                    id: id,
                    bytes: crashTestBytes(id: id, seqs: [seqs[ru]!, seqs[hcoc]!]),
                    type: 11,
                    created: Date(),
                    remarks: try LocalizedText(language: "en", text: "crash test")
                )
            }
            emit(
                "out \(queued.id.hex) \(queued.sequenceNumbers["RU-NRRC"]!) \(queued.sequenceNumbers["HCOC-CC"]!) \(Hex.encode(queued.digest))"
            )
        case 5..<8:
            let requests = (0..<Int.random(in: 2...20)).map { _ in
                EnqueueRequest(sender: sender, recipients: peers) { seqs in
                    let id = randomID()
                    return MessageFields(
                        id: id,
                        bytes: crashTestBytes(id: id, seqs: [seqs[ru]!, seqs[hcoc]!]),
                        type: 1,
                        created: Date()
                    )
                }
            }
            for queued in try await store.enqueueBatch(requests) {
                emit(
                    "out \(queued.id.hex) \(queued.sequenceNumbers["RU-NRRC"]!) \(queued.sequenceNumbers["HCOC-CC"]!) \(Hex.encode(queued.digest))"
                )
            }
        default:
            let id = randomID()
            let fields = MessageFields(
                id: id,
                bytes: crashTestBytes(id: id, seqs: [nextIncoming]),
                type: 9,
                created: Date()
            )
            let incoming = IncomingMessage(
                fields: fields,
                sender: ru,
                recipient: sender,
                sequenceNumber: nextIncoming,
                received: Date()
            )
            let outcome = try await store.accept(incoming) { message in
                Data("receipt for ".utf8) + message.fields.id.bytes
            }
            guard case .accepted = outcome else {
                FileHandle.standardError.write(Data("unexpected outcome \(outcome)\n".utf8))
                exit(3)
            }
            emit("in \(id.hex) \(nextIncoming)")
            nextIncoming += 1
        }
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: parley-store-crashtest <store-path>\n".utf8))
    exit(2)
}
do {
    try await writeUntilKilled(storePath: arguments[1])
} catch {
    FileHandle.standardError.write(Data("parley-store-crashtest: \(error)\n".utf8))
    exit(1)
}
