import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ParleyCrypto
import ParleyProtocol
import Synchronization

/// Request context of the peer listener: keeps the connection's channel to read the TLS peer.
public struct PeerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Counts requests in progress per peer and refuses more than the limit given with each request
/// (so that a reloaded limit applies to the next one).
final class ConcurrencyLimiter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func enter(_ peer: String, limit: Int) -> Bool {
        counts.withLock { counts in
            let current = counts[peer, default: 0]
            guard current < limit else { return false }
            counts[peer] = current + 1
            return true
        }
    }

    func leave(_ peer: String) {
        counts.withLock { counts in
            let current = counts[peer, default: 1] - 1
            counts[peer] = current > 0 ? current : nil
        }
    }
}

/// Answers a request for an unknown path, or a known path with another method, with a problem
/// (SPEC.md §12.3: 404 `not-found`, 405 `method-not-allowed`) instead of an empty 404.
struct UnroutedProblemMiddleware: RouterMiddleware {
    typealias Context = PeerRequestContext
    static let paths: Set<String> = ["/v1/messages", "/v1/messages/batch", "/v1/health"]

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            guard Self.paths.contains(path) else {
                return PeerServer.problemResponse(
                    Problem(
                        status: 404,
                        name: "not-found",
                        title: "Not found",
                        detail:
                            "no such endpoint: \(path); the peer interface is POST /v1/messages, POST /v1/messages/batch and GET /v1/health"
                    )
                )
            }
            let allowed = path == "/v1/health" ? "GET" : "POST"
            var response = PeerServer.problemResponse(
                Problem(
                    status: 405,
                    name: "method-not-allowed",
                    title: "Method not allowed",
                    detail: "\(request.method) is not allowed on \(path); use \(allowed)"
                )
            )
            response.headers[.allow] = allowed
            return response
        }
    }
}

/// The peer interface: `POST /v1/messages` and `GET /v1/health` over mutual TLS (SPEC.md §12).
public enum PeerServer {
    public static let coseMediaType = "application/cose; cose-type=\"cose-sign1\""
    /// TLS 1.2 suites allowed by SPEC.md §12.1: ECDHE with AES-GCM or ChaCha20-Poly1305 only (TLS 1.3
    /// suites are all AEAD and not affected by this list).
    public static let tls12CipherSuites = "ECDHE+AESGCM:ECDHE+CHACHA20"

    /// The router, separate from TLS so it can be tested on its own. `limits` is read at each
    /// request (a reload applies to the next request); by default, those of `configuration`.
    public static func router(
        receiver: MessageReceiver,
        configuration: NodeConfiguration,
        forwarder: Forwarder?,
        limits currentLimits: (@Sendable () -> NodeConfiguration.Limits)? = nil,
        contacted: @escaping @Sendable (ParticipantID) -> Void = { _ in },
        health: @escaping @Sendable () -> [String]
    ) -> Router<PeerRequestContext> {
        let fixedLimits = configuration.limits
        let currentLimits = currentLimits ?? { fixedLimits }
        let router = Router(context: PeerRequestContext.self)
        // Request counts and durations per route and status through swift-metrics (parleyd exports them).
        router.add(middleware: MetricsMiddleware())
        let limiter = ConcurrencyLimiter()
        let participant = receiver.identity.participantID
        let logger = receiver.logger
        /// A problem decided by the router (those of the receiver are counted there).
        @Sendable func refuse(_ problem: Problem) -> Response {
            receiver.metrics?.problem(problem.name)
            return problemResponse(problem)
        }

        router.add(middleware: UnroutedProblemMiddleware())
        /// What every delivery request is checked for before its body is processed (SPEC.md §12.2,
        /// §12.8): the authenticated TLS peer, the concurrency limit, the media type, the
        /// `Parley-Recipient` route, and the body within its size limit and the request timeout.
        struct Admitted {
            var peer: ParticipantID
            var body: [UInt8]
            /// The peer to forward to (a hub's `Parley-Recipient` naming another participant).
            var forwardTo: NodeConfiguration.Peer?
            /// The limits read for this request.
            var limits: NodeConfiguration.Limits
        }
        @Sendable func admit(
            _ request: Request,
            _ context: PeerRequestContext,
            mediaType: String,
            matches: (String?) -> Bool,
            bodyLimit: (NodeConfiguration.Limits) -> Int,
            then handle: (Admitted) async -> Response
        ) async throws -> Response {
            let limits = currentLimits()
            let bodyLimit = bodyLimit(limits)
            // The TLS peer: its certificate was verified during the handshake (TransportTrust).
            let peer: ParticipantID
            switch await authenticatedPeer(context.channel) {
            case .success(let authenticated):
                peer = authenticated
                contacted(peer)
            case .failure(let error):
                logger.warning("request without an authenticated TLS peer: \(error)")
                return refuse(.unauthenticated("\(error)"))
            }
            guard limiter.enter(peer.rawValue, limit: limits.maximumConcurrentRequestsPerPeer) else {
                logger.warning("too many concurrent requests", metadata: ["peer": "\(peer)"])
                return refuse(
                    .rateLimited(
                        "more than \(limits.maximumConcurrentRequestsPerPeer) concurrent requests from \(peer)"
                    )
                )
            }
            defer { limiter.leave(peer.rawValue) }
            guard matches(request.headers[.contentType]) else {
                return refuse(
                    .malformed(
                        "Content-Type must be \(mediaType), found \(request.headers[.contentType] ?? "none")",
                        status: 415
                    )
                )
            }
            let named = request.headers.first(where: { $0.name.canonicalName == "parley-recipient" })?.value
            var forwardTo: NodeConfiguration.Peer?
            if let named, named != participant.rawValue {
                guard forwarder != nil,
                    let target = configuration.peers.first(where: { $0.id.rawValue == named && $0.via == nil })
                else {
                    return refuse(
                        .misdirected(
                            "Parley-Recipient names \(named); this node is \(participant) and does not forward to it"
                        )
                    )
                }
                forwardTo = target
            }
            if let length = request.headers[.contentLength].flatMap(Int.init), length > bodyLimit {
                return refuse(.tooLarge("Content-Length \(length) exceeds \(bodyLimit) bytes"))
            }
            // Read the body within the limit and the request timeout (checked as each part arrives;
            // the connection's idle timeout bounds the wait for a part).
            var body = ByteBuffer()
            let deadline = ContinuousClock.now + limits.timeouts.request
            for try await part in request.body {
                guard body.readableBytes + part.readableBytes <= bodyLimit else {
                    return refuse(.tooLarge("request body exceeds \(bodyLimit) bytes"))
                }
                guard ContinuousClock.now <= deadline else {
                    logger.warning(
                        "request body not received within \(limits.timeouts.request.seconds) s",
                        metadata: ["peer": "\(peer)"]
                    )
                    return refuse(
                        .unavailable("the request body was not received within \(limits.timeouts.request.seconds) s")
                    )
                }
                body.writeImmutableBuffer(part)
            }
            return await handle(Admitted(peer: peer, body: Array(buffer: body), forwardTo: forwardTo, limits: limits))
        }
        /// A hub identifies each message it forwards and checks that the TLS peer is its sender; the
        /// recipient verifies (SPEC.md §12.7). Returns the messages' ids.
        @Sendable func checkForwardable(_ messages: [[UInt8]], peer: ParticipantID) -> Result<[MessageID], Problem> {
            var ids: [MessageID] = []
            for bytes in messages {
                switch MessageReceiver.identify(bytes) {
                case .failure(let problem): return .failure(problem)
                case .success(let message):
                    guard message.sender == peer else {
                        return .failure(
                            .forbiddenPeer("the TLS peer \(peer) may not deliver messages of \(message.sender)")
                        )
                    }
                    ids.append(message.id)
                }
            }
            return .success(ids)
        }

        router.post("/v1/messages") { request, context -> Response in
            try await admit(
                request,
                context,
                mediaType: "application/cose; cose-type=\"cose-sign1\"",
                matches: isCOSEMediaType,
                bodyLimit: \.maximumBodyBytes
            ) { admitted in
                if let target = admitted.forwardTo, let forwarder {
                    let ids: [MessageID]
                    switch checkForwardable([admitted.body], peer: admitted.peer) {
                    case .success(let identified): ids = identified
                    case .failure(let problem): return refuse(problem)
                    }
                    var log = logger
                    log[metadataKey: "message"] = "\(ids[0])"
                    log[metadataKey: "peer"] = "\(admitted.peer)"
                    return await forwarder.forward(
                        admitted.body,
                        to: target,
                        timeout: admitted.limits.timeouts.request,
                        log: log
                    )
                }
                switch await receiver.receive(admitted.body, at: UTCTime.now, peer: admitted.peer) {
                case .receipt(let receipt, _, _, _):
                    var headers = HTTPFields()
                    headers[.contentType] = coseMediaType
                    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: receipt)))
                case .problem(let problem):
                    return problemResponse(problem)  // counted by the receiver
                }
            }
        }

        // Several messages for one recipient in one request (SPEC.md §12.8): each processed as by
        // POST /v1/messages, concurrently, so that their acceptance shares one transaction.
        router.post("/v1/messages/batch") { request, context -> Response in
            try await admit(
                request,
                context,
                mediaType: MessageBatch.mediaType,
                matches: isBatchMediaType,
                bodyLimit: { _ in MessageBatch.maximumSize }
            ) { admitted in
                let batch: MessageBatch
                do {
                    batch = try MessageBatch(decoding: admitted.body)
                } catch let error as ProtocolError {
                    return refuse(error.code == .tooLarge ? .tooLarge(error.reason) : .malformed(error.reason))
                } catch {
                    return refuse(.malformed("\(error)"))
                }
                if let target = admitted.forwardTo, let forwarder {
                    if case .failure(let problem) = checkForwardable(batch.messages, peer: admitted.peer) {
                        return refuse(problem)
                    }
                    var log = logger
                    log[metadataKey: "peer"] = "\(admitted.peer)"
                    return await forwarder.forward(
                        admitted.body,
                        to: target,
                        batch: true,
                        timeout: admitted.limits.timeouts.request,
                        log: log
                    )
                }
                let answers = await receiver.receiveBatch(batch.messages, at: UTCTime.now, peer: admitted.peer).map {
                    answer -> BatchAnswer.Item in
                    switch answer {
                    case .receipt(let receipt, _, _, _): .receipt(receipt)
                    case .problem(let problem):
                        .problem(
                            BatchProblem(
                                status: problem.status.code,
                                name: problem.name,
                                detail: problem.detail,
                                parleyCode: problem.parleyCode,
                                retryAfter: problem.retryAfter
                            )
                        )
                    }
                }
                var headers = HTTPFields()
                headers[.contentType] = BatchAnswer.mediaType
                return Response(
                    status: .ok,
                    headers: headers,
                    body: .init(byteBuffer: ByteBuffer(bytes: BatchAnswer(answers).encoded))
                )
            }
        }

        router.get("/v1/health") { _, _ -> Response in
            let problems = health()
            var object: [String: Any] = [
                "status": problems.isEmpty ? "ok" : "unavailable",
                "participant": participant.rawValue, "protocol-versions": [1],
            ]
            if !problems.isEmpty { object["problems"] = problems }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(
                status: problems.isEmpty ? .ok : .serviceUnavailable,
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: data))
            )
        }
        return router
    }

    /// The TLS server configuration: this node's TLS certificate and key; client certificates
    /// required and verified with ParleyCrypto against the transport anchors and CRLs, for the
    /// transport profile (SPEC.md §12.1).
    public static func tlsConfiguration(
        keyPath: String,
        chainPath: String,
        transportTrust: TrustStoreReference,
        logger: Logger
    ) throws -> TLSChannelConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(chainPath)
        // ParleyCrypto refuses key files with group or other permissions; check before NIOSSL reads it.
        _ = try PrivateKey.load(path: keyPath)
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        tls.minimumTLSVersion = .tlsv12
        tls.cipherSuites = tls12CipherSuites
        // A client is identified by the participant URI of its certificate (SPEC.md §8.3), checked
        // in the callback below; `.fullVerification` would also match the certificate's names
        // against the client's IP address and drop every production-profile certificate.
        tls.certificateVerification = .noHostnameVerification
        tls.trustRoots = .certificates(
            try transportTrust.current.anchors.map { try NIOSSLCertificate(bytes: $0.derEncoded, format: .der) }
        )
        return TLSChannelConfiguration(tlsConfiguration: tls) { certificates in
            verifyTransportChain(certificates, trust: transportTrust, logger: logger) != nil
                ? .certificateVerified : .failed
        }
    }

    /// Verifies a TLS peer's presented chain; returns its participant id, or nil (logged).
    static func verifyTransportChain(
        _ certificates: [NIOSSLCertificate],
        trust: TrustStoreReference,
        logger: Logger
    ) -> String? {
        do {
            let chain = try certificates.map { try Certificate(derEncoded: try $0.toDERBytes()) }
            let verified = try trust.current.verify(chain: chain, at: Date(), purpose: .transportTLS)
            return verified.participantID
        } catch {
            logger.warning(
                "TLS peer refused: its certificate does not verify against the transport trust anchors and CRLs: \(error)"
            )
            return nil
        }
    }

    static func authenticatedPeer(_ channel: any Channel) async -> Result<ParticipantID, any Error> {
        do { return .success(try await peerParticipant(channel)) } catch { return .failure(error) }
    }

    static func peerParticipant(_ channel: any Channel) async throws -> ParticipantID {
        guard let certificate = try await channel.nioSSL_peerCertificate().get() else {
            throw Problem.unauthenticated("no client certificate")
        }
        let der = try certificate.toDERBytes()
        if let known = peerParticipants.withLock({ $0[der] }) { return known }
        let parsed = try Certificate(derEncoded: der)
        guard let id = parsed.participantID else {
            throw Problem.unauthenticated("the client certificate binds no participant id")
        }
        let participant = try ParticipantID(id)
        peerParticipants.withLock { cache in
            if cache.count >= 256 { cache.removeAll(keepingCapacity: true) }
            cache[der] = participant
        }
        return participant
    }

    /// The participant id bound in a TLS client certificate, by the certificate's DER: parsing the
    /// certificate for every request cost more than verifying the message's signature. (The chain
    /// was verified in the handshake; this is only the id it binds, a function of the bytes.)
    private static let peerParticipants = Mutex<[[UInt8]: ParticipantID]>([:])

    static func isCOSEMediaType(_ value: String?) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard parts.first == "application/cose" else { return false }
        return parts.dropFirst().contains { $0 == "cose-type=\"cose-sign1\"" || $0 == "cose-type=cose-sign1" }
    }

    static func isBatchMediaType(_ value: String?) -> Bool {
        guard let value else { return false }
        return value.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            == MessageBatch.mediaType
    }

    static func problemResponse(_ problem: Problem) -> Response { problem.response }
}
