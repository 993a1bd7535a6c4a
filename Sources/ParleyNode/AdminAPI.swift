import Foundation
import Hummingbird
import Logging
import NIOCore
import ParleyCodec
import ParleyCrypto
import ParleyProtocol
import ParleyStore

/// The local admin API (JSON over HTTP on a Unix domain socket), used by the CLI. Every request and
/// answer is described in Sources/ParleyNode/README.md ("Admin API"). Errors are
/// `application/problem+json`: 400 a bad parameter, 404 no such message, 409 the delivery's state
/// does not allow the operation, 503 the store cannot be read.
public enum AdminAPI {
    /// At most this many items per list answer, and the number without `limit`.
    public static let maximumLimit = 10_000
    public static let defaultLimit = 100
    /// At most this many drafts in one `POST /v1/drafts` array, and bytes in its body.
    public static let maximumDrafts = 1_000
    public static let maximumDraftsBytes = 4 * 1_048_576

    /// The problem for a draft that was not queued.
    static func draftProblem(_ error: any Error) -> Problem {
        switch error {
        case let problem as Problem: return problem
        case let error as HTTPError where error.status == .contentTooLarge:
            return Problem(status: 413, name: "too-large", title: "Request too large",
                           detail: "a draft request has at most \(maximumDraftsBytes) bytes")
        case let error as ProtocolError:
            return Problem(status: 400, name: "invalid-draft", title: "Invalid notification draft", detail: "\(error)")
        case let error as StoreError:
            return Problem(status: error.code == .invalidArgument ? 400 : 503, name: "invalid-draft",
                           title: "Cannot queue the draft", detail: "\(error)")
        default:
            return .internalError("\(error)")
        }
    }

    public static func router(node: Node) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.post("/v1/drafts") { request, _ -> Response in
            do {
                let data = try await request.body.collect(upTo: maximumDraftsBytes)
                let document = try JSONValue(parsing: Array(buffer: data))
                guard case .array(let drafts) = document else {
                    let queued = try await node.submit(try Composition(document: document))
                    return json(queuedJSON(queued), status: .created)
                }
                // Several drafts: each queued or refused on its own, numbered in array order, in as
                // few transactions as the submission committer allows.
                guard (1...maximumDrafts).contains(drafts.count) else {
                    throw Problem(status: 400, name: "invalid-draft", title: "Invalid notification draft",
                                  detail: "an array of drafts holds 1 to \(maximumDrafts) drafts, not \(drafts.count)")
                }
                let parsed = drafts.map { draft in Result { try Composition(document: draft) } }
                var submitted = await node.submit(parsed.compactMap { try? $0.get() })[...]
                let outcomes = parsed.map { parsing -> (result: JSONValue, queued: Bool) in
                    let outcome = parsing.flatMap { _ in submitted.popFirst()! }
                    switch outcome {
                    case .success(let queued): return (queuedJSON(queued), true)
                    case .failure(let error): return (.object([("problem", draftProblem(error).jsonValue)]), false)
                    }
                }
                let queued = outcomes.filter(\.queued).count
                return json(.object([("queued", .number(String(queued))), ("refused", .number(String(drafts.count - queued))),
                                     ("results", .array(outcomes.map(\.result)))]),
                            status: queued == drafts.count ? .created : .ok)
            } catch {
                return PeerServer.problemResponse(draftProblem(error))
            }
        }
        router.post("/v1/reload-trust") { _, _ -> Response in
            do {
                try node.reloadTrust()
                return json(["status": "reloaded", "health": node.healthProblems()])
            } catch {
                return PeerServer.problemResponse(Problem(status: 500, name: "reload-failed", title: "Trust not reloaded",
                                                          detail: "the previous anchors and CRLs stay in use: \(error)"))
            }
        }
        router.post("/v1/reload") { _, _ -> Response in
            json(reloadJSON(await node.reload()))
        }
        router.get("/v1/status") { _, _ -> Response in
            await answer { try await blocking { JSONObject(try statusJSON(node)) }.value }
        }
        router.get("/v1/peers") { _, _ -> Response in
            await answer { try await blocking { JSONObject(["peers": try peersJSON(node)]) }.value }
        }
        router.get("/v1/outbox") { request, _ -> Response in
            await answer {
                let parameters = Parameters(request)
                let state = try parameters.value("state") { DeliveryState(rawValue: $0) }
                let orders = ["newest": true, "oldest": false]
                var query = OutboxQuery(state: state, recipient: parameters["recipient"], limit: try parameters.limit(),
                                        newestFirst: try parameters.value("order") { orders[$0] } ?? true)
                query.position = try parameters.value("after") { DeliveryCursor(token: $0) }
                let (records, count) = try await blocking { [query] in (try node.store.outbox(query), try node.store.outboxCount(query)) }
                return page(["deliveries": records.map(deliveryJSON)], shown: records.count, matching: count, last: records.last?.cursor.token)
            }
        }
        router.get("/v1/inbox") { request, _ -> Response in
            await answer {
                let parameters = Parameters(request)
                var query = InboxQuery(sender: parameters["sender"], limit: try parameters.limit())
                query.type = try parameters.value("type") { NotificationType(name: $0)?.rawValue ?? UInt64($0) }
                query.createdFrom = try parameters.time("since")
                query.createdBefore = try parameters.time("until")
                query.remarksContaining = parameters["text"]
                query.after = try parameters.value("after") { PageCursor(token: $0) }
                let (messages, count) = try await blocking { [query] in (try node.store.inbox(query), try node.store.inboxCount(query)) }
                return page(["messages": messages.map(messageJSON)], shown: messages.count, matching: count, last: messages.last?.cursor.token)
            }
        }
        router.get("/v1/messages/:id") { _, context -> Response in
            await answer {
                let id = try messageID(context)
                let (record, chain, rejections) = try await blocking {
                    (try node.store.message(id), try node.store.referenceChain(of: id, limit: 1_000), try node.store.issuedRejections(for: id))
                }
                guard let record else {
                    guard rejections.isEmpty else {
                        return ["id": id.hex, "stored": false, "rejections": rejections.map(rejectionJSON),
                                "note": "this node rejected the message and did not store it; the rejection receipts it issued are listed"]
                    }
                    throw Problem(status: 404, name: "not-found", title: "No such message", detail: "no message \(id.hex) in the outbox or inbox of \(node.participant)")
                }
                var object = messageJSON(record.message)
                object["deliveries"] = record.deliveries.map(deliveryJSON)
                object["receipts"] = record.receipts.map { receiptJSON($0, peer: nil) }
                if !rejections.isEmpty { object["rejections"] = rejections.map(rejectionJSON) }
                object["references"] = record.message.fields.references.map { ["id": $0.target.hex, "relation": $0.relation.description] }
                object["chain"] = chain.map { item -> [String: Any] in
                    var entry = messageJSON(item.message)
                    entry["references"] = item.message.fields.references.map { ["id": $0.target.hex, "relation": $0.relation.description] }
                    entry["receipts"] = item.receipts.count
                    return entry
                }
                if let envelope = try? Envelope(decoding: COSESign1Payload.payload(Array(record.message.fields.bytes))) {
                    object["fields"] = Dictionary(Rendering.lines(of: envelope).map { ($0.label, $0.value) }, uniquingKeysWith: { a, b in a + "; " + b })
                }
                return object
            }
        }
        router.get("/v1/receipts") { request, _ -> Response in
            await answer {
                let parameters = Parameters(request)
                var query = ReceiptQuery(peer: parameters["peer"], limit: try parameters.limit())
                let directions: [String: StoredReceipt.Direction] = ["issued": .issued, "received": .received]
                query.direction = try parameters.value("direction") { directions[$0] }
                query.status = try parameters.value("status") { ReceiptStatusCode(name: $0)?.rawValue }
                query.messageID = try parameters.value("message") { try? MessageID(hex: $0) }
                query.storedFrom = try parameters.time("since")
                query.storedBefore = try parameters.time("until")
                query.after = try parameters.value("after") { ReceiptCursor(token: $0) }
                let (listings, count) = try await blocking { [query] in (try node.store.receipts(query), try node.store.receiptsCount(query)) }
                return page(["receipts": listings.map { receiptJSON($0.receipt, peer: $0.peer, messageStored: $0.messageStored) }],
                            shown: listings.count, matching: count, last: listings.last?.cursor.token)
            }
        }
        router.post("/v1/messages/:id/retry") { request, context -> Response in
            await answer {
                let id = try messageID(context)
                let (recipient, note) = try await operatorRequest(request)
                let count = try await blocking { try node.store.retry(id, recipient: recipient, note: note) }
                guard count > 0 else {
                    throw Problem(status: 409, name: "invalid-state", title: "Nothing to retry",
                                  detail: "every delivery of \(id.hex) is delivered; nothing was changed")
                }
                let deliveries = try await blocking { try node.store.message(id)?.deliveries ?? [] }
                node.delivery.retryNow(recipient.map { [$0] })
                node.logger.notice("operator retry: \(count) \(count == 1 ? "delivery" : "deliveries") due now (to \(recipient ?? "every unsettled recipient"))\(note.map { "; note: \($0)" } ?? "")",
                                   metadata: ["message": "\(id)"])
                return ["retried": count, "deliveries": deliveries.map(deliveryJSON)]
            }
        }
        router.post("/v1/messages/:id/cancel") { request, context -> Response in
            await answer {
                let id = try messageID(context)
                let (recipient, note) = try await operatorRequest(request)
                let count = try await blocking { try node.store.cancel(id, recipient: recipient, note: note) }
                let deliveries = try await blocking { try node.store.message(id)?.deliveries ?? [] }
                guard count > 0 else {
                    let states = deliveries.map { "\($0.recipient) \($0.state.rawValue)" }.joined(separator: ", ")
                    throw Problem(status: 409, name: "invalid-state", title: "Nothing to cancel",
                                  detail: "no delivery of \(id.hex) is pending, in flight or expired (\(states)); settled deliveries are never cancelled")
                }
                node.logger.notice("operator cancel: \(count) \(count == 1 ? "delivery" : "deliveries") cancelled (to \(recipient ?? "every unsettled recipient"))\(note.map { "; note: \($0)" } ?? "")",
                                   metadata: ["message": "\(id)"])
                return ["cancelled": count, "deliveries": deliveries.map(deliveryJSON)]
            }
        }
        router.post("/v1/archive/export") { request, _ -> Response in
            await answer {
                let body = try await jsonBody(request)
                let (from, to) = try archiveRange(since: body["since"] as? String, until: body["until"] as? String)
                guard let path = body["path"] as? String, path.hasPrefix("/") else {
                    throw Problem(status: 400, name: "invalid-request", title: "Invalid request", detail: "\"path\" must be an absolute file path the daemon may write")
                }
                let summary = try await blocking { try node.store.exportArchive(to: path, exporter: node.participant.rawValue, from: from, to: to) }
                node.logger.notice("archive exported to \(path): \(summary.messages) messages, \(summary.receipts) receipts")
                var object = archiveJSON(summary)
                object["path"] = path
                return object
            }
        }
        router.get("/v1/archive") { request, _ -> Response in
            do {
                let parameters = Parameters(request)
                let (from, to) = try archiveRange(since: parameters["since"], until: parameters["until"])
                let exports = (node.configuration.dataDirectory as NSString).appendingPathComponent("exports")
                try FileManager.default.createDirectory(atPath: exports, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                let path = (exports as NSString).appendingPathComponent("stream-\(UUID().uuidString).parley")
                let summary = try await blocking { try node.store.exportArchive(to: path, exporter: node.participant.rawValue, from: from, to: to) }
                guard let handle = FileHandle(forReadingAtPath: path) else {
                    unlink(path)
                    throw Problem.internalError("cannot read the exported archive \(path)")
                }
                unlink(path)  // the open handle keeps the data until the stream ends
                var headers = HTTPFields()
                headers[.contentType] = "application/octet-stream"
                headers[HTTPFields.Element.Name("Parley-Archive-Messages")!] = "\(summary.messages)"
                headers[HTTPFields.Element.Name("Parley-Archive-Receipts")!] = "\(summary.receipts)"
                headers[HTTPFields.Element.Name("Parley-Archive-SHA256")!] = summary.digest.map { String(format: "%02x", $0) }.joined()
                let size = summary.size
                return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: size) { writer in
                    defer { try? handle.close() }
                    var sent = 0
                    while sent < size {
                        let chunk = try await blocking { try handle.read(upToCount: 1 << 20) ?? Data() }
                        guard !chunk.isEmpty else { break }
                        try await writer.write(ByteBuffer(bytes: chunk))
                        sent += chunk.count
                    }
                    try await writer.finish(nil)
                })
            } catch {
                return problem(for: error)
            }
        }
        return router
    }

    // MARK: - Requests

    /// Query parameters with checks that answer 400 naming the parameter.
    struct Parameters {
        let values: [String: String]

        init(_ request: Request) {
            var values: [String: String] = [:]
            for (key, value) in request.uri.queryParameters { values[String(key)] = String(value) }
            self.values = values
        }

        subscript(_ name: String) -> String? { values[name].flatMap { $0.isEmpty ? nil : $0 } }

        func value<T>(_ name: String, _ parse: (String) throws -> T?) throws -> T? {
            guard let text = self[name] else { return nil }
            guard let value = try parse(text) else {
                throw Problem(status: 400, name: "invalid-request", title: "Invalid parameter", detail: "\(name)=\(text) is not valid")
            }
            return value
        }

        func time(_ name: String) throws -> Date? {
            try value(name) { (try? UTCTime(rfc3339: $0))?.date }
        }

        func limit() throws -> Int {
            try value("limit") { Int($0).flatMap { (1...AdminAPI.maximumLimit).contains($0) ? $0 : nil } } ?? AdminAPI.defaultLimit
        }
    }

    static func messageID(_ context: BasicRequestContext) throws -> MessageID {
        guard let hex = context.parameters.get("id"), let id = try? MessageID(hex: hex) else {
            throw Problem.malformed("the message id must be 32 hex digits")
        }
        return id
    }

    static func jsonBody(_ request: Request) async throws -> [String: Any] {
        let data = try await request.body.collect(upTo: 65_536)
        guard data.readableBytes > 0 else { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: data)) as? [String: Any] else {
            throw Problem(status: 400, name: "invalid-request", title: "Invalid request", detail: "the body must be a JSON object")
        }
        return object
    }

    /// `{"recipient": "RU-NRRC", "note": "why"}`, both optional.
    static func operatorRequest(_ request: Request) async throws -> (recipient: String?, note: String?) {
        let body = try await jsonBody(request)
        let recipient = body["recipient"] as? String
        if let recipient, (try? ParticipantID(recipient)) == nil {
            throw Problem(status: 400, name: "invalid-request", title: "Invalid request", detail: "recipient \(recipient) is not a participant id")
        }
        let note = (body["note"] as? String).map { String($0.prefix(500)) }
        return (recipient, note)
    }

    static func archiveRange(since: String?, until: String?) throws -> (Date, Date) {
        guard let since, let until, let from = try? UTCTime(rfc3339: since), let to = try? UTCTime(rfc3339: until), from <= to else {
            throw Problem(status: 400, name: "invalid-request", title: "Invalid archive range",
                          detail: "since and until must be RFC 3339 UTC times (e.g. 2026-11-01T00:00:00Z) with since ≤ until")
        }
        return (from.date, to.date)
    }

    /// A list answer with its paging: `more`, how many further items match (0 on the last page), and
    /// `next`, the `after` value that continues the list when there are more.
    static func page(_ object: [String: Any], shown: Int, matching: Int, last: String?) -> [String: Any] {
        var object = object
        object["more"] = max(0, matching - shown)
        if matching > shown, let last { object["next"] = last }
        return object
    }

    /// Runs `body` and answers its object as JSON, or the problem its error maps to.
    static func answer(_ body: () async throws -> [String: Any]) async -> Response {
        do {
            return json(try await body())
        } catch {
            return problem(for: error)
        }
    }

    static func problem(for error: any Error) -> Response {
        switch error {
        case let problem as Problem:
            return PeerServer.problemResponse(problem)
        case let error as StoreError:
            switch error.code {
            case .notFound: return PeerServer.problemResponse(Problem(status: 404, name: "not-found", title: "Not found", detail: error.reason))
            case .invalidState: return PeerServer.problemResponse(Problem(status: 409, name: "invalid-state", title: "Not possible in this state", detail: error.reason))
            case .invalidArgument, .cannotOpen:
                return PeerServer.problemResponse(Problem(status: 400, name: "invalid-request", title: "Invalid request", detail: error.reason))
            default: return PeerServer.problemResponse(.unavailable(error.reason))
            }
        default:
            return PeerServer.problemResponse(.internalError("\(error)"))
        }
    }

    // MARK: - Answers

    static func reloadJSON(_ report: ReloadReport) -> [String: Any] {
        var configuration: [String: Any] = ["applied": report.applied, "restartRequired": report.restartRequired,
                                            "problems": report.configurationProblems.map { ["key": $0.key, "problem": $0.problem] }]
        configuration["file"] = report.configurationFile
        configuration["status"] = report.configurationFile == nil ? "not-from-file" : report.configurationProblems.isEmpty ? "reloaded" : "invalid"
        var trust: [String: Any] = ["status": report.trustError == nil ? "reloaded" : "failed"]
        if let error = report.trustError { trust["error"] = error } else { trust["summary"] = report.trustSummary }
        return ["status": report.succeeded ? "reloaded" : "failed", "configuration": configuration, "trust": trust,
                "health": report.health, "lines": report.lines]
    }

    static func statusJSON(_ node: Node) throws -> [String: Any] {
        let now = Date()
        let configuration = node.configuration
        let tls = node.tlsCertificate
        let certificates = [("signing", node.identity.chain.first), ("tls", tls)].compactMap { what, certificate -> [String: Any]? in
            guard let certificate else { return nil }
            let days = Int((certificate.notValidAfter.timeIntervalSince(now) / 86_400).rounded(.down))
            return ["certificate": what, "subject": certificate.subject, "notAfter": iso(certificate.notValidAfter), "daysLeft": days,
                    "warning": days < configuration.certificateExpiryWarningDays]
        }
        func trustJSON(_ trust: TrustStore) -> [String: Any] {
            ["anchors": trust.anchors.map(\.subject),
             "crls": trust.crls.map { ["issuer": $0.issuer, "nextUpdate": iso($0.nextUpdate), "expired": $0.nextUpdate < now] as [String: Any] }]
        }
        let counts = try node.store.messageCounts()
        let oldest = try node.store.oldestUndelivered()
        var store: [String: Any] = ["sent": counts.sent, "received": counts.received,
                                    "queued": try node.store.queueDepths().values.reduce(0, +),
                                    "alerts": try node.store.alertCount()]
        if let oldest { store["oldestUndelivered"] = iso(oldest); store["oldestUndeliveredAgeSeconds"] = Int(now.timeIntervalSince(oldest)) }
        let problems = node.healthProblems()
        let peers = try peersJSON(node)
        // What needs an operator soon, though the node still works.
        var warnings: [String] = []
        for certificate in certificates where (certificate["warning"] as? Bool) == true && (certificate["daysLeft"] as? Int ?? 0) >= 0 {
            warnings.append("the \(certificate["certificate"] ?? "") certificate expires in \(certificate["daysLeft"] ?? "?") days (\(certificate["notAfter"] ?? "")): renew it")
        }
        let expired = peers.reduce(0) { $0 + ($1["expired"] as? Int ?? 0) }
        if expired > 0 {
            warnings.append("\(expired) \(expired == 1 ? "delivery" : "deliveries") expired without a receipt: contact the recipients (parley outbox --state expired)")
        }
        if let last = node.lastReload.withLock({ $0 }) {
            if !last.report.succeeded {
                warnings.append("the last reload (\(iso(last.at))) failed: the configuration file on disk would not start the daemon; run parleyd --check-config")
            } else if !last.report.restartRequired.isEmpty {
                warnings.append("changed keys wait for a restart (systemctl restart parleyd): \(last.report.restartRequired.joined(separator: ", "))")
            }
        }
        var object: [String: Any] = [
            "participant": node.participant.rawValue, "version": ParleyVersion.current,
            "started": iso(node.started), "uptimeSeconds": Int(now.timeIntervalSince(node.started)),
            "status": !problems.isEmpty ? "degraded" : !warnings.isEmpty ? "warning" : "ok", "problems": problems, "warnings": warnings,
            "certificates": certificates,
            "trust": ["signing": trustJSON(node.signingTrust.current), "transport": trustJSON(node.transportTrust.current)],
            "store": store, "peers": peers,
            "hub": configuration.hub,
        ]
        object["configurationFile"] = node.configurationFile
        if let last = node.lastReload.withLock({ $0 }) {
            object["lastReload"] = ["at": iso(last.at), "succeeded": last.report.succeeded, "lines": last.report.lines] as [String: Any]
        }
        return object
    }

    static func peersJSON(_ node: Node) throws -> [[String: Any]] {
        let configured = node.configuration.peers
        let openGaps = try node.store.gaps(recipient: node.participant.rawValue)
        let seen = node.lastSeen.withLock { $0 }
        let forwarded = node.forwarderState.withLock { $0 }?.lastAttempts.withLock { $0 } ?? [:]
        return try node.store.peerStates(configured.map(\.id.rawValue)).map { state in
            var object: [String: Any] = ["id": state.peer, "queueDepth": state.queueDepth, "expired": state.expired, "rejected": state.rejected,
                                         "gaps": state.gaps.map { [$0.lowerBound, $0.upperBound] },
                                         "openGaps": openGaps.filter { $0.sender == state.peer }.map { gap in
                                             ["first": gap.missing.lowerBound, "last": gap.missing.upperBound, "since": iso(gap.detected)] as [String: Any]
                                         }]
            if let peer = configured.first(where: { $0.id.rawValue == state.peer }) {
                object["configured"] = true
                object["url"] = peer.url.absoluteString
                if let via = peer.via { object["via"] = via.rawValue }
            } else {
                object["configured"] = false
            }
            if let date = state.oldestUndelivered { object["oldestUndelivered"] = iso(date) }
            if let date = state.nextAttempt { object["nextAttempt"] = iso(date) }
            if state.inFlight > 0 { object["inFlight"] = state.inFlight }
            // A hub stores nothing it forwards: its peers' requests and its forwarding count as contact.
            let forwardedOK = forwarded[state.peer].flatMap { $0.error == nil ? $0.at : nil }
            if let date = [state.lastContact, seen[state.peer], forwardedOK].compactMap({ $0 }).max() { object["lastContact"] = iso(date) }
            if let attempt = forwarded[state.peer], let error = attempt.error {
                object["forwardError"] = error
                object["forwardErrorAt"] = iso(attempt.at)
            }
            if let date = state.lastReceipt { object["lastReceipt"] = iso(date) }
            if let date = state.lastMessage { object["lastMessage"] = iso(date) }
            if let error = state.lastError { object["lastError"] = error }
            if let date = state.lastErrorAt { object["lastErrorAt"] = iso(date) }
            return object
        }
    }

    static func archiveJSON(_ summary: ArchiveSummary) -> [String: Any] {
        ["messages": summary.messages, "receipts": summary.receipts, "channels": summary.channels, "size": summary.size,
         "sha256": summary.digest.map { String(format: "%02x", $0) }.joined(),
         "from": iso(summary.header.from), "to": iso(summary.header.to), "exporter": summary.header.exporter]
    }

    static func iso(_ date: Date) -> String { UTCTime(date).description }

    static func statusName(_ status: ReceiptStatus) -> String {
        switch status {
        case .accepted: "accepted"
        case .duplicate: "duplicate"
        case .rejected(let code, _): "rejected:" + (RejectionCode(rawValue: code)?.name ?? "\(code)")
        }
    }

    static func receiptJSON(_ receipt: StoredReceipt, peer: String?, messageStored: Bool = true) -> [String: Any] {
        var object: [String: Any] = ["direction": receipt.direction == .issued ? "issued" : "received", "signer": receipt.signer,
                                     "message": receipt.messageID.hex, "status": statusName(receipt.status), "stored": iso(receipt.stored),
                                     "sha256": receipt.digest.map { String(format: "%02x", $0) }.joined(),
                                     "base64": receipt.bytes.base64EncodedString()]
        if case .rejected(_, let reason) = receipt.status { object["reason"] = reason }
        if let peer { object["peer"] = peer }
        if !messageStored { object["messageStored"] = false }
        return object
    }

    static func rejectionJSON(_ rejection: IssuedRejection) -> [String: Any] {
        var object: [String: Any] = ["direction": "issued", "signer": rejection.signer, "peer": rejection.sender, "message": rejection.messageID.hex,
         "status": "rejected:" + (RejectionCode(rawValue: rejection.code)?.name ?? "\(rejection.code)"), "reason": rejection.reason,
         "stored": iso(rejection.issued), "messageSha256": rejection.messageDigest.map { String(format: "%02x", $0) }.joined(),
         "base64": rejection.bytes.base64EncodedString()]
        if let evidence = rejection.evidence { object["evidenceBase64"] = evidence.base64EncodedString() }
        return object
    }

    static func deliveryJSON(_ d: DeliveryRecord) -> [String: Any] {
        var object: [String: Any] = ["id": d.messageID.hex, "type": NotificationType(rawValue: d.type)?.name ?? "\(d.type)",
                                     "recipient": d.recipient, "seq": d.sequenceNumber, "state": d.state.rawValue,
                                     "attempts": d.attempts, "nextAttempt": iso(d.nextAttempt), "queued": iso(d.queued),
                                     "updated": iso(d.updated)]
        if let error = d.lastError { object["lastError"] = error }
        if let code = d.rejectionCode { object["rejection"] = RejectionCode(rawValue: code)?.name ?? "\(code)" }
        if let reason = d.rejectionReason { object["rejectionReason"] = reason }
        return object
    }

    static func messageJSON(_ m: StoredMessage) -> [String: Any] {
        var object: [String: Any] = ["id": m.fields.id.hex, "direction": m.direction == .received ? "received" : "sent",
                                     "sender": m.sender, "type": NotificationType(rawValue: m.fields.type)?.name ?? "\(m.fields.type)",
                                     "created": iso(m.fields.created), "stored": iso(m.stored),
                                     "sha256": m.digest.map { String(format: "%02x", $0) }.joined()]
        if let seq = m.inboxSequenceNumber { object["seq"] = seq }
        if let remarks = m.fields.remarks { object["remarks"] = remarks.text }
        return object
    }

    /// `{"id": …, "sequenceNumbers": {recipient: number, …}}` of a queued draft, keys sorted as in
    /// every admin answer (written directly: these answers are on the path of every submission).
    static func queuedJSON(_ queued: QueuedMessage) -> JSONValue {
        .object([("id", .string(queued.id.hex)),
                 ("sequenceNumbers", .object(queued.sequenceNumbers.sorted { $0.key < $1.key }.map { ($0.key, .number(String($0.value))) }))])
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A JSON object built off the cooperative pool (its values are plain JSON values).
struct JSONObject: @unchecked Sendable {
    var value: [String: Any]
    init(_ value: [String: Any]) { self.value = value }
}

/// The version of this software, reported by `GET /v1/status` and `parley --version`.
public enum ParleyVersion {
    public static let current = "0.1.0"
}

enum COSESign1Payload {
    static func payload(_ bytes: [UInt8]) throws -> [UInt8] {
        try ParleyCodec.COSESign1(decoding: bytes).payload
    }
}
