import Foundation
import GRDB
import Testing
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

/// Kills a writer process (`parley-store-crashtest`) with SIGKILL at random points, then checks that
/// every write it acknowledged on stdout is in the store with its exact bytes, and that sequence
/// numbers have neither holes nor duplicates.
@Suite struct CrashDurabilityTests {
    static let kills = 50

    /// The writer's deterministic message bytes (same function as in Sources/parley-store-crashtest).
    static func crashTestBytes(id: MessageID, seqs: [UInt64]) -> Data {
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

    static var writerExecutable: URL {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On Linux the test runner is <products>/ParleyPackageTests.xctest; on macOS a bundle inside it.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("parley-store-crashtest")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return testBinary.deletingLastPathComponent().appendingPathComponent("parley-store-crashtest")
    }

    struct Acknowledged {
        var outgoing: [MessageID: (ru: UInt64, hcoc: UInt64, bytes: Data)] = [:]
        var incoming: [MessageID: (seq: UInt64, bytes: Data)] = [:]
    }

    /// A wait on a thread of its own: it frees the test runner's few threads (the daemon tests that
    /// run at the same time need them) without a Dispatch timer, which never fires when .ci/run
    /// moves the wall clock years ahead with libfaketime.
    static func pause(milliseconds: Int) async {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                usleep(useconds_t(milliseconds * 1_000))
                continuation.resume()
            }
        }
    }

    /// Async so that the random waits before each kill free the test runner's few threads (the
    /// daemon tests that run at the same time need them).
    @Test func acknowledgedWritesSurviveSIGKILL() async throws {
        let writer = Self.writerExecutable
        try #require(
            FileManager.default.isExecutableFile(atPath: writer.path),
            "build parley-store-crashtest (a test dependency): \(writer.path)"
        )
        let dir = TemporaryDirectory()
        let storePath = dir.path("store.sqlite")
        var acknowledged = Acknowledged()
        var killsWithAcknowledgedWrites = 0

        for round in 1...Self.kills {
            let outputPath = dir.path("stdout-\(round)")
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
            let process = Process()
            process.executableURL = writer
            process.arguments = [storePath]
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            await Self.pause(milliseconds: Int.random(in: 10...250))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try output.close()
            #expect(
                process.terminationReason == .uncaughtSignal,
                "round \(round): the writer stopped by itself (status \(process.terminationStatus))"
            )

            let lines = String(decoding: try #require(fileBytes(outputPath)), as: UTF8.self).split(
                separator: "\n",
                omittingEmptySubsequences: true
            )
            var newInRound = 0
            for line in lines {
                let parts = line.split(separator: " ").map(String.init)
                switch parts.first {
                case "out" where parts.count == 5:
                    let id = try MessageID(hex: parts[1])
                    let ru = UInt64(parts[2])!
                    let hcoc = UInt64(parts[3])!
                    let bytes = Self.crashTestBytes(id: id, seqs: [ru, hcoc])
                    #expect(bytes.sha256.hexString == parts[4], "round \(round): digest printed for \(id)")
                    acknowledged.outgoing[id] = (ru, hcoc, bytes)
                    newInRound += 1
                case "in" where parts.count == 3:
                    let id = try MessageID(hex: parts[1])
                    let seq = UInt64(parts[2])!
                    acknowledged.incoming[id] = (seq, Self.crashTestBytes(id: id, seqs: [seq]))
                    newInRound += 1
                default:
                    // Only a final line cut by the kill may be incomplete.
                    #expect(line == lines.last, "round \(round): malformed line \(line)")
                }
            }
            if newInRound > 0 { killsWithAcknowledgedWrites += 1 }
            try verify(storePath: storePath, acknowledged: acknowledged, round: round)
        }
        try await ParleyStore(path: storePath).checkIntegrity()
        print(
            "crash test: \(Self.kills) SIGKILLs (\(killsWithAcknowledgedWrites) after acknowledged writes); checked \(acknowledged.outgoing.count) queued and \(acknowledged.incoming.count) accepted acknowledged messages"
        )
        #expect(killsWithAcknowledgedWrites >= Self.kills / 2)
        #expect(acknowledged.outgoing.count > 100)
    }

    func verify(storePath: String, acknowledged: Acknowledged, round: Int) throws {
        let store = try ParleyStore(path: storePath)
        try store.pool.read { db in
            // Load the store once, then compare in memory.
            var sent = [Data: Data]()
            for row in try Row.fetchAll(db, sql: "SELECT id, bytes FROM message WHERE direction = 0") {
                sent[row["id"]] = row["bytes"]
            }
            var seqsByID = [Data: [String: UInt64]]()
            var seqsByChannel = [String: [Int64]]()
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT m.id, d.recipient, d.seq FROM delivery d JOIN message m ON m.rowid = d.message WHERE d.sender = ? ORDER BY d.seq
                    """,
                arguments: [Fixture.us]
            ) {
                seqsByID[row["id"], default: [:]][row["recipient"]] = UInt64(row["seq"] as Int64)
                seqsByChannel[row["recipient"], default: []].append(row["seq"])
            }
            var received = [Data: (Data, UInt64)]()
            for row in try Row.fetchAll(
                db,
                sql: "SELECT m.id, m.bytes, i.seq FROM message m JOIN inbox i ON i.message = m.rowid"
            ) {
                received[row["id"]] = (row["bytes"], UInt64(row["seq"] as Int64))
            }

            // Every acknowledged message: present, exact bytes, the sequence numbers acknowledged.
            var lost = 0
            var wrong = 0
            for (id, expected) in acknowledged.outgoing {
                guard let bytes = sent[id.data] else {
                    lost += 1
                    continue
                }
                if bytes != expected.bytes
                    || seqsByID[id.data] != [Fixture.ru: expected.ru, Fixture.hcoc: expected.hcoc]
                {
                    wrong += 1
                }
            }
            for (id, expected) in acknowledged.incoming {
                guard let (bytes, seq) = received[id.data] else {
                    lost += 1
                    continue
                }
                if bytes != expected.bytes || seq != expected.seq { wrong += 1 }
            }
            #expect(lost == 0, "round \(round): \(lost) acknowledged messages lost")
            #expect(wrong == 0, "round \(round): \(wrong) acknowledged messages altered")

            // Sequence numbers: 1...n per channel, no holes, no duplicates, channel state agrees.
            for recipient in [Fixture.ru, Fixture.hcoc] {
                let seqs = seqsByChannel[recipient] ?? []
                #expect(
                    seqs == Array(stride(from: Int64(1), through: Int64(seqs.count), by: 1)),
                    "round \(round): channel to \(recipient)"
                )
                let next = try Int64.fetchOne(
                    db,
                    sql: "SELECT next_seq FROM channel_out WHERE sender = ? AND recipient = ?",
                    arguments: [Fixture.us, recipient]
                )
                #expect((next ?? 1) == Int64(seqs.count + 1), "round \(round): next sequence number to \(recipient)")
            }
            let inSeqs = try Int64.fetchAll(
                db,
                sql: "SELECT seq FROM inbox WHERE sender = ? ORDER BY seq",
                arguments: [Fixture.ru]
            )
            #expect(
                inSeqs == Array(stride(from: Int64(1), through: Int64(inSeqs.count), by: 1)),
                "round \(round): incoming channel"
            )
            let channel = try Row.fetchOne(
                db,
                sql: "SELECT contiguous, highest FROM channel_in WHERE sender = ?",
                arguments: [Fixture.ru]
            )
            #expect((channel?["contiguous"] as Int64?) ?? 0 == Int64(inSeqs.count))
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM channel_gap") == 0)
        }
    }
}
