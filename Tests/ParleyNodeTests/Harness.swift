import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ParleyCodec
import ParleyCrypto
@testable import ParleyNode
import ParleyProtocol
import ParleyStore
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A test PKI from `Certs/make-test-pki.sh` for US-NRRC, RU-NRRC and HCOC-CC in a temporary directory.
struct TestPKI: Sendable {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// One PKI for the whole test process, removed at exit.
    static let shared = Result { try TestPKI.make() }

    let directory: URL

    static func make() throws -> TestPKI {
        let parent = try temporaryDirectory()
        let directory = parent.appendingPathComponent("pki")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", packageRoot.appendingPathComponent("Certs/make-test-pki.sh").path,
                             directory.path, "US-NRRC", "RU-NRRC", "HCOC-CC"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        return TestPKI(directory: directory)
    }

    func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }
}

/// A free loopback TCP port (bound to 0, read back, closed).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    precondition(bound)
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Configuration for one participant of the test PKI, listening on `port`, with `peers` (id → port).
func testConfiguration(_ pki: TestPKI, _ participant: String, port: Int, peers: [String: Int], directory: URL) throws -> NodeConfiguration {
    let base = "participants/\(participant)"
    var configuration = NodeConfiguration(
        participant: try ParticipantID(participant),
        signingKeyPath: pki.path("\(base)/signing.key"), signingChainPath: pki.path("\(base)/signing-chain.pem"),
        tlsKeyPath: pki.path("\(base)/tls.key"), tlsChainPath: pki.path("\(base)/tls-chain.pem"),
        signingTrust: .init(anchors: pki.path("trust/anchors.pem"), crls: [pki.path("trust/crls.pem")]),
        dataDirectory: directory.appendingPathComponent(participant).path)
    try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
    configuration.listenHost = "127.0.0.1"
    configuration.listenPort = port
    configuration.adminSocketPath = directory.appendingPathComponent("\(participant).sock").path
    configuration.peers = try peers.map { .init(id: try ParticipantID($0.key), url: URL(string: "https://127.0.0.1:\($0.value)")!) }
    configuration.retry.initialInterval = 0.2
    configuration.retry.maximumInterval = 1
    configuration.limits.requestTimeout = 5
    return configuration
}

/// Writes a parleyd configuration file (JSON) for `participant` of the test PKI to `path`:
/// identity, trust, listen address, admin socket and data directory, then `members` (further
/// top-level members as JSON text, e.g. `"peers": {}`).
func writeConfigurationFile(_ path: String, _ pki: TestPKI, _ participant: String, port: Int, adminSocket: String,
                            dataDirectory: String, members: [String] = []) throws {
    let base = "participants/\(participant)"
    let (signingKey, signingChain) = (pki.path("\(base)/signing.key"), pki.path("\(base)/signing-chain.pem"))
    let (tlsKey, tlsChain) = (pki.path("\(base)/tls.key"), pki.path("\(base)/tls-chain.pem"))
    let (anchors, crls) = (pki.path("trust/anchors.pem"), pki.path("trust/crls.pem"))
    let json = ([
        #""participant": "\#(participant)""#,
        #""signing": {"key": "\#(signingKey)", "chain": "\#(signingChain)"}"#,
        #""tls": {"key": "\#(tlsKey)", "chain": "\#(tlsChain)"}"#,
        #""trust": {"anchors": "\#(anchors)", "crls": ["\#(crls)"]}"#,
        #""listen": {"host": "127.0.0.1", "port": \#(port)}"#,
        #""admin": {"socket": "\#(adminSocket)"}"#,
        #""dataDirectory": "\#(dataDirectory)""#,
    ] + members).joined(separator: ",\n ")
    try Data(("{" + json + "}").utf8).write(to: URL(fileURLWithPath: path))
}

/// A configuration file for `participant` in `directory` (`<ID>.json`, data directory `<ID>/`,
/// admin socket `<ID>-admin.sock`) that a test writes, and rewrites before a reload.
struct ConfigurationFile {
    let path: String
    let write: (_ members: [String]) throws -> Void

    init(_ pki: TestPKI, _ participant: String, port: Int, directory: URL) throws {
        let dataDirectory = directory.appendingPathComponent(participant).path
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("\(participant).json").path
        self.path = path
        write = { members in
            try writeConfigurationFile(path, pki, participant, port: port, adminSocket: "\(directory.path)/\(participant)-admin.sock",
                                       dataDirectory: dataDirectory, members: members)
        }
    }

    /// The file as parleyd reads it (resources checked).
    func load() async throws -> NodeConfiguration {
        try await NodeConfiguration.load(file: path, environment: [:], checkResources: true)
    }
}

/// A node running its services in a ServiceGroup inside the test process.
final class RunningNode: Sendable {
    let node: Node
    let group: ServiceGroup
    let task: Task<Void, any Error>

    /// With `logs`, the node's log lines at info and above are kept there; `configurationFile` is
    /// the file a reload reads.
    init(_ configuration: NodeConfiguration, logs: LogCapture? = nil, configurationFile: String? = nil) async throws {
        var logger = logs.map { logs in Logger(label: "test.\(configuration.participant)") { _ in logs.handler() } }
            ?? testLogger("test.\(configuration.participant)")
        if logs != nil { logger.logLevel = .info }
        node = try Node(configuration: configuration, logger: logger, configurationFile: configurationFile)
        let group = ServiceGroup(configuration: .init(services: try node.services().map { .init(service: $0) }, logger: logger))
        self.group = group
        let failure = Mutex<String?>(nil)
        task = Task {
            do { try await group.run() } catch {
                failure.withLock { $0 = "\(error)" }
                throw error
            }
        }
        try await waitUntil("\(configuration.participant) listening") { [node] in
            if let failure = failure.withLock({ $0 }) {
                throw Timeout(description: "\(configuration.participant) stopped before listening: \(failure)")
            }
            return node.peerPort != nil && node.adminListening
        }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

struct Timeout: Error, CustomStringConvertible { var description: String }

/// A logger for a node or service under test: silent, so that a passing run prints nothing (a
/// test that expects a log line captures it with `LogCapture` and asserts on it); with
/// PARLEY_TEST_LOG set, everything at debug and above on standard error.
func testLogger(_ label: String) -> Logger {
    guard ProcessInfo.processInfo.environment["PARLEY_TEST_LOG"] != nil else {
        return Logger(label: label) { _ in SwiftLogNoOpLogHandler() }
    }
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .debug
    return logger
}

/// Log lines ("level message") a node wrote, for tests that check what an operator would read.
final class LogCapture: Sendable {
    private let storage = Mutex<[String]>([])

    var lines: [String] { storage.withLock { $0 } }
    /// The same lines with their metadata: `level message [key=value …]`, keys sorted.
    var linesWithMetadata: [String] { detailed.withLock { $0 } }
    private let detailed = Mutex<[String]>([])

    func handler() -> some LogHandler { Handler(capture: self) }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.storage.withLock { $0.append("\(event.level) \(event.message)") }
            let fields = metadata.merging(event.metadata ?? [:]) { $1 }.map { "\($0.key)=\($0.value)" }.sorted()
            capture.detailed.withLock { $0.append("\(event.level) \(event.message) [\(fields.joined(separator: " "))]") }
        }
    }
}

/// Polls `condition`. The generous default is for CI, where every suite runs at once on two cores
/// and synchronous tests can hold the cooperative threads for seconds; a pass returns at once.
func waitUntil(_ what: String, timeout: Duration = .seconds(90), _ condition: @Sendable () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw Timeout(description: "timed out waiting for \(what)")
}

/// A pre-launch body whose window opens three days from `now` (valid whatever today's date).
func preLaunchBody(now: UTCTime = .now) -> NotificationBody {
    var body = Examples.preLaunch
    body.windowStart = now + 3 * 86_400
    body.windowEnd = now + 3 * 86_400 + 4 * 3_600
    body.late = false
    return .preLaunch(body)
}

/// A composition document (NOTIFICATIONS.md §2) for a pre-launch whose window opens `opensIn`
/// seconds from now.
func preLaunchComposition(recipients: [String], opensIn: Int64 = 3 * 86_400, late: Bool? = nil) -> [String: Any] {
    let now = UTCTime.now
    var body: [String: Any] = [
        "class": "space-launch-vehicle",
        "window-start": (now + opensIn).description, "window-end": (now + opensIn + 4 * 3_600).description,
        "launch-area": ["circle": ["center": ["lat": 28.573469, "lon": -80.65107], "radius-m": 5_000]],
        "impact-areas": [["polygon": [["lat": 30.0, "lon": -60.0], ["lat": 30.0, "lon": -58.0], ["lat": 28.0, "lon": -58.0], ["lat": 28.0, "lon": -60.0]]]],
        "azimuth": 90.5, "designator": "SLV-7 flight 12",
    ]
    if let late { body["late"] = late }
    return ["type": "pre-launch", "recipients": recipients, "body": body,
            "remarks": ["lang": "en", "text": "Routine test launch."]]
}

/// A client TLS configuration trusting the test PKI's anchors and presenting `chain` and `key`.
func mutualTLSConfiguration(certificate chain: String, key: String, pki: TestPKI) throws -> TLSConfiguration {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.path("trust/anchors.pem")))
    tls.certificateChain = try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) }
    tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
    return tls
}

/// A fresh mutual-TLS connection to the node at `port`, presenting `participant`'s TLS certificate,
/// for raw bytes. Reads are made only while its inbound stream is iterated.
func rawTLSConnection(_ pki: TestPKI, port: Int, as participant: String) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
    var tls = try mutualTLSConfiguration(certificate: pki.path("participants/\(participant)/tls-chain.pem"),
                                         key: pki.path("participants/\(participant)/tls.key"), pki: pki)
    tls.certificateVerification = .noHostnameVerification
    let context = try NIOSSLContext(configuration: tls)
    return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
}

/// Runs `body` with a new HTTPClient and shuts it down on every path, awaiting the shutdown: a client
/// released while its shutdown is still running traps (AsyncHTTPClient checks it in `deinit`).
/// Kept-alive connections are dropped after a second idle, before any test node's idle timeout
/// closes them (a request sent on a connection the server is closing fails, as HTTP/1.1 allows).
@discardableResult
func withHTTPClient<T>(configuration: HTTPClient.Configuration = .init(), _ body: (HTTPClient) async throws -> T) async throws -> T {
    var configuration = configuration
    configuration.connectionPool.idleTimeout = .seconds(1)
    let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// POSTs `body` to `url` (through the admin socket when `socketPath` is given) and returns status and body.
func post(_ client: HTTPClient, _ url: String, _ body: [UInt8], contentType: String,
          headers: [(String, String)] = []) async throws -> (UInt, [UInt8], String?) {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: contentType)
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    request.body = .bytes(ByteBuffer(bytes: body))
    let response = try await client.execute(request, timeout: .seconds(10))
    let bytes = try await response.body.collect(upTo: 1 << 20)
    return (response.status.code, Array(buffer: bytes), response.headers.first(name: "Content-Type"))
}

func get(_ client: HTTPClient, _ url: String, timeout: TimeAmount = .seconds(10)) async throws -> (UInt, [UInt8]) {
    let response = try await client.execute(HTTPClientRequest(url: url), timeout: timeout)
    return (response.status.code, Array(buffer: try await response.body.collect(upTo: 1 << 20)))
}

/// A new temporary directory, removed when the test process exits. Short, because Unix socket
/// paths are limited to 107 bytes.
func temporaryDirectory() throws -> URL {
    let url = URL(fileURLWithPath: "/tmp/parley-node-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    let first = temporaryDirectories.withLock { paths in
        paths.append(url.path)
        return paths.count == 1
    }
    if first {
        atexit {
            for path in temporaryDirectories.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
        }
    }
    return url
}

let temporaryDirectories = Mutex<[String]>([])
