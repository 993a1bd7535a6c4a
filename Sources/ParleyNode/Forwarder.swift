import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOSSL
import ParleyCrypto
import ParleyProtocol
import ServiceLifecycle
import Synchronization

/// Hub mode (SPEC.md §12.7): forwards the exact received bytes to the named recipient with this
/// node's TLS certificate (checking, as for delivery, that the server there is that recipient:
/// SPEC.md §12.1) and relays the recipient's answer unchanged. Never signs anything.
public final class Forwarder: Service, Sendable {
    let client: PeerClient
    let logger: Logger
    /// The last forwarding attempt to each recipient: when, and why it failed (nil: it was answered).
    let lastAttempts = Mutex<[String: (at: Date, error: String?)]>([:])

    public init(tlsClient: TLSConfiguration, transportTrust: TrustStoreReference, logger: Logger) throws {
        client = try PeerClient(tls: tlsClient, trust: transportTrust, logger: logger)
        self.logger = logger
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await client.shutdown()
    }

    /// Posts `bytes` (a message, or a batch of messages: SPEC.md §12.8) to `peer` and relays its
    /// answer, which must be complete within `timeout`; 502 `upstream-unavailable` when it
    /// cannot be reached.
    func forward(
        _ bytes: [UInt8],
        to peer: NodeConfiguration.Peer,
        batch: Bool = false,
        timeout: Duration,
        log: Logger
    ) async -> Response {
        let mediaType = batch ? MessageBatch.mediaType : PeerServer.coseMediaType
        do {
            let answer = try await client.post(
                try PeerClient.Endpoint(url: peer.url, participant: peer.id),
                path: PeerClient.path(batch ? "/v1/messages/batch" : "/v1/messages", under: peer.url),
                headers: [
                    ("Content-Type", mediaType), ("Accept", "\(mediaType), application/problem+json"),
                    ("Parley-Recipient", peer.id.rawValue),
                ],
                body: ByteBuffer(bytes: bytes),
                timeout: TimeAmount(timeout),
                maximumResponseBytes: BatchAnswer.maximumSize
            )
            var headers = HTTPFields()
            if let type = answer.headers.first(name: "Content-Type") { headers[.contentType] = type }
            if let retryAfter = answer.headers.first(name: "Retry-After") { headers[.retryAfter] = retryAfter }
            log.info("forwarded to \(peer.id): HTTP \(answer.status)")
            lastAttempts.withLock { $0[peer.id.rawValue] = (Date(), nil) }
            return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: answer.body))
        } catch {
            let reason = TransportErrorText.explain(error)
            log.warning("cannot forward to \(peer.id): \(reason)")
            lastAttempts.withLock { $0[peer.id.rawValue] = (Date(), reason) }
            return PeerServer.problemResponse(
                Problem(
                    status: 502,
                    name: "upstream-unavailable",
                    title: "Recipient unreachable",
                    detail: "the hub could not reach \(peer.id): \(reason)",
                    retryAfter: 30
                )
            )
        }
    }
}
