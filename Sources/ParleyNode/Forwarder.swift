import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOSSL
import ParleyProtocol
import ServiceLifecycle
import Synchronization

/// Hub mode (SPEC.md §12.7): forwards the exact received bytes to the named recipient with this
/// node's TLS certificate and relays the recipient's answer unchanged. Never signs anything.
public final class Forwarder: Service, Sendable {
    let httpConfiguration: HTTPClient.Configuration
    let timeout: TimeAmount
    let logger: Logger
    private let client = Mutex<HTTPClient?>(nil)

    public init(tlsClient: TLSConfiguration, requestTimeout: Double, logger: Logger) {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tlsClient, redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(10), read: .milliseconds(Int64(requestTimeout * 1000))))
        configuration.httpVersion = .http1Only
        httpConfiguration = configuration
        timeout = .milliseconds(Int64(requestTimeout * 1000))
        self.logger = logger
    }

    public func run() async throws {
        let made = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpConfiguration, backgroundActivityLogger: logger)
        client.withLock { $0 = made }
        try? await gracefulShutdown()
        client.withLock { $0 = nil }
        try? await made.shutdown()
    }

    /// Posts `bytes` (a message, or a batch of messages: SPEC.md §12.8) to `peer` and relays its
    /// answer; 502 `upstream-unavailable` when it cannot be reached.
    func forward(_ bytes: [UInt8], to peer: NodeConfiguration.Peer, batch: Bool = false, log: Logger) async -> Response {
        guard let client = client.withLock({ $0 }) else {
            return PeerServer.problemResponse(.unavailable("the hub is starting or stopping"))
        }
        var request = HTTPClientRequest(url: peer.url.absoluteString.trimmingSuffix("/") + (batch ? "/v1/messages/batch" : "/v1/messages"))
        request.method = .POST
        let mediaType = batch ? MessageBatch.mediaType : PeerServer.coseMediaType
        request.headers.add(name: "Content-Type", value: mediaType)
        request.headers.add(name: "Accept", value: "\(mediaType), application/problem+json")
        request.headers.add(name: "Parley-Recipient", value: peer.id.rawValue)
        request.body = .bytes(ByteBuffer(bytes: bytes))
        do {
            let response = try await client.execute(request, timeout: timeout, logger: log)
            let body = try await response.body.collect(upTo: BatchAnswer.maximumSize)
            var headers = HTTPFields()
            if let type = response.headers.first(name: "Content-Type") { headers[.contentType] = type }
            if let retryAfter = response.headers.first(name: "Retry-After") { headers[.retryAfter] = retryAfter }
            log.info("forwarded to \(peer.id): HTTP \(response.status.code)")
            return Response(status: .init(code: Int(response.status.code)), headers: headers, body: .init(byteBuffer: body))
        } catch {
            log.warning("cannot forward to \(peer.id): \(error)")
            return PeerServer.problemResponse(Problem(status: 502, name: "upstream-unavailable", title: "Recipient unreachable",
                                                      detail: "the hub could not reach \(peer.id): \(error)", retryAfter: 30))
        }
    }
}
