import Foundation
import Logging
import NIOPosix
import ParleyCodec
import ParleyCrypto
import ParleyProtocol
import ParleyStore

/// SPEC.md §9.1 for one request body: identification, duplicate check, verification, storage, and
/// the signed receipt (or, for input that cannot be identified, a problem).
public struct MessageReceiver: Sendable {
    /// What to answer.
    public enum Answer: Sendable {
        /// HTTP 200 with these receipt bytes.
        case receipt([UInt8], status: Receipt.Status, messageID: MessageID, sender: ParticipantID)
        case problem(Problem)
    }

    public let identity: SigningIdentity
    public let verifier: MessageVerifier
    public let store: ParleyStore
    public let logger: Logger
    /// Hubs that may deliver other participants' messages (SPEC.md §12.1).
    public let acceptForwardedFrom: Set<ParticipantID>
    let metrics: NodeMetrics?
    /// Accepts that arrive together (parallel deliveries) share one transaction and one fsync; each
    /// receipt is answered only after its transaction has committed.
    let accepts: GroupCommitter<PendingAccept, AcceptOutcome>

    /// A verified message to store, with the accepted receipt to sign inside the transaction.
    struct PendingAccept: Sendable {
        var message: IncomingMessage
        var receipt: Receipt
    }

    public init(
        identity: SigningIdentity,
        verifier: MessageVerifier,
        store: ParleyStore,
        logger: Logger,
        acceptForwardedFrom: Set<ParticipantID> = [],
        metrics: NodeMetrics? = nil
    ) {
        self.acceptForwardedFrom = acceptForwardedFrom
        self.metrics = metrics
        self.identity = identity
        self.verifier = verifier
        self.store = store
        self.logger = logger
        accepts = GroupCommitter(label: "accept") { requests in
            // In channel order within the batch, so that parallel arrivals do not open and close gaps.
            let order = requests.indices.sorted {
                (requests[$0].message.sender, requests[$0].message.sequenceNumber) < (
                    requests[$1].message.sender, requests[$1].message.sequenceNumber
                )
            }
            @Sendable func request(_ pending: PendingAccept) -> AcceptRequest {
                AcceptRequest(message: pending.message) { _ in Data(try identity.sign(pending.receipt)) }
            }
            let sorted = await GroupCommitter<PendingAccept, AcceptOutcome>.isolating(
                order.map { requests[$0] },
                batch: { try await store.acceptBatch($0.map(request)) },
                single: { pending in
                    try await store.accept(pending.message) { _ in Data(try identity.sign(pending.receipt)) }
                }
            )
            var results = [Result<AcceptOutcome, any Error>](
                repeating: .failure(Problem.internalError("not committed")),
                count: requests.count
            )
            for (position, index) in order.enumerated() { results[index] = sorted[position] }
            return results
        }
    }

    var participant: ParticipantID { identity.participantID }

    /// Processes `bytes` received at `time` over a connection authenticated as `peer` (nil: not
    /// checked). Never throws: every failure becomes a receipt or a problem.
    public func receive(_ bytes: [UInt8], at time: UTCTime, peer: ParticipantID?) async -> Answer {
        let answer = await process(bytes, at: time, peer: peer, identified: nil, stored: nil)
        metrics?.answered(answer)
        return answer
    }

    /// Processes the messages of one batch request (SPEC.md §12.8) concurrently, each exactly as by
    /// `receive`; the answers are in the order of `messages`. The duplicate check (step 5) reads the
    /// stored digests of the whole batch at once instead of once per message.
    public func receiveBatch(_ messages: [[UInt8]], at time: UTCTime, peer: ParticipantID?) async -> [Answer] {
        let identified = messages.map { bytes in bytes.count <= MessageVerifier.maximumSize ? Self.identify(bytes) : nil
        }
        let ids = identified.compactMap { result -> MessageID? in
            guard case .success(let message)? = result else { return nil }
            return message.id
        }
        // Unreadable store: each message checks on its own and answers "unavailable" if it still is.
        let stored = try? await store.receivedDigests(of: ids)
        return await withTaskGroup(of: (Int, Answer).self) { group in
            for (index, bytes) in messages.enumerated() {
                group.addTask {
                    let answer = await process(
                        bytes,
                        at: time,
                        peer: peer,
                        identified: identified[index],
                        stored: stored
                    )
                    metrics?.answered(answer)
                    return (index, answer)
                }
            }
            var answers = [Answer](repeating: .problem(.internalError("not processed")), count: messages.count)
            for await (index, answer) in group { answers[index] = answer }
            return answers
        }
    }

    /// `identified`: `identify(bytes)` if already done; `stored`: the digests of the received
    /// messages already stored among this message's batch, read just before (nil: read this
    /// message's own).
    private func process(
        _ bytes: [UInt8],
        at time: UTCTime,
        peer: ParticipantID?,
        identified: Result<MessageVerifier.Identified, Problem>?,
        stored: [MessageID: Data]?
    ) async -> Answer {
        // Steps 1–4: identification.
        guard bytes.count <= MessageVerifier.maximumSize else {
            return .problem(
                .tooLarge("request body of \(bytes.count) bytes exceeds \(MessageVerifier.maximumSize) bytes")
            )
        }
        let message: MessageVerifier.Identified
        switch identified ?? Self.identify(bytes) {
        case .success(let identified): message = identified
        case .failure(let problem): return .problem(problem)
        }
        let (id, sender) = (message.id, message.sender)
        var log = logger
        log[metadataKey: "message"] = "\(id)"
        log[metadataKey: "peer"] = "\(peer?.rawValue ?? sender.rawValue)"
        // SPEC.md §12.1: the TLS peer must be the sender or a hub this node accepts forwarded messages from.
        if let peer, peer != sender, !acceptForwardedFrom.contains(peer) {
            log.warning(
                "refused: the TLS peer \(peer) is not the message's sender \(sender), nor a hub this node accepts forwarded messages from (acceptForwardedFrom)"
            )
            return .problem(.forbiddenPeer("the TLS peer \(peer) may not deliver messages of \(sender)"))
        }
        // Forwarded by an accepted hub: `peer` is the participant whose channel the message is on (its
        // sender), `via` the hub, so that a search for one peer's messages finds the forwarded ones too.
        if let peer, peer != sender {
            log[metadataKey: "peer"] = "\(sender)"
            log[metadataKey: "via"] = "\(peer)"
        }
        let digest = Digest.sha256(bytes)
        do {
            // Step 5: a duplicate of an accepted message.
            let storedDigest = if let stored { stored[id] } else { try await store.receivedDigest(of: id) }
            if storedDigest == Data(digest),
                let record = try await store.message(id), record.message.direction == .received,
                Array(record.message.digest) == digest,
                let original = record.receipts.first(where: { $0.direction == .issued && $0.status == .accepted })
            {
                log.info("duplicate delivery answered with a duplicate receipt")
                return try duplicateAnswer(original.bytes, id: id, sender: sender)
            }
        } catch {
            log.error("store unavailable while checking for a duplicate: \(error)")
            return .problem(.unavailable("the store cannot be read: \(error)"))
        }
        // Steps 6–17.
        let verified: VerifiedMessage
        do {
            verified = try verifier.verifyMessage(message, bytes, at: time, recipient: participant)
        } catch let error as ProtocolError {
            if error.code == .revocationUnavailable {
                log.critical(
                    "cannot decide on a message: own revocation data is not current; refresh the CRLs (\(error.reason))"
                )
                return .problem(.revocationUnavailable("this node's CRLs are not current: \(error.reason)"))
            }
            guard let code = error.rejectionCode else {
                log.error("verification failed without a rejection code: \(error)")
                return .problem(.internalError("verification failed: \(error.reason)"))
            }
            log.warning("rejected: \(error)")  // the description begins with the code's name
            return await reject(id: id, sender: sender, digest: digest, at: time, code: code, reason: error.description)
        } catch {
            log.error("verification failed unexpectedly: \(error)")
            return .problem(.internalError("verification failed: \(error)"))
        }
        // Steps 18–20.
        let envelope = verified.envelope
        guard let sequence = envelope.recipients.first(where: { $0.participant == participant })?.sequence else {
            return await reject(
                id: id,
                sender: sender,
                digest: digest,
                at: time,
                code: .notARecipient,
                reason: "not addressed to \(participant)"
            )
        }
        let fields = MessageFields(
            id: id,
            bytes: Data(bytes),
            type: envelope.type.rawValue,
            created: envelope.created.date,
            references: envelope.references.map { MessageReference(target: $0.messageID, relation: $0.relation) },
            remarks: envelope.remarks
        )
        let incoming = IncomingMessage(
            fields: fields,
            sender: sender,
            recipient: participant,
            sequenceNumber: sequence,
            received: time.date
        )
        let receipt = Receipt(
            messageID: id,
            digest: digest,
            recipient: participant,
            sender: sender,
            received: time,
            status: .accepted
        )
        let outcome: AcceptOutcome
        do {
            outcome = try await accepts.submit(PendingAccept(message: incoming, receipt: receipt))
        } catch {
            log.error("could not store an accepted message; answered 503: \(error)")
            return .problem(.unavailable("the message could not be stored: \(error)"))
        }
        switch outcome {
        case .accepted(let receiptBytes, let channel):
            switch channel {
            case .inOrder: log.info("accepted", metadata: ["seq": "\(sequence)"])
            case .gapDetected(let missing):
                // Normal with several messages in flight; GapWatch warns if it stays open.
                log.info(
                    "accepted ahead of order: gap \(missing.lowerBound)…\(missing.upperBound) from \(sender) (a warning follows if it is still open after gapWarningSeconds)",
                    metadata: ["seq": "\(sequence)"]
                )
            case .gapFilled: log.info("accepted, filling a gap", metadata: ["seq": "\(sequence)"])
            }
            return .receipt(Array(receiptBytes), status: .accepted, messageID: id, sender: sender)
        case .duplicate(let stored):
            log.info("duplicate delivery (concurrent) answered with a duplicate receipt")
            do { return try duplicateAnswer(stored, id: id, sender: sender) } catch {
                return .problem(.internalError("cannot sign a duplicate receipt: \(error)"))
            }
        case .equivocation(let storedDigest, _):
            log.critical(
                "EQUIVOCATION: \(sender) sent two different messages with id \(id); both kept as evidence, tell the operators of \(sender)"
            )
            return await reject(
                id: id,
                sender: sender,
                digest: digest,
                at: time,
                code: .equivocation,
                evidence: bytes,
                reason: "message \(id) was accepted before with other bytes (SHA-256 \(Hex.encode(storedDigest)))"
            )
        case .replay(let number, let storedID):
            log.error(
                "replay: sequence number \(number) from \(sender) was used by message \(storedID.map(\.hex) ?? "?")"
            )
            return await reject(
                id: id,
                sender: sender,
                digest: digest,
                at: time,
                code: .replay,
                evidence: bytes,
                reason:
                    "sequence number \(number) for \(participant) was already used by message \(storedID.map(\.hex) ?? "(purged)")"
            )
        }
    }

    /// Signs a rejection receipt and keeps it in the store for auditors (an answer is given even if
    /// it cannot be stored; that is logged).
    private func reject(
        id: MessageID,
        sender: ParticipantID,
        digest: [UInt8],
        at time: UTCTime,
        code: RejectionCode,
        evidence: [UInt8]? = nil,
        reason: String
    ) async -> Answer {
        let shortReason = String(reason.prefix(Receipt.maximumReasonLength / 4))
        let status = Receipt.Status.rejected(code, reason: shortReason)
        do {
            let bytes = try identity.sign(
                Receipt(
                    messageID: id,
                    digest: digest,
                    recipient: participant,
                    sender: sender,
                    received: time,
                    status: status
                )
            )
            let rejection = IssuedRejection(
                bytes: Data(bytes),
                messageID: id,
                sender: sender,
                signer: participant,
                code: code.rawValue,
                reason: shortReason,
                messageDigest: Data(digest),
                evidence: evidence.map { Data($0) },
                issued: time.date
            )
            do {
                try await store.recordIssuedRejection(rejection)
            } catch {
                logger.error(
                    "cannot store the rejection receipt issued for \(id) from \(sender): \(error); it was still returned to the sender"
                )
            }
            return .receipt(bytes, status: status, messageID: id, sender: sender)
        } catch {
            logger.error("cannot sign a rejection receipt for \(id): \(error)")
            return .problem(.internalError("cannot sign a rejection receipt: \(error)"))
        }
    }

    /// A duplicate receipt repeats the original accepted receipt with status 1 (SPEC.md §7.4).
    private func duplicateAnswer(_ original: Data, id: MessageID, sender: ParticipantID) throws -> Answer {
        var receipt = try Receipt(decoding: try COSESign1(decoding: Array(original)).payload)
        receipt.status = .duplicate
        return .receipt(try identity.sign(receipt), status: .duplicate, messageID: id, sender: sender)
    }

    /// SPEC.md §9.1 steps 1–4 (`MessageVerifier.identify`): the id (key 2) and sender (key 3) of a
    /// COSE_Sign1 message, or the HTTP problem that names why it cannot be identified.
    static func identify(_ bytes: [UInt8]) -> Result<MessageVerifier.Identified, Problem> {
        guard bytes.count <= MessageVerifier.maximumSize else {
            return .failure(
                .tooLarge("request body of \(bytes.count) bytes exceeds \(MessageVerifier.maximumSize) bytes")
            )
        }
        do {
            return .success(try MessageVerifier.identify(bytes))
        } catch let error as ProtocolError {
            return .failure(error.code == .tooLarge ? .tooLarge(error.reason, status: 400) : .malformed(error.reason))
        } catch {
            return .failure(.malformed("not a Parley message: \(error)"))
        }
    }
}

/// Runs blocking work that is not SQLite (the store has its own queues), such as reading a file, off
/// the cooperative thread pool.
func blocking<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive(body)
}
