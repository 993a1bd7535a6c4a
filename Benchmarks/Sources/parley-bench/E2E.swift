import ArgumentParser
import AsyncHTTPClient
import BenchSupport
import Foundation
import GRDB
import NIOCore
import NIOFoundationCompat
import ParleyProtocol
import ParleyStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `parley-bench e2e`: two `parleyd` processes on loopback with a test PKI; notifications submitted
/// through the sender's admin socket, delivered over mutual TLS, verified, stored and receipted with
/// full durability on both sides. Reports receipted messages per second and submit-to-receipt
/// latency, first for a burst, then at a steady rate, against the raw durable commit rate of SQLite
/// on the same disk measured in the same run.
struct E2E: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e",
        abstract: "Measure end-to-end delivery between two parleyd processes on loopback.",
        discussion: """
            Creates a test PKI (Certs/make-test-pki.sh) for US-NRRC and RU-NRRC in a new directory, starts \
            one parleyd for each (WAL + synchronous=FULL stores, mutual TLS, every message and receipt \
            verified), submits --count pre-launch notifications to US-NRRC's admin socket (POST /v1/drafts, \
            --concurrency at a time) and times each from the start of its submission to the moment its \
            verified receipt is committed in US-NRRC's store (seen by polling the store read-only, every \
            10 ms in a burst, every millisecond at the steady rate). Then submits at a steady --rate for --seconds. Finally checks that RU-NRRC holds \
            every message once, with no gap in the channel, and that every delivery is receipted.

            Two references are measured right before each burst: SQLite's durable commit rate on the \
            same disk, and the signature work of one message — two signatures and two verifications \
            (message and receipt) at `openssl speed`'s single-core rates for --alg, spread over every \
            core — which bounds what any implementation of the protocol could reach on this machine. \
            With --runs N the burst is repeated N times on the same daemons and the median is reported \
            (the speed of a virtual machine drifts between runs).

            Example:
              swift build -c release --scratch-path .build-bench --product parleyd
              swift run -c release --package-path Benchmarks --scratch-path .build-bench parley-bench e2e \\
                  --parleyd .build-bench/release/parleyd --count 2000 --seconds 5
            """
    )

    @Option(help: "Notifications in the burst.")
    var count = 20_000

    @Option(help: "Burst submissions in flight at once on the admin socket.")
    var concurrency = 64

    @Option(help: "Burst: drafts per admin request (POST /v1/drafts with a JSON array when above 1).")
    var draftsPerRequest = 1

    @Option(help: "Bursts, one after the other on the same daemons, each with its references; the median is reported.")
    var runs = 1

    @Option(help: "The openssl executable for the signature-work reference.")
    var openssl = "openssl"

    @Option(help: "Steady phase: notifications per second (0 skips the phase).")
    var rate = 100

    @Option(help: "Steady phase: duration in seconds.")
    var seconds = 30

    @Option(
        help:
            "The parleyd executable (default: next to this parley-bench executable, then .build/release/parleyd of the source tree)."
    )
    var parleyd: String?

    @Option(
        help:
            "Messages in flight per peer (limits.deliveryWindow; the receiver's limits.maximumConcurrentRequestsPerPeer is raised to match). Default: the daemon's default."
    )
    var window: Int?

    @Option(
        help: "Signature algorithm of both participants' signing certificates: ed25519, p256 (ES256) or p384 (ES384)."
    )
    var alg = "ed25519"

    @Option(
        help:
            "Messages per delivery request (limits.deliveryBatch; 1: one POST /v1/messages each). Default: the daemon's default."
    )
    var batch: Int?

    @Option(help: "Log level of the daemons (their logs are in the directory's *.log files).")
    var logLevel = "info"

    @Option(help: "Working directory (default: a new directory under /tmp, removed afterwards unless --keep).")
    var directory: String?

    @Flag(help: "Keep the directory (PKI, configurations, stores, logs).")
    var keep = false

    static let sender = "US-NRRC", recipient = "RU-NRRC"

    func validate() throws {
        guard count > 0, concurrency > 0, rate >= 0, seconds > 0 else {
            throw ValidationError("--count and --concurrency must be positive, --rate at least 0, --seconds positive")
        }
        guard (1...10).contains(runs) else { throw ValidationError("--runs must be 1…10") }
        guard ["ed25519", "p256", "p384"].contains(alg) else {
            throw ValidationError("--alg must be ed25519, p256 or p384")
        }
        guard (1...1_000).contains(draftsPerRequest) else {
            throw ValidationError("--drafts-per-request must be 1…1000")
        }
        if let batch, !(1...64).contains(batch) { throw ValidationError("--batch must be 1…64 (SPEC.md §12.8)") }
    }

    func run() async throws {
        let dir = directory ?? "/tmp/parley-bench-e2e-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let daemon = try parleyd ?? Self.findParleyd()
        var daemons: [DaemonProcess] = []
        defer {
            for process in daemons { process.stop() }
            if directory == nil && !keep {
                try? FileManager.default.removeItem(atPath: dir)
            } else {
                say("kept \(dir)")
            }
        }
        say(
            "parley-bench e2e: \(Self.sender) → \(Self.recipient), two parleyd processes on loopback, \(alg) signatures, WAL + synchronous=FULL, in \(dir)"
        )
        say(
            "  machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(Self.loadAverage()) at start"
        )

        try makePKI(in: dir)
        let ports = [Self.sender: try freePort(), Self.recipient: try freePort()]
        for id in [Self.recipient, Self.sender] {
            let config = try writeConfiguration(id, dir: dir, ports: ports)
            daemons.append(
                try DaemonProcess(executable: daemon, config: config, log: "\(dir)/\(id).log", logLevel: logLevel)
            )
        }
        for id in [Self.recipient, Self.sender] {
            try await Self.waitForSocket(
                "\(dir)/\(id).sock",
                port: ports[id]!,
                daemon: daemons.first { $0.config.hasSuffix("\(id).json") }!
            )
        }
        let socket = "\(dir)/\(Self.sender).sock"
        let senderStore = "\(dir)/data/\(Self.sender)/parley.sqlite"

        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(concurrency, 8)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        do {
            try await measure(client, socket: socket, senderStore: senderStore, dir: dir, daemons: daemons)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func measure(
        _ client: HTTPClient,
        socket: String,
        senderStore: String,
        dir: String,
        daemons: [DaemonProcess]
    ) async throws {
        let watcher = try ReceiptWatcher(path: senderStore)
        // Polls all the time, so that each receipt is timed when it is committed, not when waited for.
        let polling = Task.detached { await watcher.pollUntilCancelled() }
        defer { polling.cancel() }
        let draft = Self.draft()

        // Warm-up: one message end to end (TLS handshakes, caches, first connections).
        let warm = try await Self.submit(client, socket: socket, draft: draft)
        _ = try await watcher.waitFor([warm.id], timeout: 30)

        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        say(
            "  delivery   \(window.map { "\($0)" } ?? "default") messages in flight per peer, \(batch.map { "\($0)" } ?? "default") per request"
        )
        var results: [(rate: Double, disk: Double, signatures: Double?, cpu: Double)] = []
        for run in 1...runs {
            let label = runs > 1 ? "burst \(run)/\(runs)" : "burst"
            let disk = try Self.durableCommitRate(path: "\(dir)/reference-\(run).sqlite", seconds: 2)
            let signatures = signatureWorkBound(cores: cores)
            say(String(format: "  reference  raw SQLite durable commits, one row each     %8.0f /s", disk))
            if let signatures {
                say(
                    String(
                        format:
                            "  reference  signature work alone (2 signs + 2 verifies per message, openssl speed %@, %d cores) %8.0f /s",
                        alg,
                        Int(cores),
                        signatures
                    )
                )
            }
            let cpuBefore = daemons.map(\.cpuSeconds).reduce(0, +)
            let benchBefore = Self.ownCPUSeconds()
            let burst = try await burstPhase(client, socket: socket, draft: draft, watcher: watcher)
            let cpu = daemons.map(\.cpuSeconds).reduce(0, +) - cpuBefore
            let benchCPU = Self.ownCPUSeconds() - benchBefore
            let burstRate = Double(count) / burst.elapsed
            results.append((burstRate, disk, signatures, cpu * 1000 / Double(count)))
            say(
                String(
                    format:
                        "  %@%@ %d notifications, %d submissions in flight%@: %8.0f receipted /s   (%.2f × SQLite reference%@)",
                    label,
                    String(repeating: " ", count: max(0, 10 - label.count)),
                    count,
                    concurrency,
                    draftsPerRequest > 1 ? " of \(draftsPerRequest) drafts" : "",
                    burstRate,
                    burstRate / disk,
                    signatures.map { String(format: ", %.2f × signature work", burstRate / $0) } ?? ""
                )
            )
            say(
                String(
                    format:
                        "             submitted at %.0f /s; submit-to-receipt latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                    Double(count) / burst.submitElapsed,
                    burst.latency.p50 * 1000,
                    burst.latency.p99 * 1000,
                    burst.latency.max * 1000
                )
            )
            say(
                String(
                    format:
                        "             CPU: both daemons %.2f ms per message (%.2f ms in this client); %d cores idle would allow at most %.0f /s",
                    cpu * 1000 / Double(count),
                    benchCPU * 1000 / Double(count),
                    Int(cores),
                    cores * Double(count) / (cpu + benchCPU)
                )
            )
            say("             load average \(Self.loadAverage())")
        }
        if runs > 1 {
            func median(_ values: [Double]) -> Double {
                let sorted = values.sorted()
                return sorted.count % 2 == 1
                    ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            }
            let rates = results.map(\.rate)
            let workRatios = results.compactMap { result in result.signatures.map { result.rate / $0 } }
            say(
                String(
                    format:
                        "  median     of %d bursts: %.0f receipted /s (range %.0f–%.0f), %.2f × SQLite reference%@, %.2f ms CPU per message",
                    runs,
                    median(rates),
                    rates.min()!,
                    rates.max()!,
                    median(results.map { $0.rate / $0.disk }),
                    workRatios.isEmpty ? "" : String(format: ", %.2f × signature work", median(workRatios)),
                    median(results.map(\.cpu))
                )
            )
        }

        var total = runs * count + 1
        if rate > 0 {
            let steady = try await steadyPhase(client, socket: socket, draft: draft, watcher: watcher)
            total += steady.count
            say(
                String(
                    format:
                        "  steady     %d /s for %d s (%d notifications):            latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                    rate,
                    seconds,
                    steady.count,
                    steady.latency.p50 * 1000,
                    steady.latency.p99 * 1000,
                    steady.latency.max * 1000
                )
            )
            say("             load average \(Self.loadAverage())")
        }

        try await checkComplete(dir: dir, total: total)
        say(
            "  check      \(Self.recipient) holds all \(total) messages once, channel contiguous 1…\(total) with no gap; \(Self.sender) holds \(total) verified receipts"
        )
    }

    // MARK: - Phases

    struct Latency { var p50, p99, max: Double }

    static func latency(_ values: [Double]) -> Latency {
        let sorted = values.sorted()
        func at(_ q: Double) -> Double {
            sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)]
        }
        return Latency(p50: at(0.5), p99: at(0.99), max: sorted.last ?? 0)
    }

    private func burstPhase(
        _ client: HTTPClient,
        socket: String,
        draft: [UInt8],
        watcher: ReceiptWatcher
    ) async throws
        -> (elapsed: Double, submitElapsed: Double, latency: Latency)
    {
        let count = self.count
        let next = Counter()
        watcher.interval.store(10, ordering: .relaxed)
        let start = ContinuousClock.now
        let submitted = try await withThrowingTaskGroup(of: [Submitted].self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var mine: [Submitted] = []
                    while true {
                        let first = next.value.add(draftsPerRequest, ordering: .relaxed).oldValue
                        guard first < count else { break }
                        let n = min(draftsPerRequest, count - first)
                        if n == 1 {
                            mine.append(try await Self.submit(client, socket: socket, draft: draft))
                        } else {
                            mine += try await Self.submit(
                                client,
                                socket: socket,
                                drafts: Array(repeating: draft, count: n)
                            )
                        }
                    }
                    return mine
                }
            }
            return try await group.reduce(into: [Submitted]()) { $0 += $1 }
        }
        let submitEnd = ContinuousClock.now
        let receipted = try await watcher.waitFor(submitted.map(\.id), timeout: max(120, Double(count) / 20))
        let end = receipted.values.max()!
        return (
            Self.elapsed(end - start), Self.elapsed(submitEnd - start),
            Self.latency(submitted.map { Self.elapsed(receipted[$0.id]! - $0.start) })
        )
    }

    private func steadyPhase(
        _ client: HTTPClient,
        socket: String,
        draft: [UInt8],
        watcher: ReceiptWatcher
    ) async throws
        -> (count: Int, latency: Latency)
    {
        let (total, rate) = (self.rate * seconds, self.rate)
        watcher.interval.store(1, ordering: .relaxed)
        let start = ContinuousClock.now + .milliseconds(100)
        let submitted = try await withThrowingTaskGroup(of: Submitted.self) { group in
            for i in 0..<total {
                let due = start + .nanoseconds(Int64(i) * 1_000_000_000 / Int64(rate))
                try await Task.sleep(until: due, clock: .continuous)
                group.addTask { try await Self.submit(client, socket: socket, draft: draft) }
            }
            return try await group.reduce(into: [Submitted]()) { $0.append($1) }
        }
        let receipted = try await watcher.waitFor(submitted.map(\.id), timeout: 120)
        return (total, Self.latency(submitted.map { Self.elapsed(receipted[$0.id]! - $0.start) }))
    }

    struct Submitted: Sendable {
        var id: MessageID
        var start: ContinuousClock.Instant
    }

    static func submit(_ client: HTTPClient, socket: String, draft: [UInt8]) async throws -> Submitted {
        let start = ContinuousClock.now
        var request = HTTPClientRequest(url: URL(httpURLWithSocketPath: socket, uri: "/v1/drafts")!.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: draft))
        let response = try await client.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code == 201,
            let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
            let hex = object["id"] as? String, let id = try? MessageID(hex: hex)
        else {
            throw BenchError("parleyd refused a draft: HTTP \(response.status.code) \(String(buffer: body))")
        }
        return Submitted(id: id, start: start)
    }

    /// Several drafts in one request (a JSON array); every one must be queued.
    static func submit(_ client: HTTPClient, socket: String, drafts: [[UInt8]]) async throws -> [Submitted] {
        let start = ContinuousClock.now
        var request = HTTPClientRequest(url: URL(httpURLWithSocketPath: socket, uri: "/v1/drafts")!.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        var body = [UInt8]("[".utf8)
        for (index, draft) in drafts.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += draft
        }
        body.append(UInt8(ascii: "]"))
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(60))
        let answer = try await response.body.collect(upTo: 16 << 20)
        guard response.status.code == 201,
            let object = try? JSONSerialization.jsonObject(with: Data(buffer: answer)) as? [String: Any],
            let results = object["results"] as? [[String: Any]], results.count == drafts.count
        else {
            throw BenchError(
                "parleyd refused drafts: HTTP \(response.status.code) \(String(buffer: answer).prefix(500))"
            )
        }
        return try results.map { result in
            guard let hex = result["id"] as? String, let id = try? MessageID(hex: hex) else {
                throw BenchError("parleyd refused a draft: \(result)")
            }
            return Submitted(id: id, start: start)
        }
    }

    static func draft() -> [UInt8] {
        let now = Date()
        func time(_ offset: TimeInterval) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.string(
                from: Date(timeIntervalSince1970: (now.timeIntervalSince1970 + offset).rounded(.down))
            )
        }
        let document: [String: Any] = [
            "type": "pre-launch", "recipients": [recipient],
            "body": [
                "class": "space-launch-vehicle",
                "window-start": time(3 * 86_400), "window-end": time(3 * 86_400 + 4 * 3_600),
                "launch-area": ["circle": ["center": ["lat": 28.573469, "lon": -80.65107], "radius-m": 5_000]],
                "impact-areas": [
                    [
                        "polygon": [
                            ["lat": 30.0, "lon": -60.0], ["lat": 30.0, "lon": -58.0], ["lat": 28.0, "lon": -58.0],
                            ["lat": 28.0, "lon": -60.0],
                        ]
                    ]
                ],
                "azimuth": 90.5, "designator": "SLV-7 flight 12",
            ] as [String: Any],
            "remarks": ["lang": "en", "text": "Benchmark notification."],
        ]
        return Array(try! JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]))
    }

    // MARK: - Set-up

    private func makePKI(in dir: String) throws {
        let script = try testPKIScript()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", script, "--alg", alg, "\(dir)/pki", Self.sender, Self.recipient]
        let log = "\(dir)/pki.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try? handle.close()
        guard process.terminationStatus == 0 else {
            throw BenchError("make-test-pki.sh failed with status \(process.terminationStatus); see \(log)")
        }
    }

    private func writeConfiguration(_ id: String, dir: String, ports: [String: Int]) throws -> String {
        let peer = id == Self.sender ? Self.recipient : Self.sender
        let base = "\(dir)/pki/participants/\(id)"
        var object: [String: Any] = [
            "participant": id,
            "signing": ["key": "\(base)/signing.key", "chain": "\(base)/signing-chain.pem"],
            "tls": ["key": "\(base)/tls.key", "chain": "\(base)/tls-chain.pem"],
            "trust": ["anchors": "\(dir)/pki/trust/anchors.pem", "crls": ["\(dir)/pki/trust/crls.pem"]],
            "listen": ["host": "127.0.0.1", "port": ports[id]!],
            "admin": ["socket": "\(dir)/\(id).sock"],
            "dataDirectory": "\(dir)/data/\(id)",
            "peers": [peer: ["url": "https://127.0.0.1:\(ports[peer]!)"]],
            "retry": ["initialSeconds": 1, "maximumIntervalSeconds": 5, "giveUpAfterSeconds": 86_400],
        ]
        var limits: [String: Int] = [:]
        if let window {
            limits["deliveryWindow"] = window
            limits["maximumConcurrentRequestsPerPeer"] = max(8, window)
        }
        if let batch { limits["deliveryBatch"] = batch }
        if !limits.isEmpty { object["limits"] = limits }
        try FileManager.default.createDirectory(atPath: "\(dir)/data/\(id)", withIntermediateDirectories: true)
        let path = "\(dir)/\(id).json"
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]).write(
            to: URL(fileURLWithPath: path)
        )
        return path
    }

    static func findParleyd() throws -> String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [
            here.appendingPathComponent("parleyd").path,
            sourceRoot.appendingPathComponent(".build/release/parleyd").path,
        ]
        guard let found = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw BenchError(
                "no parleyd at \(candidates.joined(separator: " or ")); build it (swift build -c release --product parleyd) or give --parleyd PATH"
            )
        }
        return found
    }

    static func waitForSocket(_ socket: String, port: Int, daemon: DaemonProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !unixSocketAccepts(socket) || !tcpConnects(port) {
            guard daemon.isRunning else {
                throw BenchError("parleyd \(daemon.config) exited with status \(daemon.status); see \(daemon.log)")
            }
            guard ContinuousClock.now < deadline else {
                throw BenchError("parleyd \(daemon.config) did not start listening within 30 s; see \(daemon.log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Whether parleyd's admin socket at `path` accepts a connection.
    static func unixSocketAccepts(_ path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in bytes.enumerated() { buffer[i] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    static func tcpConnects(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// Messages per second that the signature work alone would allow: per message two signatures
    /// (message, receipt) and two verifications at `openssl speed`'s single-core rates for `alg`, on
    /// every core. Nil when `openssl speed` cannot be run.
    private func signatureWorkBound(cores: Double) -> Double? {
        let name = ["ed25519": "ed25519", "p256": "ecdsap256", "p384": "ecdsap384"][alg]!
        guard let output = try? runTool(openssl, ["speed", "-seconds", "1", name]),
            let rates = OpenSSLSpeed.parse(output).values.first, rates.sign > 0, rates.verify > 0
        else {
            say("  reference  signature work: `\(openssl) speed \(name)` did not run; that reference is left out")
            return nil
        }
        return cores / (2 / rates.sign + 2 / rates.verify)
    }

    /// Commits of one small row per transaction, WAL + synchronous=FULL, for `seconds`: what the disk
    /// allows when every message costs its own durable commit.
    static func durableCommitRate(path: String, seconds: Double) throws -> Double {
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let queue = try DatabaseQueue(path: path, configuration: config)
        defer { try? queue.close() }
        try queue.write { try $0.execute(sql: "CREATE TABLE row (id INTEGER PRIMARY KEY, body BLOB NOT NULL)") }
        let body = Data(repeating: 0x5A, count: 600)
        var commits = 0
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .milliseconds(Int64(seconds * 1000)) {
            try queue.write { try $0.execute(sql: "INSERT INTO row (body) VALUES (?)", arguments: [body]) }
            commits += 1
        }
        return Double(commits) / elapsed(ContinuousClock.now - start)
    }

    private func checkComplete(dir: String, total: Int) async throws {
        let receiver = try ParleyStore(
            path: "\(dir)/data/\(Self.recipient)/parley.sqlite",
            options: .init(readOnly: true)
        )
        let channels = try await receiver.incomingChannels().filter { $0.sender == Self.sender }
        let received = try await receiver.messageCounts().received
        guard received == total, let channel = channels.first, channel.contiguous == UInt64(total),
            channel.highest == UInt64(total), channel.gaps.isEmpty
        else {
            throw BenchError(
                "\(Self.recipient) holds \(received) messages (expected \(total)); channel state \(channels)"
            )
        }
        let store = try ParleyStore(path: "\(dir)/data/\(Self.sender)/parley.sqlite", options: .init(readOnly: true))
        let undelivered = try await store.queueDepths().values.reduce(0, +)
        let delivered = try await store.outbox(OutboxQuery(state: .delivered, limit: total + 1)).count
        guard undelivered == 0, delivered == total else {
            throw BenchError(
                "\(Self.sender): \(delivered) deliveries receipted, \(undelivered) still queued (expected \(total) and 0)"
            )
        }
    }

    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
            usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
        ) / 1e6
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(
            separator: " "
        )
    }

    static func elapsed(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// Polls the sender's store (read-only, every `interval`) for newly stored accepted receipts and
/// notes when each was first seen.
final class ReceiptWatcher: Sendable {
    let store: ParleyStore
    private let seen = Mutex<(position: AcceptedReceiptPosition, at: [MessageID: ContinuousClock.Instant])>(
        (.start, [:])
    )

    init(path: String) throws {
        store = try ParleyStore(path: path, options: .init(readOnly: true))
    }

    private func poll() async throws {
        let position = seen.withLock { $0.position }
        let (ids, next) = try await store.acceptedReceipts(after: position)
        guard !ids.isEmpty else { return }
        let now = ContinuousClock.now
        seen.withLock { state in
            state.position = next
            for id in ids where state.at[id] == nil { state.at[id] = now }
        }
    }

    /// Milliseconds between two polls: 1 where latencies are milliseconds (the steady phase), more
    /// where they are seconds (a burst), so that polling takes less CPU from the daemons measured.
    let interval = Atomic<Int>(1)

    /// Polls every `interval` until the task is cancelled.
    func pollUntilCancelled() async {
        while !Task.isCancelled {
            try? await poll()
            try? await Task.sleep(for: .milliseconds(interval.load(ordering: .relaxed)))
        }
    }

    /// Waits until every id has an accepted receipt; returns when each was first seen.
    func waitFor(_ ids: [MessageID], timeout: Double) async throws -> [MessageID: ContinuousClock.Instant] {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        var pending = ids[...]
        while true {
            // Receipts arrive roughly in submission order: drop the seen prefix (scanning every id
            // every few milliseconds would take CPU from the daemons being measured).
            let times: [MessageID: ContinuousClock.Instant]? = seen.withLock { state in
                while let first = pending.first, state.at[first] != nil { pending = pending.dropFirst() }
                return pending.isEmpty ? state.at : nil
            }
            if let times { return times }
            guard ContinuousClock.now < deadline else {
                let missing = seen.withLock { state in pending.filter { state.at[$0] == nil }.count }
                throw BenchError(
                    "\(missing) of \(ids.count) messages have no accepted receipt after \(Int(timeout)) s; see the daemons' logs"
                )
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

/// A `parleyd` child process, stopped with SIGTERM.
final class DaemonProcess {
    let process: Process
    let config: String
    let log: String

    init(executable: String, config: String, log: String, logLevel: String) throws {
        self.config = config
        self.log = log
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--config", config]
        var environment = ProcessInfo.processInfo.environment
        environment["PARLEY_LOG_LEVEL"] = logLevel
        process.environment = environment
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
    }

    var isRunning: Bool { process.isRunning }

    /// User + system CPU time consumed so far (from /proc), seconds.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
    var status: Int32 { process.terminationStatus }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}

/// Writes a line to standard output at once (unbuffered, so progress shows when redirected).
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
