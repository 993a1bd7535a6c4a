import Foundation
import Hummingbird
import Logging
import NIOCore
import ParleyCodec
import ParleyProtocol
import ParleyStore

/// The local admin API (JSON over HTTP on a Unix domain socket), used by the CLI.
///
/// - `POST /v1/drafts`: submit a composition document (NOTIFICATIONS.md §2) → 201 `{"id", "sequenceNumbers"}`
/// - `POST /v1/reload-trust`: read the anchors and CRL files again (also on SIGHUP)
/// - `GET /v1/outbox[?state=pending&recipient=ID]` → deliveries
/// - `GET /v1/inbox[?sender=ID]` → received messages
/// - `GET /v1/messages/{id}` → one message with its deliveries and receipts
public enum AdminAPI {
    public static func router(node: Node) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.post("/v1/drafts") { request, _ -> Response in
            do {
                let data = try await request.body.collect(upTo: 1_048_576)
                let composition = try Composition(json: Array(buffer: data))
                let queued = try await node.submit(composition)
                return json(["id": queued.id.hex, "sequenceNumbers": queued.sequenceNumbers], status: .created)
            } catch let problem as Problem {
                return PeerServer.problemResponse(problem)
            } catch let error as ProtocolError {
                return PeerServer.problemResponse(Problem(status: 400, name: "invalid-draft", title: "Invalid notification draft", detail: "\(error)"))
            } catch let error as StoreError {
                return PeerServer.problemResponse(Problem(status: error.code == .invalidArgument ? 400 : 503, name: "invalid-draft",
                                                          title: "Cannot queue the draft", detail: "\(error)"))
            } catch {
                return PeerServer.problemResponse(.internalError("\(error)"))
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
        router.get("/v1/outbox") { request, _ -> Response in
            let state = request.uri.queryParameters["state"].flatMap { DeliveryState(rawValue: String($0)) }
            let recipient = request.uri.queryParameters["recipient"].map(String.init)
            do {
                let records = try node.store.outbox(OutboxQuery(state: state, recipient: recipient, limit: 1_000))
                return json(["deliveries": records.map(deliveryJSON)])
            } catch {
                return PeerServer.problemResponse(.unavailable("\(error)"))
            }
        }
        router.get("/v1/inbox") { request, _ -> Response in
            let sender = request.uri.queryParameters["sender"].map(String.init)
            do {
                let messages = try node.store.inbox(InboxQuery(sender: sender, limit: 1_000))
                return json(["messages": messages.map(messageJSON)])
            } catch {
                return PeerServer.problemResponse(.unavailable("\(error)"))
            }
        }
        router.get("/v1/messages/:id") { _, context -> Response in
            guard let hex = context.parameters.get("id"), let id = try? MessageID(hex: hex) else {
                return PeerServer.problemResponse(.malformed("the message id must be 32 hex digits"))
            }
            do {
                guard let record = try node.store.message(id) else {
                    return PeerServer.problemResponse(Problem(status: 404, name: "not-found", title: "No such message", detail: "no message \(hex)"))
                }
                var object = messageJSON(record.message)
                object["deliveries"] = record.deliveries.map(deliveryJSON)
                object["receipts"] = record.receipts.map { receipt -> [String: Any] in
                    ["direction": receipt.direction == .issued ? "issued" : "received", "signer": receipt.signer,
                     "status": statusName(receipt.status), "stored": iso(receipt.stored),
                     "base64": receipt.bytes.base64EncodedString()]
                }
                if let envelope = try? Envelope(decoding: COSESign1Payload.payload(Array(record.message.fields.bytes))) {
                    object["fields"] = Dictionary(Rendering.lines(of: envelope).map { ($0.label, $0.value) }, uniquingKeysWith: { a, b in a + "; " + b })
                }
                return json(object)
            } catch {
                return PeerServer.problemResponse(.unavailable("\(error)"))
            }
        }
        return router
    }

    static func iso(_ date: Date) -> String { UTCTime(date).description }

    static func statusName(_ status: ReceiptStatus) -> String {
        switch status {
        case .accepted: "accepted"
        case .duplicate: "duplicate"
        case .rejected(let code, _): "rejected:" + (RejectionCode(rawValue: code)?.name ?? "\(code)")
        }
    }

    static func deliveryJSON(_ d: DeliveryRecord) -> [String: Any] {
        var object: [String: Any] = ["id": d.messageID.hex, "type": NotificationType(rawValue: d.type)?.name ?? "\(d.type)",
                                     "recipient": d.recipient, "seq": d.sequenceNumber, "state": d.state.rawValue,
                                     "attempts": d.attempts, "nextAttempt": iso(d.nextAttempt), "queued": iso(d.queued)]
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

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

enum COSESign1Payload {
    static func payload(_ bytes: [UInt8]) throws -> [UInt8] {
        try ParleyCodec.COSESign1(decoding: bytes).payload
    }
}
