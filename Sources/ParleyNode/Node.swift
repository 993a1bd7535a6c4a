import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ParleyCrypto
import ParleyProtocol
import ParleyStore
import ServiceLifecycle
import Synchronization

/// One Parley node: its identity, trust, store and services (peer listener, admin listener,
/// delivery). `services()` returns them for a `ServiceGroup`.
public final class Node: Sendable {
    /// The configuration in use (`reload()` replaces the keys that can change at run time).
    public var configuration: NodeConfiguration { current.withLock { $0 } }
    let current: Mutex<NodeConfiguration>
    /// The limits in use (`limits.*`; a reload replaces them).
    var limits: NodeConfiguration.Limits { current.withLock { $0.limits } }
    /// The file the configuration was read from (with `PARLEY_*` overrides), read again by `reload()`;
    /// nil: the configuration was built in code and only trust is reloaded.
    public let configurationFile: String?
    /// When this node object was made (the daemon's start).
    public let started = Date()
    let lastReload = Mutex<(at: Date, report: ReloadReport)?>(nil)
    public let identity: SigningIdentity
    /// The leaf of the TLS chain loaded at start (the one the listener and delivery present until a
    /// restart), for expiry reports.
    public let tlsCertificate: Certificate?
    public let signingTrust: TrustStoreReference
    public let transportTrust: TrustStoreReference
    public let store: ParleyStore
    public let verifier: MessageVerifier
    public let delivery: DeliveryService
    public let metrics = NodeMetrics()
    let logger: Logger
    /// Drafts submitted together share one transaction and one fsync (SPEC.md §10.1 still holds:
    /// numbers, signature and storage are one atomic step per message).
    let submissions: GroupCommitter<PendingSubmission, QueuedMessage>
    /// When each peer last reached this node (an authenticated request), forwarded traffic included.
    let lastSeen = Mutex<[String: Date]>([:])
    /// The hub's forwarder, when this node is a hub (its last attempt per recipient, for status).
    let forwarderState = Mutex<Forwarder?>(nil)
    private let ports = Mutex<(peer: Int?, admin: Bool, metrics: Int?)>((nil, false, nil))
    /// Device and inode of the admin socket this node put in place.
    private let adminSocketIdentity = Mutex<(dev: UInt64, ino: UInt64)?>(nil)

    public var participant: ParticipantID { identity.participantID }

    /// Loads keys, certificates, trust anchors and CRLs and opens the store. Throws
    /// `ConfigurationError` naming the key whose file cannot be used.
    public init(configuration: NodeConfiguration, logger: Logger, configurationFile: String? = nil) throws {
        current = Mutex(configuration)
        self.configurationFile = configurationFile
        self.logger = logger
        let problems = configuration.checkResources()
        guard problems.isEmpty else { throw ConfigurationError(file: nil, problems: problems) }
        identity = try SigningIdentity.load(
            keyPath: configuration.signingKeyPath,
            chainPath: configuration.signingChainPath
        )
        tlsCertificate = (try? Certificate.load(path: configuration.tlsChainPath))?.first
        let skew = TimeInterval(configuration.clockSkew)
        signingTrust = TrustStoreReference(
            try TrustStore.load(
                anchorsPath: configuration.signingTrust.anchors,
                crlPaths: configuration.signingTrust.crls,
                maximumClockSkew: skew
            )
        )
        transportTrust = TrustStoreReference(
            try TrustStore.load(
                anchorsPath: configuration.transportTrust.anchors,
                crlPaths: configuration.transportTrust.crls,
                maximumClockSkew: skew
            )
        )
        verifier = MessageVerifier(trust: signingTrust)
        store = try ParleyStore(path: configuration.storePath)
        submissions = Self.submissionCommitter(store: store, identity: identity)
        delivery = try DeliveryService(
            configuration: configuration,
            store: store,
            verifier: verifier,
            tlsClient: try DeliveryService.tlsClientConfiguration(configuration),
            transportTrust: transportTrust,
            logger: logger,
            metrics: metrics
        )
        for (what, certificate, days) in certificatesNearExpiry() {
            logger.warning(
                "\(what) '\(certificate.subject)' \(days < 0 ? "has expired" : "expires in \(days) days") (not after \(UTCTime(certificate.notValidAfter))): request a new one from the issuing CA"
            )
        }
    }

    /// This node's own certificates (signing and TLS leaves) that expire within the configured
    /// warning period, each with the days left; logged as warnings at start-up.
    public func certificatesNearExpiry(
        at now: Date = Date()
    ) -> [(what: String, certificate: Certificate, daysLeft: Int)] {
        var result: [(String, Certificate, Int)] = []
        let tls = tlsCertificate
        for (what, certificate) in [("signing certificate", identity.chain.first), ("TLS certificate", tls)] {
            guard let certificate else { continue }
            let days = certificate.daysLeft(at: now)
            if days < configuration.certificateExpiryWarningDays { result.append((what, certificate, days)) }
        }
        return result
    }

    /// The port the peer listener is bound to, once it runs.
    public var peerPort: Int? { ports.withLock { $0.peer } }
    public var adminListening: Bool { ports.withLock { $0.admin } }
    public var metricsPort: Int? { ports.withLock { $0.metrics } }

    /// Removes the admin socket this node bound (after its services stopped), so that no stale
    /// socket is left behind; a socket it did not bind (another daemon's) is never touched.
    public func removeAdminSocket() {
        let path = configuration.adminSocketPath
        var status = stat()
        guard let ours = adminSocketIdentity.withLock({ $0 }), lstat(path, &status) == 0,
            UInt64(status.st_dev) == ours.dev, UInt64(status.st_ino) == ours.ino
        else { return }
        unlink(path)
    }

    /// The Prometheus exposition of this node's metrics.
    public func metricsText() async -> String {
        let now = Date()
        var depths = Dictionary(uniqueKeysWithValues: configuration.peers.map { ($0.id.rawValue, 0) })
        for (peer, depth) in (try? await store.queueDepths()) ?? [:] { depths[peer.rawValue] = depth }
        let oldest = (try? await store.oldestUndelivered())?.map { now.timeIntervalSince($0) }
        let tls = tlsCertificate
        let days = [("signing", identity.chain.first), ("tls", tls)].compactMap { name, certificate in
            certificate.map { (name, $0.daysLeft(at: now)) }
        }
        let gaps = (try? await store.gaps(recipient: participant)) ?? []
        let openGaps = Dictionary(gaps.map { ($0.sender, 1) }, uniquingKeysWith: +)
        let oldestGap = gaps.map(\.detected).min().map { now.timeIntervalSince($0) }
        return metrics.render(
            queueDepths: depths,
            oldestUndeliveredAge: oldest,
            certificateDays: days,
            openGaps: openGaps,
            oldestGapAge: oldestGap
        )
    }

    /// Validates the draft, assigns sequence numbers, signs and queues it in one transaction; wakes delivery.
    public func submit(_ draft: Draft, at time: UTCTime = .now) async throws -> QueuedMessage {
        if let problem = unreachableRecipients(draft.recipients) { throw problem }
        return try await enqueue(recipients: draft.recipients, at: time) { sequences in
            Envelope(
                id: MessageID.generate(at: time),
                sender: self.participant,
                recipients: try draft.recipients.map {
                    Recipient(participant: $0, sequence: try sequences[$0].orThrow())
                },
                created: time,
                body: draft.body,
                references: draft.references,
                remarks: draft.remarks
            )
        }
    }

    /// As `submit(_ draft:)` for a composition document (NOTIFICATIONS.md §2). Errors name the field.
    public func submit(_ composition: Composition, at time: UTCTime = .now) async throws -> QueuedMessage {
        try await submit([composition], at: time)[0].get()
    }

    /// Several composition documents at once (the admin API's array of drafts): each is numbered,
    /// signed and stored in the order given, or refused on its own (an invalid one consumes no
    /// number), in as few transactions as fit. One outcome per composition, in order.
    public func submit(
        _ compositions: [Composition],
        at time: UTCTime = .now
    ) async -> [Result<QueuedMessage, any Error>] {
        let refusals = compositions.map { unreachableRecipients($0.recipients) }
        let pending = zip(compositions, refusals).filter { $0.1 == nil }.map { composition, _ in
            PendingSubmission(recipients: composition.recipients, time: time) { sequences in
                try composition.envelope(
                    sender: self.participant,
                    sequences: sequences,
                    now: time,
                    newID: MessageID.generate(at: time)
                )
            }
        }
        var submitted = await submissions.submitAll(pending)[...]
        let outcomes = refusals.map { refusal -> Result<QueuedMessage, any Error> in
            refusal.map { .failure($0) } ?? submitted.popFirst()!
        }
        var recipients = Set<String>()
        for (outcome, composition) in zip(outcomes, compositions) {
            guard case .success(let queued) = outcome else { continue }
            logQueued(queued, composition.recipients)
            recipients.formUnion(composition.recipients.map(\.rawValue))
        }
        if !recipients.isEmpty { delivery.wake(recipients.sorted()) }
        return outcomes
    }

    /// Allocates the channel numbers, builds and signs the envelope and stores it, in one transaction:
    /// if building or signing throws, nothing is stored and no number is used.
    private func enqueue(
        recipients: [ParticipantID],
        at time: UTCTime,
        envelope make: @escaping @Sendable ([ParticipantID: UInt64]) throws -> Envelope
    ) async throws -> QueuedMessage {
        let queued = try await submissions.submit(PendingSubmission(recipients: recipients, time: time, make: make))
        logQueued(queued, recipients)
        delivery.wake(recipients.map(\.rawValue))
        return queued
    }

    /// A draft for a participant that is not a peer of this node would wait in the outbox until it
    /// expired, with nobody to deliver it: refused, naming the recipient (a typo in an id is caught
    /// when the notification is sent, not days later).
    private func unreachableRecipients(_ recipients: [ParticipantID]) -> Problem? {
        let peers = Set(configuration.peers.map(\.id))
        let unknown = recipients.filter { !peers.contains($0) }
        guard !unknown.isEmpty else { return nil }
        let configured = peers.map(\.rawValue).sorted().joined(separator: ", ")
        return Problem(
            status: 400,
            name: "invalid-draft",
            title: "Invalid notification draft",
            detail:
                "recipients: \(unknown.map(\.rawValue).joined(separator: ", ")) \(unknown.count == 1 ? "is not a peer" : "are not peers") of this node "
                + "(its peers: \(configured.isEmpty ? "none" : configured)); correct the id, or add the peer to the configuration and reload"
        )
    }

    private func logQueued(_ queued: QueuedMessage, _ recipients: [ParticipantID]) {
        logger.info(
            "queued a message for \(recipients.map(\.rawValue).joined(separator: ", "))",
            metadata: ["message": "\(queued.id)"]
        )
    }

    struct PendingSubmission: Sendable {
        var recipients: [ParticipantID]
        var time: UTCTime
        var make: @Sendable ([ParticipantID: UInt64]) throws -> Envelope
    }

    private static func submissionCommitter(
        store: ParleyStore,
        identity: SigningIdentity
    ) -> GroupCommitter<PendingSubmission, QueuedMessage> {
        let sender = identity.participantID
        @Sendable func build(
            _ pending: PendingSubmission
        ) -> @Sendable ([ParticipantID: UInt64]) throws -> MessageFields {
            { sequences in
                let envelope = try pending.make(sequences)
                let bytes = try identity.sign(envelope)
                return MessageFields(
                    id: envelope.id,
                    bytes: Data(bytes),
                    type: envelope.type.rawValue,
                    created: envelope.created.date,
                    references: envelope.references.map {
                        MessageReference(target: $0.messageID, relation: $0.relation)
                    },
                    remarks: envelope.remarks
                )
            }
        }
        return GroupCommitter(label: "submit") { requests in
            await GroupCommitter<PendingSubmission, QueuedMessage>.isolating(
                requests,
                batch: { batch in
                    try await store.enqueueBatch(
                        batch.map { EnqueueRequest(sender: sender, recipients: $0.recipients, build: build($0)) },
                        queuedAt: batch[0].time.date
                    )
                },
                single: { pending in
                    try await store.enqueue(
                        sender: sender,
                        recipients: pending.recipients,
                        queuedAt: pending.time.date,
                        build: build(pending)
                    )
                }
            )
        }
    }

    /// Reads the trust anchors and CRL files again (after a CRL refresh) and uses them for every
    /// later verification, TLS client certificates included. On failure the old trust stays in use.
    /// `log`: say so in the log (a full reload reports it with the rest instead).
    public func reloadTrust(log: Bool = true) throws {
        let configuration = self.configuration
        let skew = TimeInterval(configuration.clockSkew)
        let signing = try TrustStore.load(
            anchorsPath: configuration.signingTrust.anchors,
            crlPaths: configuration.signingTrust.crls,
            maximumClockSkew: skew
        )
        let transport = try TrustStore.load(
            anchorsPath: configuration.transportTrust.anchors,
            crlPaths: configuration.transportTrust.crls,
            maximumClockSkew: skew
        )
        signingTrust.replace(with: signing)
        transportTrust.replace(with: transport)
        guard log else { return }
        logger.notice(
            "trust reloaded: \(signing.anchors.count) signing anchors, \(signing.crls.count) CRLs; \(transport.anchors.count) transport anchors, \(transport.crls.count) CRLs"
        )
    }

    /// Health problems (empty when the node can accept messages).
    public func healthProblems() -> [String] {
        var problems: [String] = []
        let now = Date()
        for crl in signingTrust.current.crls where crl.nextUpdate < now {
            problems.append(
                "CRL of \(crl.issuer) expired at \(UTCTime(crl.nextUpdate)): messages cannot be accepted until the CRLs are refreshed"
            )
        }
        // (Without transportTrust keys, the transport trust is the signing trust: reported once, above.)
        if configuration.transportTrust != configuration.signingTrust {
            for crl in transportTrust.current.crls where crl.nextUpdate < now {
                problems.append(
                    "transport CRL of \(crl.issuer) expired at \(UTCTime(crl.nextUpdate)): peers' TLS connections are refused until the transport CRLs are refreshed"
                )
            }
        }
        if let leaf = identity.chain.first, leaf.notValidAfter < now {
            problems.append(
                "the signing certificate expired at \(UTCTime(leaf.notValidAfter)): recipients reject every message it signs; install a renewed one"
            )
        }
        if let leaf = tlsCertificate, leaf.notValidAfter < now {
            problems.append(
                "the TLS certificate expired at \(UTCTime(leaf.notValidAfter)): peers refuse every connection, both ways; install a renewed one"
            )
        }
        return problems
    }

    /// The peer listener (mutual TLS), the admin listener (Unix socket) and the delivery service.
    public func services() throws -> [any Service] {
        let configuration = self.configuration
        for problem in healthProblems() { logger.error("\(problem)") }
        let receiver = MessageReceiver(
            identity: identity,
            verifier: verifier,
            store: store,
            logger: logger,
            acceptForwardedFrom: Set(configuration.acceptForwardedFrom),
            metrics: metrics
        )
        let forwarder =
            configuration.hub
            ? try Forwarder(
                tlsClient: try DeliveryService.tlsClientConfiguration(configuration),
                transportTrust: transportTrust,
                logger: logger
            )
            : nil
        forwarderState.withLock { $0 = forwarder }
        let tls = try PeerServer.tlsConfiguration(
            keyPath: configuration.tlsKeyPath,
            chainPath: configuration.tlsChainPath,
            transportTrust: transportTrust,
            logger: logger
        )
        // Limits are read for each request and each new connection: a reload applies to them.
        let fixedLimits = configuration.limits
        let limits: @Sendable () -> NodeConfiguration.Limits = { [weak self] in self?.limits ?? fixedLimits }
        let peerRouter = PeerServer.router(
            receiver: receiver,
            configuration: configuration,
            forwarder: forwarder,
            limits: limits,
            contacted: { [weak self] peer in
                self?.lastSeen.withLock { $0[peer.rawValue] = Date() }
                self?.delivery.peerContacted(peer)
            },
            health: { [weak self] in self?.healthProblems() ?? ["stopping"] }
        )
        let peerApp = Application(
            router: peerRouter,
            server: try .tls(
                .http1(configuration: .init(additionalChannelHandlers: [RequestDeadlineHandler(limits: limits())])),
                configuration: tls
            ),
            configuration: .init(
                address: .hostname(configuration.listenHost, port: configuration.listenPort),
                serverName: "parleyd"
            ),
            onServerRunning: { [weak self] channel in
                let port = channel.localAddress?.port
                self?.ports.withLock { $0.peer = port }
                self?.logger.info(
                    "peer listener ready on \(self?.configuration.listenHost ?? ""):\(port ?? 0) (mutual TLS)"
                )
            },
            logger: logger
        )
        let socketPath = configuration.adminSocketPath
        // Bound under a temporary name, given its group and mode, then renamed into place: the
        // socket never appears at its path with other permissions.
        let bindPath = AdminSocket.temporaryPath(socketPath)
        try AdminSocket.prepare(path: socketPath)
        try AdminSocket.prepare(path: bindPath)
        let adminGroup = configuration.adminGroup
        let adminApp = Application(
            router: AdminAPI.router(node: self),
            configuration: .init(address: .unixDomainSocket(path: bindPath), serverName: "parleyd-admin"),
            onServerRunning: { [weak self] _ in
                let access = AdminSocket.restrict(path: bindPath, group: adminGroup)
                guard rename(bindPath, socketPath) == 0 else {
                    let code = errno
                    if code == ENOENT
                        && FileManager.default.fileExists(atPath: (bindPath as NSString).deletingLastPathComponent)
                    {
                        // The listener closed again at once: the daemon is stopping (e.g. another listener failed).
                        self?.logger.notice("admin API closed before it was ready: the daemon is stopping")
                    } else {
                        self?.logger.critical(
                            "admin API: cannot rename \(bindPath) to \(socketPath): \(String(cString: strerror(code))); the CLI cannot reach this daemon"
                        )
                    }
                    return
                }
                self?.ports.withLock { $0.admin = true }
                var status = stat()
                if lstat(socketPath, &status) == 0 {
                    self?.adminSocketIdentity.withLock { $0 = (UInt64(status.st_dev), UInt64(status.st_ino)) }
                }
                switch access {
                case .success(let description): self?.logger.info("admin API ready on \(socketPath) (\(description))")
                case .failure(let problem): self?.logger.error("admin API on \(socketPath): \(problem)")
                }
            },
            logger: logger
        )
        // A ServiceGroup stops services in reverse order: systemd hears STOPPING=1 first, the forwarder
        // stops after the peer listener.
        let reload = ReloadService(node: self)
        var metricsApp: [any Service] = []
        if let port = configuration.metricsPort {
            let router = Router()
            router.get("/metrics") { [weak self] _, _ -> Response in
                guard let self else { return Response(status: .serviceUnavailable) }
                let text = await self.metricsText()
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
                return Response(
                    status: .ok,
                    headers: headers,
                    body: .init(byteBuffer: ByteBuffer(bytes: Array(text.utf8)))
                )
            }
            metricsApp = [
                Application(
                    router: router,
                    configuration: .init(
                        address: .hostname(configuration.metricsHost, port: port),
                        serverName: "parleyd-metrics"
                    ),
                    onServerRunning: { [weak self] channel in
                        let bound = channel.localAddress?.port
                        self?.ports.withLock { $0.metrics = bound }
                    },
                    logger: logger
                )
            ]
        }
        let notify = SystemdNotifyService(logger: logger) { [weak self] in
            (self?.peerPort != nil) && (self?.adminListening ?? false)
        }
        return (forwarder.map { [$0] } ?? []) + metricsApp + [
            peerApp, adminApp, delivery, GapWatch(node: self, logger: logger), reload,
        ] + (notify.map { [$0] } ?? [])
    }
}

extension Optional {
    func orThrow() throws -> Wrapped {
        guard let self else { throw Problem.internalError("missing value") }
        return self
    }
}
