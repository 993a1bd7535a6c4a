import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ParleyCodec
import ParleyCrypto
import ParleyProtocol
import ParleyStore
import ServiceLifecycle
import Synchronization

/// Sends queued messages to the configured peers, one independent loop per peer (SPEC.md §12.4):
/// channel order, receipt verification, exponential backoff with jitter, expiry after the give-up age.
public final class DeliveryService: Service, Sendable {
    /// The configuration in use; `reconfigure(_:)` replaces it at run time.
    public var configuration: NodeConfiguration { current.withLock { $0 } }
    private let current: Mutex<NodeConfiguration>
    let store: ParleyStore
    let verifier: MessageVerifier
    /// Mutual TLS to the peers, checking each server's participant id (SPEC.md §12.1).
    let client: PeerClient
    let logger: Logger
    let metrics: NodeMetrics?
    private let doorbells: Mutex<[String: Doorbell]>
    /// Per peer: rung by an operator's retry, also ends the wait for a failed message's next attempt.
    private let retryBells: Mutex<[String: Doorbell]>
    /// Rung when the configured peers change; the peer loops running.
    private let peersChanged = Doorbell()
    /// Rung by a reload: the expiry loop recomputes its interval and cutoff at once.
    private let expiryChanged = Doorbell()
    /// Peers that could not be reached (no answer) since their last answer: since when, and when a
    /// contact from them last woke delivery.
    private let failing = Mutex<[String: (since: Date, woken: Date?)]>([:])
    private let runningLoops = Mutex<Set<String>>([])
    /// Backoff, window and batching of the configuration in use.
    var policy: DeliveryPolicy { DeliveryPolicy(configuration) }
    /// Peers that answered the batch endpoint with 404 or 405 (they predate it): single requests only.
    private let singleOnly = Mutex<Set<String>>([])
    /// Deliveries marked in flight and receipts stored at about the same time (by any peer loop)
    /// share one transaction and one fsync.
    let updates: GroupCommitter<DeliveryUpdate, DeliveryUpdateOutcome>

    public init(
        configuration: NodeConfiguration,
        store: ParleyStore,
        verifier: MessageVerifier,
        tlsClient: TLSConfiguration,
        transportTrust: TrustStoreReference,
        logger: Logger,
        metrics: NodeMetrics? = nil
    ) throws {
        self.metrics = metrics
        current = Mutex(configuration)
        updates = GroupCommitter(label: "delivery") { batch in
            await GroupCommitter<DeliveryUpdate, DeliveryUpdateOutcome>.isolating(
                batch,
                batch: { try await store.applyDeliveryUpdates($0) },
                single: { try await store.applyDeliveryUpdates([$0])[0] }
            )
        }
        self.store = store
        self.verifier = verifier
        self.logger = logger
        client = try PeerClient(tls: tlsClient, trust: transportTrust, logger: logger)
        doorbells = Mutex(Dictionary(uniqueKeysWithValues: configuration.peers.map { ($0.id.rawValue, Doorbell()) }))
        retryBells = Mutex(Dictionary(uniqueKeysWithValues: configuration.peers.map { ($0.id.rawValue, Doorbell()) }))
    }

    /// Uses `configuration` from now on: its retry policy from the next attempt, a peer's new URL
    /// from its next attempt, its delivery window, batch size and request timeout from the next
    /// requests; a new peer gets a delivery loop, a removed peer's loop stops after its
    /// current attempt (its queued messages stay in the outbox).
    public func reconfigure(_ configuration: NodeConfiguration) {
        current.withLock { $0 = configuration }
        doorbells.withLock { bells in
            for peer in configuration.peers where bells[peer.id.rawValue] == nil {
                bells[peer.id.rawValue] = Doorbell()
            }
        }
        retryBells.withLock { bells in
            for peer in configuration.peers where bells[peer.id.rawValue] == nil {
                bells[peer.id.rawValue] = Doorbell()
            }
        }
        peersChanged.ring()
        expiryChanged.ring()
        wake()
    }

    /// The mutual-TLS client configuration: this node's TLS certificate, the transport anchors as
    /// roots (`PeerClient` replaces the verification with SPEC.md §12.1's; other HTTP clients, such
    /// as the tests', use it as is).
    public static func tlsClientConfiguration(_ configuration: NodeConfiguration) throws -> TLSConfiguration {
        _ = try PrivateKey.load(path: configuration.tlsKeyPath)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.cipherSuites = PeerServer.tls12CipherSuites
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(configuration.tlsChainPath).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: configuration.tlsKeyPath, format: .pem))
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(configuration.transportTrust.anchors))
        tls.certificateVerification = .fullVerification
        return tls
    }

    /// Wakes every peer loop (or one) to look for due deliveries now.
    public func wake(_ peers: [String]? = nil) {
        for (peer, bell) in doorbells.withLock({ $0 }) where peers?.contains(peer) ?? true { bell.ring() }
    }

    /// After an operator's retry: as `wake`, and a loop waiting for a failed message's next attempt
    /// looks again at once (the retried deliveries are due now).
    public func retryNow(_ peers: [String]? = nil) {
        for (peer, bell) in retryBells.withLock({ $0 }) where peers?.contains(peer) ?? true { bell.ring() }
        wake(peers)
    }

    public func run() async throws {
        await requeueInterruptedDeliveries()
        let client = self.client
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.runExpiry() }
                // One loop per configured peer, also for peers added by `reconfigure`.
                while !stopping {
                    _ = peersChanged.take()
                    for peer in configuration.peers
                    where runningLoops.withLock({ $0.insert(peer.id.rawValue).inserted }) {
                        group.addTask {
                            await self.runPeer(peer.id, client: client)
                            self.runningLoops.withLock { _ = $0.remove(peer.id.rawValue) }
                        }
                    }
                    await idle(peersChanged)
                }
            }
        } onGracefulShutdown: {
            self.logger.info("delivery stopping: no new attempts; in-flight requests finish")
        }
        await client.shutdown()
    }

    private var stopping: Bool { Task.isCancelled || Task.isShuttingDownGracefully }

    /// Deliveries a previous run left in flight (killed mid-attempt, or stopped while a failure could
    /// not be recorded) are never due until requeued. While the store refuses the write (a full
    /// disk), retried every second: no delivery can be marked in flight meanwhile either.
    private func requeueInterruptedDeliveries() async {
        var reported = false
        while !stopping {
            do {
                // No pending delivery waits longer than the backoff cap, whatever the clock said when
                // its retry time was set.
                let latest = Date().addingTimeInterval(configuration.retry.maximumBackoff.seconds)
                _ = try await store.requeueInFlight(nextAttemptNotAfter: latest)
                if reported { logger.info("deliveries left in flight by the previous run requeued; delivery starts") }
                return
            } catch {
                if !reported {
                    logger.error(
                        "cannot requeue the deliveries left in flight by the previous run (retrying every second; delivery waits until the store can be written): \(error)"
                    )
                    reported = true
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func runExpiry() async {
        while !stopping {
            let expiry = configuration.retry.expiry
            let cutoff = Date().addingTimeInterval(-expiry.seconds)
            do {
                let expired = try await store.expireDeliveries(queuedBefore: cutoff)
                for delivery in expired {
                    logger.error(
                        "delivery EXPIRED: no receipt from \(delivery.recipient) within \(expiry.components.seconds) s (retry.giveUpAfterSeconds); last error: \(delivery.lastError ?? "none"); contact \(delivery.recipient)'s operators, then `parley retry` or `parley cancel` it",
                        metadata: ["message": "\(delivery.messageID)", "peer": "\(delivery.recipient)"]
                    )
                }
            } catch {
                logger.error("cannot expire old deliveries: \(error)")
            }
            await idle(expiryChanged, for: min(.seconds(60), max(.seconds(1), expiry / 10)))
        }
    }

    /// Keeps up to `window` messages in flight: due deliveries are taken in channel order, marked in
    /// flight together (one transaction) and sent at once; answers come back in any order. After a
    /// failed attempt no new request starts until its retry is due (or an operator's retry), so the
    /// failed message is sent again before any later one. The decisions are `DeliveryLoopState`'s;
    /// this function does the I/O and the waiting.
    private func runPeer(_ id: ParticipantID, client: PeerClient) async {
        guard let bell = doorbells.withLock({ $0[id.rawValue] }),
            let retryBell = retryBells.withLock({ $0[id.rawValue] })
        else { return }
        let loop = SharedLoopState()
        await withTaskGroup(of: Void.self) { group in
            while !stopping {
                guard let peer = configuration.peers.first(where: { $0.id == id }) else {
                    logger.notice(
                        "delivery to \(id) stopped: no longer a configured peer; its queued messages stay in the outbox",
                        metadata: ["peer": "\(id)"]
                    )
                    return
                }
                var log = logger
                log[metadataKey: "peer"] = "\(peer.id)"
                if let hub = peer.via { log[metadataKey: "via"] = "\(hub)" }
                // Rings from now on are kept for the wait below: none is lost while the store is read.
                _ = bell.take()
                let policy = self.policy
                let action = loop.state.withLock {
                    $0.next(at: Date(), policy: policy, retryRequested: retryBell.take())
                }
                guard case .take(let limit) = action else {
                    await wait(action, bell)
                    continue
                }
                let due: [DueDelivery]
                do {
                    due = try await store.dueDeliveries(to: peer.id, at: Date(), limit: limit)
                    if due.isEmpty {
                        let next = try await nextAttempt(to: peer)
                        await wait(loop.state.withLock { $0.nothingDue(nextAttempt: next, at: Date()) }, bell)
                        continue
                    }
                } catch {
                    log.error(
                        "cannot read the outbox (will try again in \(Int(DeliveryLoopState.storeRetryInterval)) s): \(error)"
                    )
                    await wait(loop.state.withLock { $0.storeFailed(at: Date()) }, bell)
                    continue
                }
                let marked: Set<MessageID>
                do {
                    let outcome = try await updates.submit(
                        .markInFlight(due.map(\.record.messageID), recipient: peer.id.rawValue, at: Date())
                    )
                    guard case .markedInFlight(let ids) = outcome else {
                        throw Problem.internalError("unexpected outcome \(outcome)")
                    }
                    marked = Set(ids)
                } catch {
                    log.error(
                        "cannot mark \(due.count) deliveries in flight (will try again in \(Int(DeliveryLoopState.storeRetryInterval)) s): \(error)"
                    )
                    await wait(loop.state.withLock { $0.storeFailed(at: Date()) }, nil)
                    continue
                }
                let sending = due.filter { marked.contains($0.record.messageID) }
                loop.state.withLock { $0.sending(sending.count) }
                let peerLog = log
                let singleOnly = self.singleOnly.withLock { $0.contains(peer.id.rawValue) }
                for request in policy.requests(sending, singleOnly: singleOnly, size: \.bytes.count) {
                    group.addTask {
                        let retryAt = await self.deliver(request, to: peer, client: client, log: peerLog)
                        loop.state.withLock { $0.finished(request.count, retryAt: retryAt) }
                        bell.ring()
                    }
                }
            }
            // Requests in flight finish (the group waits for them).
        }
    }

    /// When the first pending message of the channel to `peer` is next due (nil: nothing pending).
    /// The channel moves only once its first message is due (`ParleyStore.dueDeliveries`), so this
    /// asks for the messages that would be due at the end of time and reads the first one's time.
    private func nextAttempt(to peer: NodeConfiguration.Peer) async throws -> Date? {
        try await store.dueDeliveries(to: peer.id, at: .distantFuture, limit: 1).first?.record.nextAttempt
    }

    /// Does what a `.wait` action says: waits until its time, or until `bell` rings, or until the service stops.
    private func wait(_ action: DeliveryLoopState.Action, _ bell: Doorbell?) async {
        guard case .wait(let until) = action else { return }
        await idle(bell, for: until.map { .milliseconds(Int64(max(0, $0.timeIntervalSinceNow) * 1000) + 1) })
    }

    /// A request to `peer` got no answer.
    private func noteUnreachable(_ peer: ParticipantID) {
        failing.withLock { failing in
            if failing[peer.rawValue] == nil { failing[peer.rawValue] = (Date(), nil) }
        }
    }

    /// A request to `peer` got an answer (a receipt or an error: the peer is up): says so if it
    /// could not be reached before.
    private func noteAnswered(_ peer: ParticipantID, log: Logger) {
        if let since = failing.withLock({ $0.removeValue(forKey: peer.rawValue)?.since }) {
            log.notice(
                "\(peer) answers again, after \(Int(Date().timeIntervalSince(since))) s unreachable; its queued messages go now"
            )
        }
    }

    /// A peer reached this node (an authenticated request): if deliveries to it are waiting for a
    /// retry because it could not be reached, they are tried now instead of at the end of the backoff
    /// (up to `retry.maximumIntervalSeconds`). At most once per 5 s per peer; a peer that answered
    /// with an error (it was up) is not woken this way.
    public func peerContacted(_ peer: ParticipantID) {
        let wake = failing.withLock { failing -> Bool in
            guard var state = failing[peer.rawValue], state.woken.map({ Date().timeIntervalSince($0) >= 5 }) ?? true
            else { return false }
            state.woken = Date()
            failing[peer.rawValue] = state
            return true
        }
        guard wake, configuration.peers.contains(where: { $0.id == peer && $0.via == nil }) else { return }
        Task {
            do {
                let waiting = try await store.makeDue(recipient: peer)
                if waiting > 0 {
                    logger.notice(
                        "\(peer) reached this node: its \(waiting) waiting \(waiting == 1 ? "delivery is" : "deliveries are") tried now, not at the end of the backoff",
                        metadata: ["peer": "\(peer)"]
                    )
                }
            } catch {
                logger.error("cannot make the deliveries to \(peer) due: \(error)", metadata: ["peer": "\(peer)"])
            }
            retryNow([peer.rawValue])
        }
    }

    /// Waits `duration` (nil: no limit), or until `bell` rings, or until the service is told to stop.
    private func idle(_ bell: Doorbell?, for duration: Duration? = nil) async {
        guard !stopping else { return }
        await cancelWhenGracefulShutdown {
            if let bell {
                await bell.wait(timeout: duration)
            } else if let duration {
                try? await Task.sleep(for: duration)
            }
        }
    }

    /// One attempt of deliveries already marked in flight, in one request. Returns nil when every
    /// delivery is settled, or the time of the earliest next attempt.
    func deliver(
        _ deliveries: [DueDelivery],
        to peer: NodeConfiguration.Peer,
        client: PeerClient,
        log: Logger
    ) async -> Date? {
        var messages: [(DueDelivery, SentMessage)] = []
        for delivery in deliveries {
            if let sent = await sentMessage(delivery, to: peer, log: log) { messages.append((delivery, sent)) }
        }
        guard !messages.isEmpty else { return nil }
        let answers: [PeerClient.Answer]
        var failedAsAWhole = false
        let timeout = requestTimeout
        if messages.count == 1 {
            answers = [await client.send(messages[0].0.bytes, to: peer, timeout: timeout)]
        } else if case .answers(let batch, let failed) = await sendBatch(
            messages.map(\.0.bytes),
            to: peer,
            client: client,
            log: log
        ) {
            answers = batch
            failedAsAWhole = failed
        } else {
            // The peer has no batch endpoint: one request per message, concurrently (still in channel order).
            answers = await withTaskGroup(of: (Int, PeerClient.Answer).self) { group in
                for (index, (delivery, _)) in messages.enumerated() {
                    group.addTask { (index, await client.send(delivery.bytes, to: peer, timeout: timeout)) }
                }
                var answers = [PeerClient.Answer](repeating: .transport("not sent"), count: messages.count)
                for await (index, answer) in group { answers[index] = answer }
                return answers
            }
            failedAsAWhole = answers.allSatisfy { if case .transport = $0 { true } else { false } }
        }
        // Settled concurrently, so that their receipts share one transaction.
        return await withTaskGroup(of: Date?.self) { group in
            for (index, ((delivery, sent), answer)) in zip(messages, answers).enumerated() {
                let failure = failedAsAWhole && messages.count > 1 ? (index: index, count: messages.count) : nil
                group.addTask {
                    await self.settle(
                        delivery,
                        sent: sent,
                        answer: answer,
                        peer: peer,
                        log: log,
                        requestFailure: failure
                    )
                }
            }
            var earliest: Date?
            for await next in group {
                if let next { earliest = min(earliest ?? next, next) }
            }
            return earliest
        }
    }

    /// `POST /v1/messages/batch`; a peer that has no batch endpoint (404 or 405) is remembered, and
    /// sent one message per request from then on.
    private func sendBatch(
        _ messages: [Data],
        to peer: NodeConfiguration.Peer,
        client: PeerClient,
        log: Logger
    ) async -> PeerClient.BatchAnswers {
        let answers = await client.sendBatch(messages, to: peer, timeout: requestTimeout)
        if case .unsupported(let status) = answers {
            singleOnly.withLock { _ = $0.insert(peer.id.rawValue) }
            log.notice("\(peer.id) has no batch endpoint (HTTP \(status)); sending it one message per request")
        }
        return answers
    }

    /// The message a delivery sends, as the receipt must match it; nil (cancelled for this peer) if
    /// the stored bytes cannot be decoded.
    private func sentMessage(
        _ delivery: DueDelivery,
        to peer: NodeConfiguration.Peer,
        log: Logger
    ) async -> SentMessage? {
        let id = delivery.record.messageID
        let bytes = Array(delivery.bytes)
        do {
            let envelope = try Envelope(decoding: try COSESign1(decoding: bytes).payload)
            return SentMessage(
                id: id,
                digest: Digest.sha256(bytes),
                sender: envelope.sender,
                created: envelope.created,
                recipients: envelope.recipients.map(\.participant)
            )
        } catch {
            var log = log
            log[metadataKey: "message"] = "\(id)"
            log.critical("stored message cannot be decoded; cancelled for this peer: \(error)")
            _ = try? await store.cancel(id, recipient: peer.id)
            return nil
        }
    }

    private var requestTimeout: TimeAmount { TimeAmount(configuration.limits.timeouts.request) }

    /// Records what one attempt yielded for one delivery: the verified receipt, or the failure and
    /// when to try again. Returns nil when the delivery is settled, or the time of its next attempt.
    /// `requestFailure`: the request failed as a whole (no connection, or an HTTP error to the batch),
    /// the delivery's place in it and how many messages it held; the failure is logged once, with the first.
    func settle(
        _ delivery: DueDelivery,
        sent: SentMessage,
        answer: PeerClient.Answer,
        peer: NodeConfiguration.Peer,
        log: Logger,
        requestFailure: (index: Int, count: Int)? = nil
    ) async -> Date? {
        var log = log
        let id = delivery.record.messageID
        log[metadataKey: "message"] = "\(id)"
        let attempts = delivery.record.attempts + 1
        let policy = self.policy
        func fail(_ reason: String, retryAfter: Duration? = nil, level: Logger.Level = .warning) async -> Date? {
            var next = Date().addingTimeInterval(policy.retryDelay(attempts: attempts, retryAfter: retryAfter).seconds)
            if let requestFailure, requestFailure.index > 0 {
                log.debug("delivery attempt \(attempts) failed: \(reason) (logged with this request's first message)")
            } else {
                let others =
                    requestFailure.map {
                        " (and \($0.count - 1) more messages of this request, each to be tried again after it)"
                    } ?? ""
                log.log(
                    level: level,
                    "delivery attempt \(attempts) failed: \(reason); next attempt in \(Int(next.timeIntervalSinceNow.rounded())) s\(others)"
                )
            }
            // The delivery is marked in flight, and in-flight deliveries are not due: until the failure
            // is recorded it would never be retried (before a restart). Keep trying; the channel cannot
            // move past this message anyway. On shutdown, the next start requeues it.
            var reported = false
            while true {
                do {
                    try await store.recordAttemptFailure(id, recipient: peer.id, error: reason, nextAttempt: next)
                    if reported { log.info("failed attempt recorded; the delivery is pending again") }
                    break
                } catch  where error.code == .invalidState || error.code == .notFound {
                    // Settled while the request was out (expired, cancelled by an operator, delivered
                    // by a second attempt): nothing to retry, and nothing may hold this request's slot.
                    log.info("the failed attempt is not recorded: the delivery was settled meanwhile (\(error.reason))")
                    return nil
                } catch {
                    if !reported {
                        log.error(
                            "cannot record a failed attempt (retrying every second; the delivery waits in flight until the store can be written): \(error)"
                        )
                        reported = true
                    }
                    if stopping { break }
                    try? await Task.sleep(for: .seconds(1))
                    next = max(next, Date())
                }
            }
            return next
        }

        let receiptBytes: [UInt8]
        if case .transport = answer { noteUnreachable(peer.id) } else { noteAnswered(peer.id, log: log) }
        switch answer {
        case .transport(let error):
            return await fail("transport: \(error)")
        case .invalid(let reason):
            return await fail(reason, level: .error)
        case .problem(let status, let detail, let retryAfter):
            switch status {
            case 429, 500, 502, 503, 504:
                return await fail("HTTP \(status): \(detail)", retryAfter: retryAfter)
            default:
                return await fail(
                    "HTTP \(status), not retryable without operator action: \(detail)",
                    retryAfter: policy.maximumInterval,
                    level: .error
                )
            }
        case .receipt(let bytes):
            receiptBytes = bytes
        }
        let verified: VerifiedReceipt
        do {
            verified = try verifier.verifyReceipt(receiptBytes, at: .now, for: sent, from: peer.id)
        } catch {
            return await fail("HTTP 200 without a valid receipt for this message: \(error)", level: .error)
        }
        let status: ReceiptStatus
        switch verified.receipt.status {
        case .accepted: status = .accepted
        case .duplicate: status = .duplicate
        case .rejected(let code, let reason): status = .rejected(code: code.rawValue, reason: reason)
        }
        do {
            let received = ReceivedReceipt(
                bytes: Data(receiptBytes),
                messageID: id,
                recipient: peer.id,
                status: status,
                received: verified.receipt.received.date
            )
            _ = try await updates.submit(.receipt(received))
        } catch {
            return await fail("cannot store the receipt: \(error)", level: .error)
        }
        let latency = Date().timeIntervalSince(delivery.record.queued)
        switch verified.receipt.status {
        case .accepted: metrics?.receiptRecorded(status: "accepted", latency: latency)
        case .duplicate: metrics?.receiptRecorded(status: "duplicate", latency: latency)
        case .rejected: metrics?.receiptRecorded(status: "rejected", latency: latency)
        }
        switch verified.receipt.status {
        case .accepted: log.info("delivered: accepted receipt stored")
        case .duplicate: log.info("delivered: duplicate receipt stored (the peer had the message already)")
        case .rejected(let code, let reason): log.error("REJECTED by \(peer.id): \(code.name): \(reason)")
        }
        return nil
    }
}

/// One peer loop's state, shared with its requests in flight.
private final class SharedLoopState: Sendable {
    let state = Mutex(DeliveryLoopState())
}
