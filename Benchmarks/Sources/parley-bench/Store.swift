import ArgumentParser
import BenchSupport
import Foundation
import GRDB
import ParleyProtocol
import ParleyStore

/// `parley-bench store`: queue and inbox throughput with full durability (WAL, synchronous=FULL),
/// against raw SQLite blob inserts in the same configuration and batch size; query latency on a
/// large store; start-up time with a small and a large store.
struct Store: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure ParleyStore throughput, query latency and start-up time against raw SQLite inserts."
    )

    @Option(help: "Messages to queue and to accept (each run).")
    var count = 100_000

    @Option(help: "Messages per transaction (each acknowledged only after its batch commits).")
    var batch = 500

    @Option(help: "Size of each message in bytes.")
    var size = 500

    @Option(
        help:
            "Messages in the large store for the query-latency and start-up measurements (0 skips them). An existing large store in --directory with at least this many messages is reused."
    )
    var messages = 1_000_000

    @Option(help: "Queries to time on the large store.")
    var queries = 500

    @Option(help: "Working directory (default: a new temporary directory, removed afterwards unless --keep).")
    var directory: String?

    @Flag(help: "Keep the stores after the run.")
    var keep = false

    func validate() throws {
        guard count > 0, batch > 0, size >= 32, messages >= 0, queries > 0 else {
            throw ValidationError("--count, --batch and --queries must be positive, --size at least 32")
        }
    }

    func run() async throws {
        let dir = directory ?? NSTemporaryDirectory() + "parley-bench-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer {
            if directory == nil && !keep { try? FileManager.default.removeItem(atPath: dir) }
        }
        // Fresh small stores every run; only the large store is reused.
        for name in ["reference", "single", "outbox", "inbox"] {
            for suffix in ["", "-wal", "-shm"] {
                try? FileManager.default.removeItem(atPath: "\(dir)/\(name).sqlite\(suffix)")
            }
        }
        say(
            "parley-bench store: \(count) messages of \(size) bytes, batches of \(batch), WAL + synchronous=FULL, in \(dir)"
        )

        let reference = try await referenceInserts(path: dir + "/reference.sqlite")
        say(String(format: "  reference  raw SQLite blob inserts      %9.0f /s", reference))

        let single = try await singleEnqueues(path: dir + "/single.sqlite", count: min(count, 2_000))
        say(
            String(
                format:
                    "  outbox     enqueue, 1 per transaction %9.0f /s   (%.2f × reference; bound by one fsync per message)",
                single,
                single / reference
            )
        )

        let enqueue = try await batchedEnqueues(path: dir + "/outbox.sqlite")
        say(
            String(
                format: "  outbox     enqueueBatch               %9.0f /s   (%.2f × reference)",
                enqueue,
                enqueue / reference
            )
        )

        let due = try await dueDeliveryReads(path: dir + "/outbox.sqlite")
        say(
            String(
                format:
                    "  outbox     dueDeliveries, %d queued, limit 256: head due %.3f ms per call (%d rows with their bytes); head waiting for its retry %.3f ms (one row read, nothing returned)",
                count,
                due.headDue * 1000,
                due.rows,
                due.headWaiting * 1000
            )
        )

        let accept = try await batchedAccepts(path: dir + "/inbox.sqlite", count: count, senders: 1)
        say(
            String(
                format: "  inbox      acceptBatch                %9.0f /s   (%.2f × reference)",
                accept,
                accept / reference
            )
        )

        let smallCount = min(count, 2_000)
        guard messages > 0 else {
            let small = try await startup(path: dir + "/single.sqlite")
            say(
                String(
                    format: "  start-up   open + schema check, %d messages: %.2f ms (median of 21)",
                    smallCount,
                    small * 1000
                )
            )
            return
        }
        let largePath = dir + "/large.sqlite"
        let existing = try await reusableMessages(path: largePath)
        if existing < messages {
            try? FileManager.default.removeItem(atPath: largePath)
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: largePath + suffix) }
            say("  filling a store with \(messages) received messages from 20 senders (one-off)...")
            let rate = try await batchedAccepts(path: largePath, count: messages, senders: 20)
            say(String(format: "  inbox      acceptBatch into the large store %9.0f /s", rate))
        }
        // Interleaved, so that background I/O affects both alike.
        var small = [Double]()
        var large = [Double]()
        for _ in 0..<3 {
            small.append(try await startup(path: dir + "/single.sqlite"))
            large.append(try await startup(path: largePath))
        }
        let smallMedian = small.sorted()[1]
        let largeMedian = large.sorted()[1]
        say(String(format: "  start-up   open + schema check, %d messages: %.2f ms", smallCount, smallMedian * 1000))
        say(
            String(
                format: "  start-up   open + schema check, %d messages: %.2f ms   (%.2f × the small store)",
                max(existing, messages),
                largeMedian * 1000,
                largeMedian / smallMedian
            )
        )
        for (pass, figures) in zip(["first pass ", "second pass"], try await queryLatency(path: largePath)) {
            say(
                String(
                    format:
                        "  query      inbox by sender + one-week range, limit 100, %@: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%.0f rows on average)",
                    pass,
                    figures.p50 * 1000,
                    figures.p99 * 1000,
                    figures.max * 1000,
                    figures.rows
                )
            )
        }
    }

    // MARK: - Workloads

    func body(_ n: Int) -> Data {
        var data = Data(count: size)
        data.withUnsafeMutableBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var x = UInt64(n) &* 0x9E37_79B9_7F4A_7C15 | 1
            for i in 0..<bytes.count {
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                bytes[i] = UInt8(truncatingIfNeeded: x)
            }
        }
        return data
    }

    /// Remarks as an operator would write them (every message has some; they go to the full-text index).
    func remarks(_ n: Int) -> LocalizedText {
        try! LocalizedText(
            language: "en",
            text: "Notification \(n): launch from the declared area within the notified window."
        )
    }

    func id(_ n: Int, tag: UInt8) -> MessageID {
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[0] = tag
        var value = UInt64(n)
        for i in 0..<8 {
            bytes[15 - i] = UInt8(value & 0xFF)
            value >>= 8
        }
        return try! MessageID(bytes: bytes)
    }

    func elapsed(_ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        let duration = ContinuousClock.now - start
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static let sender = try! ParticipantID("US-NRRC"), recipient = try! ParticipantID("RU-NRRC")

    /// Raw SQLite: one table of blobs, same journal mode, sync level and batch size.
    func referenceInserts(path: String) async throws -> Double {
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let queue = try DatabaseQueue(path: path, configuration: config)
        try await queue.write { try $0.execute(sql: "CREATE TABLE blob (id INTEGER PRIMARY KEY, body BLOB NOT NULL)") }
        let bodies = (0..<count).map(body)
        let seconds = try await elapsed {
            var next = 0
            while next < count {
                let range = next..<min(next + batch, count)
                let end = range.upperBound
                // Through GRDB's async write, as ParleyStore writes.
                try await queue.write { db in
                    let statement = try db.cachedStatement(sql: "INSERT INTO blob (body) VALUES (?)")
                    for i in range { try statement.execute(arguments: [bodies[i]]) }
                }
                next = end
            }
        }
        try queue.close()
        return Double(count) / seconds
    }

    func singleEnqueues(path: String, count: Int) async throws -> Double {
        let store = try ParleyStore(path: path)
        let bodies = (0..<count).map(body)
        let created = Date()
        let seconds = try await elapsed {
            for n in 0..<count {
                let fields = MessageFields(
                    id: id(n, tag: 1),
                    bytes: bodies[n],
                    type: 11,
                    created: created,
                    remarks: remarks(n)
                )
                try await store.enqueue(sender: Self.sender, recipients: [Self.recipient]) { _ in fields }
            }
        }
        return Double(count) / seconds
    }

    func batchedEnqueues(path: String) async throws -> Double {
        let store = try ParleyStore(path: path)
        let bodies = (0..<count).map(body)
        let created = Date()
        var acknowledged = 0
        let seconds = try await elapsed {
            var next = 0
            while next < count {
                let end = min(next + batch, count)
                let requests = (next..<end).map { n in
                    let fields = MessageFields(
                        id: id(n, tag: 2),
                        bytes: bodies[n],
                        type: 11,
                        created: created,
                        remarks: remarks(n)
                    )
                    return EnqueueRequest(sender: Self.sender, recipients: [Self.recipient]) { _ in fields }
                }
                acknowledged += try await store.enqueueBatch(requests).count
                next = end
            }
        }
        precondition(acknowledged == count)
        return Double(count) / seconds
    }

    /// Received messages in an existing large store that can be reused: 0 if there is none, or if
    /// it was not filled as now (every message with remarks, since 2026-11-26).
    func reusableMessages(path: String) async throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        let store = try ParleyStore(path: path)
        guard try await !store.inbox(InboxQuery(remarksContaining: "notification", limit: 1)).isEmpty else { return 0 }
        return try await store.messageCounts().received
    }

    /// The delivery loop's read of the outbox filled by `batchedEnqueues` (median of 201 calls): with
    /// the channel's first message due, and after a failed attempt of it, waiting for its retry.
    func dueDeliveryReads(path: String) async throws -> (headDue: Double, headWaiting: Double, rows: Int) {
        let store = try ParleyStore(path: path)
        func median(_ call: () async throws -> Void) async throws -> Double {
            var times: [Double] = []
            for _ in 0..<201 { times.append(try await elapsed(call)) }
            return times.sorted()[100]
        }
        var rows = 0
        let headDue = try await median { rows = try await store.dueDeliveries(to: Self.recipient, limit: 256).count }
        let head = id(0, tag: 2)
        _ = try await store.markInFlight([head], recipient: Self.recipient)
        try await store.recordAttemptFailure(
            head,
            recipient: Self.recipient,
            error: "benchmark: connection refused",
            nextAttempt: Date() + 3600
        )
        var returned = 0
        let headWaiting = try await median {
            returned += try await store.dueDeliveries(to: Self.recipient, limit: 256).count
        }
        precondition(returned == 0, "nothing is due while the first message waits for its retry")
        return (headDue, headWaiting, rows)
    }

    func batchedAccepts(path: String, count: Int, senders: Int) async throws -> Double {
        let store = try ParleyStore(path: path)
        let senderIDs = try (0..<senders).map { try ParticipantID(String(format: "P%02d-NRRC", $0)) }
        let own = try ParticipantID("US-NRRC")
        let year: Double = 365 * 86_400
        let start = Date(timeIntervalSince1970: 1_767_225_600)
        let receipt = Data(repeating: 0xA5, count: 120)
        let bodyPool = (0..<1024).map(body)
        var seqs = [UInt64](repeating: 0, count: senders)
        var accepted = 0
        let seconds = try await elapsed {
            var next = 0
            while next < count {
                let end = min(next + batch, count)
                let requests = (next..<end).map { n -> AcceptRequest in
                    let s = n % senders
                    seqs[s] += 1
                    var bytes = bodyPool[n % bodyPool.count]
                    withUnsafeBytes(of: UInt64(n).bigEndian) { bytes.replaceSubrange(0..<8, with: $0) }
                    let created = start + year * Double(n) / Double(count)
                    let message = IncomingMessage(
                        fields: MessageFields(
                            id: id(n, tag: 3),
                            bytes: bytes,
                            type: UInt64(n % 11 + 1),
                            created: created,
                            remarks: remarks(n)
                        ),
                        sender: senderIDs[s],
                        recipient: own,
                        sequenceNumber: seqs[s],
                        received: created + 2
                    )
                    return AcceptRequest(message: message) { m in receipt + m.fields.id.bytes }
                }
                accepted += try await store.acceptBatch(requests).count
                next = end
            }
        }
        precondition(accepted == count)
        return Double(count) / seconds
    }

    /// Median of 21 opens (each a new pool: read-only version check, WAL set-up, migration check, first
    /// read), after one warm-up.
    func startup(path: String) async throws -> Double {
        _ = try ParleyStore(path: path)
        var times = [Double]()
        for _ in 0..<21 {
            times.append(try await elapsed { _ = try await ParleyStore(path: path).storedSchemaVersion() })
        }
        return times.sorted()[10]
    }

    /// Times `queries` random one-week windows (one sender each), then the same windows again: the
    /// first pass reads from disk what the page cache lacks, the second shows the warm case.
    func queryLatency(path: String) async throws -> [(p50: Double, p99: Double, max: Double, rows: Double)] {
        let store = try ParleyStore(path: path, options: .init(readOnly: true))
        let start = Date(timeIntervalSince1970: 1_767_225_600)
        let year: Double = 365 * 86_400
        let windows = (0..<queries).map { q in
            (String(format: "P%02d-NRRC", q % 20), start + Double.random(in: 0..<(year - 7 * 86_400)))
        }
        var passes: [(p50: Double, p99: Double, max: Double, rows: Double)] = []
        for _ in 0..<2 {
            var times = [Double]()
            var rows = 0
            for (sender, from) in windows {
                var result = [StoredMessage]()
                times.append(
                    try await elapsed {
                        result = try await store.inbox(
                            InboxQuery(sender: sender, createdFrom: from, createdBefore: from + 7 * 86_400, limit: 100)
                        )
                    }
                )
                rows += result.count
            }
            times.sort()
            passes.append(
                (
                    times[times.count / 2], times[min(times.count - 1, times.count * 99 / 100)], times.last!,
                    Double(rows) / Double(queries)
                )
            )
        }
        return passes
    }
}

/// Writes a line to standard output at once (unbuffered, so progress shows when redirected).
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
