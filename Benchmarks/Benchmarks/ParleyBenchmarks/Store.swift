import Benchmark
import BenchSupport
import Foundation
import GRDB
import ParleyProtocol
import ParleyStore

/// Durable batches of 64 queued messages (WAL, synchronous=FULL, one commit each), against raw
/// SQLite inserts of the same bodies in the same configuration and batch size, in the same run
/// (`parley-bench store` adds inbox batches, query latency and start-up on a large store).
func storeBenchmarks() {
    Benchmark("Store.EnqueueBatch64", configuration: Metrics.configuration([.throughput, .mallocCountTotal])) {
        benchmark,
        work in
        for _ in benchmark.scaledIterations { try await work.enqueueBatch() }
    } setup: {
        try StoreWorkload()
    } teardown: {
    }

    Benchmark(
        "Store.EnqueueBatch64RatioToRawSQLite",
        configuration: Metrics.ratioConfiguration(rounds: 5, tolerance: 35)
    ) { benchmark, work in
        Metrics.record(benchmark, try await work.interleavedRatio())
    } setup: {
        try StoreWorkload()
    } teardown: {
    }
}

/// A new store and a raw SQLite file in a temporary directory, and 64 message bodies of 500 bytes.
final class StoreWorkload: @unchecked Sendable {
    static let batch = 64
    let directory: URL
    let store: ParleyStore
    let raw: DatabaseQueue
    let bodies: [Data]
    private var next = 0
    private let sender = try! ParticipantID("US-NRRC"), recipient = try! ParticipantID("RU-NRRC")

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "parley-bench-store-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try ParleyStore(path: directory.appendingPathComponent("outbox.sqlite").path)
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        raw = try DatabaseQueue(
            path: directory.appendingPathComponent("reference.sqlite").path,
            configuration: configuration
        )
        try raw.write { try $0.execute(sql: "CREATE TABLE blob (id INTEGER PRIMARY KEY, body BLOB NOT NULL)") }
        bodies = (0..<Self.batch).map { n in Data((0..<500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n) }) }
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Queues the next 64 messages in one transaction.
    func enqueueBatch() async throws {
        let created = Date()
        let requests = bodies.map { body in
            next += 1
            var id = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: UInt64(next).bigEndian) { id.replaceSubrange(8..<16, with: $0) }
            let fields = MessageFields(
                id: try! MessageID(bytes: id),
                bytes: body,
                type: 1,
                created: created,
                remarks: try! LocalizedText(language: "en", text: "Notification \(next).")
            )
            return EnqueueRequest(sender: sender, recipients: [recipient]) { _ in fields }
        }
        _ = try await store.enqueueBatch(requests)
    }

    /// The reference: the same 64 bodies inserted as blobs in one transaction.
    func insertBatch() throws {
        try raw.write { db in
            let statement = try db.cachedStatement(sql: "INSERT INTO blob (body) VALUES (?)")
            for body in bodies { try statement.execute(arguments: [body]) }
        }
    }

    /// enqueueBatch's rate over raw inserts', alternating one batch of each ten times (wall clock:
    /// the cost is the disk's, and the disk's speed changes with the other work on the machine).
    func interleavedRatio() async throws -> Double {
        var ours: Duration = .zero
        var reference: Duration = .zero
        for _ in 0..<10 {
            let start = ContinuousClock.now
            try await enqueueBatch()
            let middle = ContinuousClock.now
            try insertBatch()
            ours += middle - start
            reference += ContinuousClock.now - middle
        }
        return reference / ours
    }
}
