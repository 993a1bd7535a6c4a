import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ParleyCrypto
import ParleyProtocol
import Synchronization

/// The client side of the peer interface (SPEC.md §12.1): HTTP/1.1 over mutual TLS, where the
/// server's chain is verified by ParleyCrypto against the transport anchors and CRLs (reloaded with
/// them), its participant id must be the one expected for the endpoint (the recipient, or the hub
/// used to reach it), and its certificate must be valid for the URL's host. AsyncHTTPClient has no
/// hook for the participant check, so delivery and forwarding use this small client: one request at
/// a time per connection, kept-alive connections reused per endpoint.
final class PeerClient: Sendable {
    /// Where a request goes, and who must answer there.
    struct Endpoint: Hashable, Sendable {
        var host: String
        var port: Int
        var participant: ParticipantID

        init(url: URL, participant: ParticipantID) throws(PeerClientError) {
            guard url.scheme?.lowercased() == "https", let host = url.host, !host.isEmpty else {
                throw PeerClientError("the peer URL \(url.absoluteString) is not an https:// URL with a host")
            }
            self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            port = url.port ?? 443
            self.participant = participant
        }
    }

    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    static let maximumIdleConnectionsPerEndpoint = 16

    /// The request path for an endpoint path such as `/v1/messages` under a peer's base URL
    /// (SPEC.md §12.6: appended to the URL's path, if it has one).
    static func path(_ suffix: String, under url: URL) -> String {
        (url.path.hasSuffix("/") ? String(url.path.dropLast()) : url.path) + suffix
    }
    /// A kept-alive connection idle longer than this is closed rather than reused (servers close
    /// idle connections too, and one closed meanwhile costs a failed attempt).
    static let maximumIdleTime = TimeAmount.seconds(10)

    private let context: NIOSSLContext
    private let trust: TrustStoreReference
    private let group: any EventLoopGroup
    private let logger: Logger
    private let idle = Mutex<[Endpoint: [(channel: any Channel, since: NIODeadline)]]>([:])

    /// `tls` supplies this node's TLS certificate and key (its own verification settings are
    /// replaced by the checks above).
    init(
        tls: TLSConfiguration,
        trust: TrustStoreReference,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) throws {
        context = try NIOSSLContext(configuration: tls)
        self.trust = trust
        self.group = group
        self.logger = logger
    }

    /// POSTs `body` to `path` at `endpoint` and collects the answer (at most `maximumResponseBytes`
    /// of body) within `timeout`. A kept-alive connection that turns out closed is replaced once.
    func post(
        _ endpoint: Endpoint,
        path: String,
        headers: [(String, String)],
        body: ByteBuffer,
        timeout: TimeAmount,
        maximumResponseBytes: Int
    ) async throws -> Response {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(
            name: "Host",
            value: endpoint.host.contains(":")
                ? "[\(endpoint.host)]:\(endpoint.port)" : "\(endpoint.host):\(endpoint.port)"
        )
        head.headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let channel = takeIdle(endpoint) {
            do {
                return try await exchange(
                    on: channel,
                    endpoint: endpoint,
                    head: head,
                    body: body,
                    timeout: timeout,
                    limit: maximumResponseBytes
                )
            } catch let error as PeerClientError where error.beforeAnswer {
                // The server closed the kept-alive connection meanwhile; nothing was answered.
            } catch {
                evictIdle(endpoint)
                throw error
            }
        }
        do {
            let channel = try await connect(endpoint)
            return try await exchange(
                on: channel,
                endpoint: endpoint,
                head: head,
                body: body,
                timeout: timeout,
                limit: maximumResponseBytes
            )
        } catch {
            // Whatever broke this connection (a peer restarting, a link cutting or stalling) has
            // likely broken the idle ones to the same endpoint: they are not reused.
            evictIdle(endpoint)
            throw error
        }
    }

    /// Starts closing the idle connections, without waiting: a TLS close waits up to the TLS shutdown
    /// timeout for the server's close_notify, and a stopping daemon must not wait that long for each
    /// connection of each peer in turn.
    func shutdown() async {
        let channels = idle.withLock { idle in
            defer { idle.removeAll() }
            return idle.values.flatMap { $0.map(\.channel) }
        }
        for channel in channels { channel.close(promise: nil) }
    }

    private func exchange(
        on channel: any Channel,
        endpoint: Endpoint,
        head: HTTPRequestHead,
        body: ByteBuffer,
        timeout: TimeAmount,
        limit: Int
    ) async throws -> Response {
        let promise = channel.eventLoop.makePromise(of: Response.self)
        // (Completing a promise a second time is ignored: the first outcome stands.)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(
                PeerClientError(
                    "no complete answer from \(endpoint.participant) at \(endpoint.host):\(endpoint.port) within \(timeout.nanoseconds / 1_000_000) ms"
                )
            )
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        do {
            try await channel.writeAndFlush(
                ExchangeHandler.Exchange(head: head, body: body, maximumResponseBytes: limit, promise: promise)
            )
        } catch {
            promise.fail(
                PeerClientError(
                    "cannot send to \(endpoint.participant) at \(endpoint.host):\(endpoint.port): \(error)",
                    beforeAnswer: true
                )
            )
            channel.close(promise: nil)
        }
        let response = try await promise.futureResult.get()
        let close = response.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
        if close || !channel.isActive { channel.close(promise: nil) } else { putIdle(channel, endpoint) }
        return response
    }

    private func connect(_ endpoint: Endpoint) async throws -> any Channel {
        let context = self.context
        let trust = self.trust
        let logger = self.logger
        let sni = Self.isIPAddress(endpoint.host) ? nil : endpoint.host
        return try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: sni) { certificates, promise in
                        promise.succeed(
                            Self.verifyServer(certificates, endpoint: endpoint, trust: trust, logger: logger)
                                ? .certificateVerified : .failed
                        )
                    }
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                }
            }
            .connect(host: endpoint.host, port: endpoint.port).get()
    }

    /// SPEC.md §12.1 for the server of `endpoint`: chain (anchors, CRLs, TLS profile), participant
    /// id, host name. Logged when it fails.
    static func verifyServer(
        _ certificates: [NIOSSLCertificate],
        endpoint: Endpoint,
        trust: TrustStoreReference,
        logger: Logger
    ) -> Bool {
        let reason: String
        do {
            let chain = try certificates.map { try Certificate(derEncoded: try $0.toDERBytes()) }
            let verified = try trust.current.verify(chain: chain, at: Date(), purpose: .transportTLS)
            if verified.participantID != endpoint.participant.rawValue {
                reason = "it presents a valid certificate of \(verified.participantID), not of \(endpoint.participant)"
            } else if let leaf = chain.first, !leaf.matchesHost(endpoint.host) {
                reason = "its certificate (\(endpoint.participant)) is not valid for the host name \(endpoint.host)"
            } else {
                return true
            }
        } catch {
            reason = "its certificate does not verify against the transport trust anchors and CRLs: \(error)"
        }
        logger.warning(
            "TLS server refused: \(endpoint.host):\(endpoint.port) should be \(endpoint.participant), but \(reason); check the peer's URL in the configuration",
            metadata: ["peer": "\(endpoint.participant)"]
        )
        return false
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// The most recently used idle connection to `endpoint` that is still open and not too old;
    /// the others found on the way are closed.
    private func takeIdle(_ endpoint: Endpoint) -> (any Channel)? {
        let oldest = NIODeadline.now() - Self.maximumIdleTime
        var stale: [any Channel] = []
        let channel = idle.withLock { idle -> (any Channel)? in
            while let entry = idle[endpoint]?.popLast() {
                if entry.channel.isActive && entry.since > oldest { return entry.channel }
                stale.append(entry.channel)
            }
            return nil
        }
        for channel in stale { channel.close(promise: nil) }
        return channel
    }

    private func putIdle(_ channel: any Channel, _ endpoint: Endpoint) {
        let kept = idle.withLock { idle in
            guard idle[endpoint, default: []].count < Self.maximumIdleConnectionsPerEndpoint else { return false }
            idle[endpoint, default: []].append((channel, NIODeadline.now()))
            return true
        }
        if !kept { channel.close(promise: nil) }
    }

    private func evictIdle(_ endpoint: Endpoint) {
        let channels = idle.withLock { $0.removeValue(forKey: endpoint) ?? [] }
        for entry in channels { entry.channel.close(promise: nil) }
    }
}

/// Why a request to a peer failed before or without an HTTP answer.
struct PeerClientError: Error, CustomStringConvertible {
    var reason: String
    /// The connection ended before any part of an answer arrived (a reused connection may be retried).
    var beforeAnswer = false

    init(_ reason: String, beforeAnswer: Bool = false) {
        self.reason = reason
        self.beforeAnswer = beforeAnswer
    }

    var description: String { reason }
}

/// One request at a time on a connection: writes it, collects the answer, completes the promise.
final class ExchangeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Exchange
    typealias OutboundOut = HTTPClientRequestPart

    struct Exchange: Sendable {
        var head: HTTPRequestHead
        var body: ByteBuffer
        var maximumResponseBytes: Int
        var promise: EventLoopPromise<PeerClient.Response>
    }

    private var pending: Exchange?
    private var responseHead: HTTPResponseHead?
    private var body = ByteBuffer()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard pending == nil else {
            exchange.promise.fail(PeerClientError("internal: a second request on a busy connection"))
            promise?.fail(PeerClientError("busy connection"))
            return
        }
        pending = exchange
        responseHead = nil
        body.clear()
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let pending else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if head.status.code >= 200 { responseHead = head }
        case .body(var part):
            guard body.readableBytes + part.readableBytes <= pending.maximumResponseBytes else {
                fail(PeerClientError("the answer exceeds \(pending.maximumResponseBytes) bytes"))
                context.close(promise: nil)
                return
            }
            body.writeBuffer(&part)
        case .end:
            guard let head = responseHead else { return }
            self.pending = nil
            pending.promise.succeed(
                PeerClient.Response(status: Int(head.status.code), headers: head.headers, body: body)
            )
        }
    }

    func fail(_ error: any Error) {
        guard let pending else { return }
        self.pending = nil
        pending.promise.fail(error)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(
            PeerClientError(
                TransportErrorText.explain(error),
                beforeAnswer: responseHead == nil && !(error is NIOSSLError)
            )
        )
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(PeerClientError("the connection was closed before a complete answer", beforeAnswer: responseHead == nil))
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension ExchangeHandler: Sendable {}

/// The delivery exchanges of the peer interface: a message or a batch posted to a peer, and its
/// answer read as receipts or problems.
extension PeerClient {
    /// What one attempt yielded for one message.
    enum Answer: Sendable {
        /// No HTTP answer.
        case transport(String)
        /// An HTTP error status (or a batch item's problem).
        case problem(status: UInt, detail: String, retryAfter: Duration?)
        /// A 200 (or a batch item) that must be a receipt for the message.
        case receipt([UInt8])
        /// A 200 whose body cannot hold a valid receipt.
        case invalid(String)
    }

    /// What a batch request yielded.
    enum BatchAnswers: Sendable {
        /// One answer per message, in order. `failedAsAWhole`: no answer, or an HTTP error to the
        /// whole request (the same answer for every message).
        case answers([Answer], failedAsAWhole: Bool)
        /// The peer has no batch endpoint (HTTP 404 or 405): it predates SPEC.md §12.8.
        case unsupported(status: Int)
    }

    /// The connection for `peer`: its URL, answered by the peer itself or by the hub it is reached through.
    static func endpoint(_ peer: NodeConfiguration.Peer) throws(PeerClientError) -> Endpoint {
        try Endpoint(url: peer.url, participant: peer.via ?? peer.id)
    }

    /// `POST /v1/messages` with one message (SPEC.md §12.2).
    func send(_ message: Data, to peer: NodeConfiguration.Peer, timeout: TimeAmount) async -> Answer {
        do {
            let response = try await post(
                try Self.endpoint(peer),
                path: Self.path("/v1/messages", under: peer.url),
                headers: [
                    ("Content-Type", PeerServer.coseMediaType),
                    ("Accept", "\(PeerServer.coseMediaType), application/problem+json"),
                    ("Parley-Recipient", peer.id.rawValue),
                ],
                body: ByteBuffer(bytes: message),
                timeout: timeout,
                maximumResponseBytes: MessageVerifier.maximumSize
            )
            guard response.status == 200 else {
                return .problem(
                    status: UInt(response.status),
                    detail: Self.problemText(response.body),
                    retryAfter: Self.retryAfter(response.headers)
                )
            }
            return .receipt(Array(buffer: response.body))
        } catch {
            return .transport(TransportErrorText.explain(error))
        }
    }

    /// `POST /v1/messages/batch` (SPEC.md §12.8): one answer per message, or `.unsupported`.
    func sendBatch(_ messages: [Data], to peer: NodeConfiguration.Peer, timeout: TimeAmount) async -> BatchAnswers {
        let all: Answer
        do {
            let response = try await post(
                try Self.endpoint(peer),
                path: Self.path("/v1/messages/batch", under: peer.url),
                headers: [
                    ("Content-Type", MessageBatch.mediaType),
                    ("Accept", "\(BatchAnswer.mediaType), application/problem+json"),
                    ("Parley-Recipient", peer.id.rawValue),
                ],
                body: ByteBuffer(bytes: MessageBatch(messages.map { Array($0) }).encoded),
                timeout: timeout,
                maximumResponseBytes: BatchAnswer.maximumSize
            )
            switch response.status {
            case 200:
                do {
                    let items = try BatchAnswer(decoding: Array(buffer: response.body), expectedCount: messages.count)
                        .items
                    return .answers(
                        items.map { item in
                            switch item {
                            case .receipt(let bytes): return .receipt(bytes)
                            case .problem(let problem):
                                return .problem(
                                    status: UInt(problem.status),
                                    detail: "\(problem.name): \(problem.detail)",
                                    retryAfter: problem.retryAfter.flatMap {
                                        DeliveryPolicy.retryAfter(seconds: Double($0))
                                    }
                                )
                            }
                        },
                        failedAsAWhole: false
                    )
                } catch {
                    all = .invalid("HTTP 200 to a batch without a valid batch answer: \(error)")
                }
            case 404, 405:
                return .unsupported(status: response.status)
            default:
                all = .problem(
                    status: UInt(response.status),
                    detail: Self.problemText(response.body),
                    retryAfter: Self.retryAfter(response.headers)
                )
            }
        } catch {
            all = .transport(TransportErrorText.explain(error))
        }
        return .answers(Array(repeating: all, count: messages.count), failedAsAWhole: true)
    }

    /// What an HTTP error answer says: a problem's name and `detail` (SPEC.md §12.6), else the start
    /// of the body.
    static func problemText(_ body: ByteBuffer) -> String {
        if let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
            let detail = object["detail"] as? String
        {
            let name = (object["type"] as? String)?.split(separator: ":").last.map { "\($0): " } ?? ""
            return String((name + detail).prefix(500))
        }
        return String(String(buffer: body).prefix(300))
    }

    /// A `Retry-After` in seconds (a non-negative integer, RFC 9110 §10.2.3); nil for anything else
    /// (the date form, "nan", "inf", negative numbers).
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        guard let text = headers.first(name: "Retry-After"),
            let seconds = UInt32(text.trimmingCharacters(in: .whitespaces))
        else { return nil }
        return .seconds(seconds)
    }
}
