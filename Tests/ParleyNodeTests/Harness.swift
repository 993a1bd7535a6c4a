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
import ParleyTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Writes a parleyd configuration file (JSON) for `participant` of the test PKI to `path`:
/// identity, trust, listen address, admin socket and data directory, then `members` (further
/// top-level members as JSON text, e.g. `"peers": {}`).
func writeConfigurationFile(
    _ path: String,
    _ pki: TestPKI,
    _ participant: String,
    port: Int,
    adminSocket: String,
    dataDirectory: String,
    members: [String] = []
) throws {
    let base = "participants/\(participant)"
    let (signingKey, signingChain) = (pki.path("\(base)/signing.key"), pki.path("\(base)/signing-chain.pem"))
    let (tlsKey, tlsChain) = (pki.path("\(base)/tls.key"), pki.path("\(base)/tls-chain.pem"))
    let (anchors, crls) = (pki.path("trust/anchors.pem"), pki.path("trust/crls.pem"))
    let json =
        ([
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
            try writeConfigurationFile(
                path,
                pki,
                participant,
                port: port,
                adminSocket: "\(directory.path)/\(participant)-admin.sock",
                dataDirectory: dataDirectory,
                members: members
            )
        }
    }

    /// The file as parleyd reads it (resources checked).
    func load() async throws -> NodeConfiguration {
        try await NodeConfiguration.load(file: path, environment: [:], checkResources: true)
    }
}

struct Timeout: Error, CustomStringConvertible { var description: String }

/// Polls `condition`. The generous default is for CI, where every suite runs at once on two cores
/// and synchronous tests can hold the cooperative threads for seconds; a pass returns at once.
func waitUntil(
    _ what: String,
    timeout: Duration = .seconds(90),
    _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
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
        "impact-areas": [
            [
                "polygon": [
                    ["lat": 30.0, "lon": -60.0], ["lat": 30.0, "lon": -58.0], ["lat": 28.0, "lon": -58.0],
                    ["lat": 28.0, "lon": -60.0],
                ]
            ]
        ],
        "azimuth": 90.5, "designator": "SLV-7 flight 12",
    ]
    if let late { body["late"] = late }
    return [
        "type": "pre-launch", "recipients": recipients, "body": body,
        "remarks": ["lang": "en", "text": "Routine test launch."],
    ]
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
func rawTLSConnection(
    _ pki: TestPKI,
    port: Int,
    as participant: String
) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
    var tls = try mutualTLSConfiguration(
        certificate: pki.path("participants/\(participant)/tls-chain.pem"),
        key: pki.path("participants/\(participant)/tls.key"),
        pki: pki
    )
    tls.certificateVerification = .noHostnameVerification
    let context = try NIOSSLContext(configuration: tls)
    return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    NIOSSLClientHandler(context: context, serverHostname: nil)
                )
                return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
}

/// Runs `body` with a new HTTPClient and shuts it down on every path, awaiting the shutdown: a client
/// released while its shutdown is still running traps (AsyncHTTPClient checks it in `deinit`).
/// Kept-alive connections are dropped after a second idle, before any test node's idle timeout
/// closes them (a request sent on a connection the server is closing fails, as HTTP/1.1 allows).
@discardableResult
func withHTTPClient<T>(
    configuration: HTTPClient.Configuration = .init(),
    _ body: (HTTPClient) async throws -> T
) async throws -> T {
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
func post(
    _ client: HTTPClient,
    _ url: String,
    _ body: [UInt8],
    contentType: String,
    headers: [(String, String)] = []
) async throws -> (UInt, [UInt8], String?) {
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
