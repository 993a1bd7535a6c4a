import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
@testable import ParleyNode
import ParleyProtocol
import ParleyTestSupport
import Testing

/// The admin API's typed answers (Sources/ParleyNode/Admin): the types the CLI decodes hold every
/// member the daemon encodes, and a thrown `Problem` reaches the client as problem+json with its
/// status.
@Suite(.serialized) struct AdminContractTests {
    /// Status, Content-Type and body of a request to a node's admin socket.
    func exchange(
        _ node: Node,
        _ uri: String,
        post body: [UInt8]? = nil
    ) async throws -> (status: UInt, contentType: String?, body: [UInt8]) {
        let url = URL(httpURLWithSocketPath: node.configuration.adminSocketPath, uri: uri)!.absoluteString
        return try await withHTTPClient { client in
            var request = HTTPClientRequest(url: url)
            if let body {
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let response = try await client.execute(request, timeout: .seconds(60))
            return (
                response.status.code, response.headers.first(name: "Content-Type"),
                Array(buffer: try await response.body.collect(upTo: 1 << 22))
            )
        }
    }

    /// `bytes` decoded as `T` (as the CLI does) and encoded again give the same JSON: the type knows
    /// every member the daemon wrote and drops none.
    @discardableResult
    func decodesWhole<T: Codable>(
        _ type: T.Type,
        _ answer: (status: UInt, contentType: String?, body: [UInt8]),
        status: UInt = 200
    ) throws -> T {
        let text = String(decoding: answer.body, as: UTF8.self)
        #expect(
            answer.status == status && answer.contentType == "application/json",
            "\(T.self): \(answer.status) \(text)"
        )
        let value = try JSONDecoder().decode(T.self, from: Data(answer.body))
        let again = try AdminAPI.encoder().encode(value)
        let original = try JSONSerialization.jsonObject(with: Data(answer.body)) as? NSDictionary
        let reencoded = try JSONSerialization.jsonObject(with: again) as? NSDictionary
        #expect(
            original != nil && original == reencoded,
            "\(T.self): \(text) became \(String(decoding: again, as: UTF8.self))"
        )
        return value
    }

    func json(_ object: Any) throws -> [UInt8] { Array(try JSONSerialization.data(withJSONObject: object)) }

    @Test func everyAnswerDecodesAsItsTypeWithEveryMember() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let ruPort = try freePort()
        let hcocPort = try freePort()  // HCOC-CC never runs
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory)
        )
        var usConfiguration = try pki.nodeConfiguration(
            "US-NRRC",
            port: try freePort(),
            peers: ["RU-NRRC": ruPort, "HCOC-CC": hcocPort],
            directory: directory
        )
        usConfiguration.retry.initialBackoff = .seconds(60)
        usConfiguration.retry.maximumBackoff = .seconds(60)
        let us = try await RunningNode(usConfiguration)

        let queued = try decodesWhole(
            AdminAPI.QueuedDraft.self,
            try await exchange(
                us.node,
                "/v1/drafts",
                post: try json(preLaunchComposition(recipients: ["RU-NRRC", "HCOC-CC"]))
            ),
            status: 201
        )
        #expect(queued.sequenceNumbers == ["RU-NRRC": 1, "HCOC-CC": 1])
        let array = try decodesWhole(
            AdminAPI.DraftArrayAnswer.self,
            try await exchange(
                us.node,
                "/v1/drafts",
                post: try json([
                    preLaunchComposition(recipients: ["RU-NRRC"]),
                    preLaunchComposition(recipients: ["RU-NRRC"], late: true),
                ])
            )
        )
        #expect(array.queued == 1 && array.refused == 1)
        guard case .refused(let refusal) = array.results.last, case .queued = array.results.first else {
            Issue.record("expected queued then refused: \(array.results)")
            return
        }
        #expect(
            refusal.status == .badRequest && refusal.name == "invalid-draft" && refusal.detail.contains("late"),
            "\(refusal)"
        )

        // Both delivered to RU; HCOC's deliveries wait.
        var delivered = 0
        for _ in 0..<900 where delivered < 2 {
            delivered = try decodesWhole(
                AdminAPI.OutboxPage.self,
                try await exchange(us.node, "/v1/outbox?state=delivered")
            ).deliveries.count
            if delivered < 2 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(delivered == 2)

        let status = try decodesWhole(AdminAPI.NodeStatus.self, try await exchange(us.node, "/v1/status"))
        #expect(
            status.participant == "US-NRRC" && status.certificates.map(\.certificate) == ["signing", "tls"]
                && status.store.sent == 2
        )
        let peers = try decodesWhole(AdminAPI.PeerList.self, try await exchange(us.node, "/v1/peers"))
        #expect(Set(peers.peers.map(\.id)) == ["RU-NRRC", "HCOC-CC"] && peers.peers.allSatisfy(\.configured))
        let outbox = try decodesWhole(AdminAPI.OutboxPage.self, try await exchange(us.node, "/v1/outbox?limit=1"))
        #expect(outbox.deliveries.count == 1 && outbox.more == 2 && outbox.next != nil)
        let inbox = try decodesWhole(AdminAPI.InboxPage.self, try await exchange(ru.node, "/v1/inbox"))
        #expect(
            inbox.messages.map(\.id).contains(queued.id)
                && inbox.messages.allSatisfy { $0.direction == "received" && $0.seq != nil }
        )
        let issued = try decodesWhole(
            AdminAPI.ReceiptPage.self,
            try await exchange(ru.node, "/v1/receipts?direction=issued")
        )
        #expect(
            issued.receipts.count == 2 && issued.receipts.allSatisfy { $0.status == "accepted" && $0.peer == "US-NRRC" }
        )
        let received = try decodesWhole(AdminAPI.ReceiptPage.self, try await exchange(us.node, "/v1/receipts"))
        #expect(
            received.receipts.count == 2
                && received.receipts.allSatisfy { $0.direction == "received" && $0.signer == "RU-NRRC" }
        )

        let shown = try decodesWhole(
            AdminAPI.MessageAnswer.self,
            try await exchange(us.node, "/v1/messages/\(queued.id)")
        )
        guard case .stored(let detail) = shown else {
            Issue.record("\(queued.id) is stored: \(shown)")
            return
        }
        #expect(
            detail.message.id == queued.id && detail.deliveries.count == 2 && detail.receipts.count == 1
                && detail.chain.count == 1
        )
        #expect(detail.fields?.isEmpty == false)

        let retried = try decodesWhole(
            AdminAPI.RetryAnswer.self,
            try await exchange(us.node, "/v1/messages/\(queued.id)/retry", post: try json(["recipient": "HCOC-CC"]))
        )
        #expect(retried.retried == 1 && retried.deliveries.count == 2)
        let cancelled = try decodesWhole(
            AdminAPI.CancelAnswer.self,
            try await exchange(us.node, "/v1/messages/\(queued.id)/cancel", post: try json(["note": "contract test"]))
        )
        #expect(
            cancelled.cancelled == 1
                && cancelled.deliveries.contains { $0.recipient == "HCOC-CC" && $0.state == "cancelled" }
        )

        let reload = try decodesWhole(AdminAPI.ReloadAnswer.self, try await exchange(us.node, "/v1/reload", post: []))
        #expect(
            reload.status == "reloaded" && reload.configuration.status == "not-from-file" && reload.trust.summary != nil
        )
        let trust = try decodesWhole(
            AdminAPI.TrustReloadAnswer.self,
            try await exchange(us.node, "/v1/reload-trust", post: [])
        )
        #expect(trust.status == "reloaded" && trust.health.isEmpty)

        let hour = UTCTime(secondsSince1970: UTCTime.now.secondsSince1970 - 3_600)
        let path = directory.appendingPathComponent("contract.parley").path
        let export = try decodesWhole(
            AdminAPI.ArchiveExport.self,
            try await exchange(
                us.node,
                "/v1/archive/export",
                post: try json([
                    "since": hour.description, "until": (UTCTime.now + 3_600).description, "path": path,
                ])
            )
        )
        #expect(
            export.path == path && export.messages == 2 && export.exporter == "US-NRRC" && export.sha256.count == 64
        )

        await us.stop()
        await ru.stop()
    }

    /// The answer for an id this node only rejected has `stored: false`; it decodes as such, and a
    /// stored message's answer (whose `stored` is a time) does not.
    @Test func aRejectedOnlyMessageDecodesApartFromAStoredOne() throws {
        let rejection = AdminAPI.Rejection(
            direction: "issued",
            signer: "RU-NRRC",
            peer: "US-NRRC",
            message: String(repeating: "ab", count: 16),
            status: "rejected:bad-signature",
            reason: "the signature does not verify",
            stored: "2026-11-01T06:00:00Z",
            messageSha256: String(repeating: "0", count: 64),
            base64: "AA==",
            evidenceBase64: nil
        )
        let answer = AdminAPI.MessageAnswer.rejectedOnly(
            .init(id: rejection.message, stored: false, rejections: [rejection], note: "not stored")
        )
        let bytes = try AdminAPI.encoder().encode(answer)
        #expect(String(decoding: bytes, as: UTF8.self).contains("\"stored\":false"))
        #expect(try JSONDecoder().decode(AdminAPI.MessageAnswer.self, from: bytes) == answer)
    }

    /// A problem thrown by a handler, by the request decoder or by the router is answered as
    /// `application/problem+json` whose `status` is the HTTP status.
    @Test func aThrownProblemReachesTheClientAsProblemJSONWithItsStatus() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let us = try await RunningNode(
            try pki.nodeConfiguration(
                "US-NRRC",
                port: try freePort(),
                peers: ["RU-NRRC": try freePort()],
                directory: directory
            )
        )
        let unknown = MessageID.generate().hex

        func problem(
            _ uri: String,
            post body: [UInt8]? = nil,
            status: HTTPResponse.Status,
            name: String,
            mentioning: String
        ) async throws {
            let answer = try await exchange(us.node, uri, post: body)
            let text = String(decoding: answer.body, as: UTF8.self)
            #expect(
                answer.status == UInt(status.code) && answer.contentType == Problem.mediaType,
                "\(uri): \(answer.status) \(text)"
            )
            let problem = try JSONDecoder().decode(Problem.self, from: Data(answer.body))
            #expect(
                problem.status == status && problem.name == name && problem.detail.contains(mentioning),
                "\(uri): \(text)"
            )
        }
        try await problem("/v1/messages/\(unknown)", status: .notFound, name: "not-found", mentioning: unknown)
        try await problem("/v1/messages/xyz", status: .badRequest, name: "malformed", mentioning: "32 hex digits")
        try await problem(
            "/v1/messages/\(unknown)/retry",
            post: try json(["recipient": 5]),
            status: .badRequest,
            name: "invalid-request",
            mentioning: "\"recipient\" must be a string"
        )
        try await problem(
            "/v1/messages/\(unknown)/cancel",
            post: Array("[".utf8),
            status: .badRequest,
            name: "invalid-request",
            mentioning: "JSON object"
        )
        try await problem(
            "/v1/messages/\(unknown)/retry",
            post: try json(["note": String(repeating: "n", count: AdminAPI.maximumRequestBytes)]),
            status: .contentTooLarge,
            name: "too-large",
            mentioning: "\(AdminAPI.maximumRequestBytes) bytes"
        )
        try await problem("/v1/inbox?limit=0", status: .badRequest, name: "invalid-request", mentioning: "limit=0")
        try await problem(
            "/v1/archive/export",
            post: try json(["since": "yesterday"]),
            status: .badRequest,
            name: "invalid-request",
            mentioning: "RFC 3339"
        )
        try await problem("/v1/nothing-here", status: .notFound, name: "not-found", mentioning: "openapi.yaml")

        // 409: nothing to cancel once the only delivery is cancelled.
        let queued = try JSONDecoder().decode(
            AdminAPI.QueuedDraft.self,
            from: Data(
                try await exchange(us.node, "/v1/drafts", post: try json(preLaunchComposition(recipients: ["RU-NRRC"])))
                    .body
            )
        )
        _ = try await exchange(us.node, "/v1/messages/\(queued.id)/cancel", post: [])
        try await problem(
            "/v1/messages/\(queued.id)/cancel",
            post: [],
            status: .conflict,
            name: "invalid-state",
            mentioning: "never cancelled"
        )
        await us.stop()
    }

    /// `Problem` as the problem object: the members of RFC 9457, `type` from the name, and the
    /// answer's status and Retry-After from the problem.
    @Test func problemEncodesDecodesAndAnswers() throws {
        let problem = Problem.unavailable("the store is locked")
        let bytes = try AdminAPI.encoder().encode(problem)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"detail":"the store is locked","status":503,"title":"Cannot accept messages now","type":"urn:parley:problem:unavailable"}"#
        )
        var decoded = try JSONDecoder().decode(Problem.self, from: bytes)
        #expect(decoded.retryAfter == nil)
        decoded.retryAfter = problem.retryAfter
        #expect(decoded == problem)
        let withCode = Problem.malformed("not CBOR")
        #expect(try JSONDecoder().decode(Problem.self, from: try AdminAPI.encoder().encode(withCode)).parleyCode == 1)
        #expect(
            Array(try AdminAPI.encoder().encode(withCode)) == withCode.json,
            "the admin encoder writes what the peer interface writes"
        )
        let response = problem.response
        #expect(
            response.status == .serviceUnavailable && response.headers[.contentType] == Problem.mediaType
                && response.headers[.retryAfter] == "30"
        )
    }
}
