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
    Benchmark("Store: enqueueBatch of 64", configuration: Metrics.configuration([.throughput, .mallocCountTotal])) { benchmark, work in
        for _ in benchmark.scaledIterations { try await work.enqueueBatch() }
    } setup: {
        try StoreWorkload()
    } teardown: {}

    Benchmark("Store: enqueueBatch of 64 ÷ raw SQLite inserts", configuration: Metrics.ratioConfiguration(rounds: 5)) { benchmark, work in
        let ours = try await work.rate { try await work.enqueueBatch() }
        let reference = try await work.rate { try work.insertBatch() }
        Metrics.record(benchmark, ours: ours, reference: reference)
    } setup: {
        try StoreWorkload()
    } teardown: {}
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
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-bench-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try ParleyStore(path: directory.appendingPathComponent("outbox.sqlite").path)
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        raw = try DatabaseQueue(path: directory.appendingPathComponent("reference.sqlite").path, configuration: configuration)
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
            let fields = MessageFields(id: try! MessageID(bytes: id), bytes: body, type: 1, created: created,
                                       remarks: try! LocalizedText(language: "en", text: "Notification \(next)."))
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

    /// Messages per second over 10 batches of `operation` (wall clock: the cost is the disk's).
    func rate(_ operation: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        for _ in 0..<10 { try await operation() }
        let elapsed = ContinuousClock.now - start
        return Double(10 * Self.batch) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
