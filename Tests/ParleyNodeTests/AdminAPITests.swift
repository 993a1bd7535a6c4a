import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ParleyCodec
import ParleyCrypto
@testable import ParleyNode
import ParleyProtocol
import ParleyStore
import ServiceLifecycle
import Testing
import ParleyTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Percent-encoding of a query value (a cursor holds only digits, letters, `.` and `-`).
enum AdminClientEncoding {
    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            ?? value
    }
}

/// The admin API on the Unix socket against nodes running in this process.
@Suite(.serialized) struct AdminAPITests {
    static let us = try! ParticipantID("US-NRRC")
    static let ru = try! ParticipantID("RU-NRRC")

    /// GET or POST on a node's admin socket; the JSON object answered and the status.
    func admin(_ node: Node, _ uri: String, post body: [String: Any]? = nil) async throws -> (UInt, [String: Any]) {
        let url = URL(httpURLWithSocketPath: node.configuration.adminSocketPath, uri: uri)!.absoluteString
        let request = try body.map { Array(try JSONSerialization.data(withJSONObject: $0)) }
        let (status, bytes): (UInt, [UInt8]) = try await withHTTPClient { client in
            if let request {
                let (status, bytes, _) = try await post(client, url, request, contentType: "application/json")
                return (status, bytes)
            }
            return try await get(client, url)
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
        return (status, object)
    }

    func submit(_ node: Node, _ document: [String: Any]) async throws -> MessageID {
        let (status, answer) = try await admin(node, "/v1/drafts", post: document)
        #expect(status == 201, "\(answer)")
        return try MessageID(hex: try #require(answer["id"] as? String))
    }

    @Test func issuedRejectionsAreStoredAndListed() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let ruPort = try freePort()
        let logs = LogCapture()
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory),
            logs: logs
        )
        let usConfiguration = try pki.nodeConfiguration("US-NRRC", port: 0, peers: [:], directory: directory)
        try await withHTTPClient(
            configuration: .init(tlsConfiguration: try DeliveryService.tlsClientConfiguration(usConfiguration))
        ) { client in
            let identity = try SigningIdentity.load(
                keyPath: usConfiguration.signingKeyPath,
                chainPath: usConfiguration.signingChainPath
            )
            func message(seq: UInt64) throws -> [UInt8] {
                try identity.sign(
                    Envelope(
                        id: .generate(),
                        sender: Self.us,
                        recipients: [Recipient(participant: Self.ru, sequence: seq)],
                        created: .now,
                        body: preLaunchBody()
                    )
                )
            }
            let url = "https://127.0.0.1:\(ruPort)/v1/messages"
            var tampered = try COSESign1(decoding: try message(seq: 1))
            tampered.signature[tampered.signature.count / 2] ^= 0x01
            let (status, answered, _) = try await post(
                client,
                url,
                tampered.encoded,
                contentType: PeerServer.coseMediaType
            )
            #expect(status == 200)
            let tamperedID = try Envelope(decoding: tampered.payload).id

            // Stored with the exact bytes returned, and audited.
            let stored = try await ru.node.store.issuedRejections(for: tamperedID)
            #expect(stored.count == 1)
            #expect(stored.first.map { Array($0.bytes) } == answered)
            #expect(stored.first?.code == RejectionCode.badSignature.rawValue && stored.first?.sender == "US-NRRC")
            #expect(stored.first?.messageDigest == Data(Digest.sha256(tampered.encoded)))
            #expect(try await ru.node.store.auditEvents(kinds: [.rejectionIssued]).count == 1)

            // Listed by the receipts endpoint; the listed bytes verify as RU's signed rejection.
            let (listStatus, list) = try await admin(ru.node, "/v1/receipts?direction=issued&status=rejected")
            #expect(listStatus == 200)
            let receipts = list["receipts"] as? [[String: Any]] ?? []
            #expect(receipts.count == 1)
            let entry = try #require(receipts.first)
            #expect(entry["message"] as? String == tamperedID.hex && entry["peer"] as? String == "US-NRRC")
            #expect(entry["messageStored"] as? Bool == false && entry["status"] as? String == "rejected:bad-signature")
            let bytes = try #require(Data(base64Encoded: entry["base64"] as? String ?? ""))
            let sent = SentMessage(
                id: tamperedID,
                digest: Digest.sha256(tampered.encoded),
                sender: Self.us,
                created: try Envelope(decoding: tampered.payload).created,
                recipients: [Self.ru]
            )
            let verified = try ru.node.verifier.verifyReceipt(Array(bytes), at: .now, for: sent, from: Self.ru)
            guard case .rejected(.badSignature, _) = verified.receipt.status else {
                Issue.record("not a bad-signature rejection")
                return
            }
            // The message endpoint shows the rejection of a message it never stored.
            let (shown, shownMessage) = try await admin(ru.node, "/v1/messages/\(tamperedID.hex)")
            #expect(shown == 200 && shownMessage["stored"] as? Bool == false)
            #expect((shownMessage["rejections"] as? [[String: Any]])?.count == 1)
            // Nothing for accepted receipts in that filter; the inbox is empty.
            #expect(try await ru.node.store.inbox(InboxQuery()).isEmpty)
            let (_, received) = try await admin(ru.node, "/v1/receipts?direction=received")
            #expect((received["receipts"] as? [Any])?.isEmpty == true)

            // Equivocation and replay: signed by the sender, so their bytes are kept as evidence (SPEC.md §9.1 step 18).
            let accepted = try message(seq: 2)
            #expect(try await post(client, url, accepted, contentType: PeerServer.coseMediaType).0 == 200)
            var second = try Envelope(decoding: try COSESign1(decoding: accepted).payload)
            second.recipients = [Recipient(participant: Self.ru, sequence: 3)]
            let equivocating = try identity.sign(second)
            #expect(try await post(client, url, equivocating, contentType: PeerServer.coseMediaType).0 == 200)
            let replaying = try message(seq: 2)
            #expect(try await post(client, url, replaying, contentType: PeerServer.coseMediaType).0 == 200)
            let equivocation = try #require(try await ru.node.store.issuedRejections(for: second.id).first)
            #expect(
                equivocation.code == RejectionCode.equivocation.rawValue
                    && equivocation.evidence.map(Array.init) == equivocating
            )
            #expect(
                logs.lines.filter { $0.hasPrefix("critical EQUIVOCATION: US-NRRC") }.count == 1,
                "\(logs.lines.filter { $0.hasPrefix("critical") })"
            )
            let replayID = try Envelope(decoding: try COSESign1(decoding: replaying).payload).id
            #expect(
                try await ru.node.store.issuedRejections(for: replayID).first?.evidence.map(Array.init) == replaying
            )
            #expect(stored.first?.evidence == nil, "a message with a bad signature is not evidence of anything")
            let (_, shownEquivocation) = try await admin(ru.node, "/v1/messages/\(second.id.hex)")
            #expect(
                shownEquivocation["direction"] as? String == "received"
                    && (shownEquivocation["rejections"] as? [[String: Any]])?.first?["evidenceBase64"] as? String
                        == Data(equivocating).base64EncodedString()
            )
        }
        await ru.stop()
    }

    @Test func statusPeersRetryCancelChainInboxAndArchive() async throws {
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
        // After its first failed attempt (a refused connection fails at once), the delivery to HCOC
        // waits pending for a minute: the peer state below is read while it waits, not in flight.
        usConfiguration.retry.initialInterval = 60
        usConfiguration.retry.maximumInterval = 60
        let us = try await RunningNode(usConfiguration)
        let first = try await submit(us.node, preLaunchComposition(recipients: ["RU-NRRC", "HCOC-CC"]))
        let cancellation: [String: Any] = [
            "type": "launch-cancellation", "recipients": ["RU-NRRC"],
            "refs": [["id": first.hex, "relation": "cancels"]],
            "body": ["reason": "weather"], "remarks": ["lang": "en", "text": "Storm over the range."],
        ]
        let second = try await submit(us.node, cancellation)
        try await waitUntil("both delivered to RU") {
            try await us.node.store.outbox(OutboxQuery(state: .delivered, recipient: "RU-NRRC")).count == 2
        }
        try await waitUntil("a failed attempt to HCOC") {
            try await us.node.store.peerStates(["HCOC-CC".pid]).first { $0.peer == "HCOC-CC" }?.lastError != nil
        }

        // Status and peers.
        let (statusCode, status) = try await admin(us.node, "/v1/status")
        #expect(statusCode == 200)
        #expect(status["participant"] as? String == "US-NRRC" && status["version"] as? String == ParleyVersion.current)
        #expect((status["uptimeSeconds"] as? Int).map { $0 >= 0 } == true && status["status"] as? String == "ok")
        let certificates = status["certificates"] as? [[String: Any]] ?? []
        #expect(certificates.map { $0["certificate"] as? String } == ["signing", "tls"])
        #expect(certificates.allSatisfy { ($0["daysLeft"] as? Int ?? -1) > 0 })
        let trust = (status["trust"] as? [String: Any])?["signing"] as? [String: Any]
        #expect((trust?["crls"] as? [[String: Any]])?.first?["expired"] as? Bool == false)
        #expect(((status["store"] as? [String: Any])?["sent"] as? Int) == 2)
        let peers = status["peers"] as? [[String: Any]] ?? []
        let ruState = try #require(peers.first { $0["id"] as? String == "RU-NRRC" })
        let hcocState = try #require(peers.first { $0["id"] as? String == "HCOC-CC" })
        #expect(
            ruState["queueDepth"] as? Int == 0 && ruState["lastContact"] != nil
                && ruState["configured"] as? Bool == true
        )
        #expect(
            hcocState["queueDepth"] as? Int == 1 && hcocState["oldestUndelivered"] != nil
                && hcocState["nextAttempt"] != nil
        )
        #expect((hcocState["lastError"] as? String)?.isEmpty == false && hcocState["lastContact"] == nil)
        let (_, peerList) = try await admin(us.node, "/v1/peers")
        #expect((peerList["peers"] as? [Any])?.count == 2)

        // Retry HCOC now; cancel: never a delivered delivery; all → only HCOC's.
        let (retried, retry) = try await admin(
            us.node,
            "/v1/messages/\(first.hex)/retry",
            post: ["recipient": "HCOC-CC", "note": "test"]
        )
        #expect(retried == 200 && retry["retried"] as? Int == 1, "\(retry)")
        let (refused, problem) = try await admin(
            us.node,
            "/v1/messages/\(first.hex)/cancel",
            post: ["recipient": "RU-NRRC"]
        )
        #expect(refused == 409 && (problem["detail"] as? String)?.contains("delivered") == true, "\(problem)")
        let (cancelled, cancel) = try await admin(
            us.node,
            "/v1/messages/\(first.hex)/cancel",
            post: ["note": "launch scrubbed"]
        )
        #expect(cancelled == 200 && cancel["cancelled"] as? Int == 1, "\(cancel)")
        #expect(try await us.node.store.delivery(first, recipient: "HCOC-CC".pid)?.state == .cancelled)
        #expect(try await us.node.store.delivery(first, recipient: "RU-NRRC".pid)?.state == .delivered)
        #expect(
            try await us.node.store.auditEvents(kinds: [.cancelled], messageID: first).first?.detail
                == "by the operator: launch scrubbed"
        )
        let (again, _) = try await admin(us.node, "/v1/messages/\(first.hex)/cancel", post: [:])
        #expect(again == 409)
        let (unknown, _) = try await admin(us.node, "/v1/messages/\(MessageID.generate().hex)/retry", post: [:])
        #expect(unknown == 404)

        // The reference chain, from either end.
        let (_, shown) = try await admin(us.node, "/v1/messages/\(first.hex)")
        #expect((shown["chain"] as? [[String: Any]])?.map { $0["id"] as? String } == [first.hex, second.hex])
        let (_, shownSecond) = try await admin(us.node, "/v1/messages/\(second.hex)")
        #expect((shownSecond["references"] as? [[String: Any]])?.first?["relation"] as? String == "cancels")
        #expect((shownSecond["chain"] as? [Any])?.count == 2)

        // Inbox filters on RU.
        let hour = UTCTime(secondsSince1970: UTCTime.now.secondsSince1970 - 3_600)
        func inbox(_ query: String) async throws -> [String] {
            let (code, answer) = try await admin(ru.node, "/v1/inbox?\(query)")
            #expect(code == 200, "\(query): \(answer)")
            return (answer["messages"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        }
        #expect(try await inbox("sender=US-NRRC").count == 2)
        #expect(try await inbox("type=launch-cancellation") == [second.hex])
        #expect(try await inbox("text=storm%20RANGE") == [second.hex])
        #expect(try await inbox("since=\(hour)&until=\(UTCTime.now + 3_600)").count == 2)
        #expect(try await inbox("until=\(hour)").isEmpty)
        let (_, page) = try await admin(ru.node, "/v1/inbox?limit=1")
        let next = try #require(page["next"] as? String)
        let rest = try await inbox("limit=5&after=\(next)")
        #expect(
            rest.count == 1 && !rest.contains((page["messages"] as? [[String: Any]])?.first?["id"] as? String ?? "")
        )
        for bad in ["since=yesterday", "limit=0", "type=lunch", "after=x"] {
            let (code, _) = try await admin(ru.node, "/v1/inbox?\(bad)")
            #expect(code == 400, "\(bad)")
        }

        // Archive: streamed back, and written by the daemon to a path.
        let streamURL = URL(
            httpURLWithSocketPath: us.node.configuration.adminSocketPath,
            uri: "/v1/archive?since=\(hour)&until=\(UTCTime.now + 3_600)"
        )!.absoluteString
        let (streamStatus, archiveBytes) = try await withHTTPClient { client in
            try await get(client, streamURL, timeout: .seconds(60))
        }
        #expect(streamStatus == 200)
        let streamed = directory.appendingPathComponent("streamed.parley").path
        try Data(archiveBytes).write(to: URL(fileURLWithPath: streamed))
        let summary = try ParleyStore.readArchive(at: streamed)
        #expect(summary.messages == 2 && summary.receipts == 2)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: us.node.configuration.dataDirectory + "/exports")
                .isEmpty,
            "the daemon's temporary export is removed"
        )
        let written = directory.appendingPathComponent("written.parley").path
        let (exported, export) = try await admin(
            us.node,
            "/v1/archive/export",
            post: ["since": hour.description, "until": (UTCTime.now + 3_600).description, "path": written]
        )
        #expect(exported == 200 && export["messages"] as? Int == 2, "\(export)")
        #expect(try ParleyStore.readArchive(at: written).messages == 2)
        let (badRange, _) = try await admin(
            us.node,
            "/v1/archive/export",
            post: ["since": "2026-12-01T00:00:00Z", "until": "2026-11-01T00:00:00Z", "path": written + "2"]
        )
        #expect(badRange == 400)
        let (exists, _) = try await admin(
            us.node,
            "/v1/archive/export",
            post: ["since": hour.description, "until": hour.description, "path": written]
        )
        #expect(exists == 400, "an existing archive is never overwritten")

        await us.stop()
        await ru.stop()
    }

    /// Every list answer is a page: `limit` items (default 100), `more` (how many further items
    /// match) and `next` (the `after` value of the next page, only when there are more).
    @Test func everyListPagesAndSaysHowManyMore() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let ruPort = try freePort()
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory)
        )
        let us = try await RunningNode(
            try pki.nodeConfiguration("US-NRRC", port: try freePort(), peers: ["RU-NRRC": ruPort], directory: directory)
        )
        let count = 150
        let body = Array(
            try JSONSerialization.data(
                withJSONObject: Array(repeating: preLaunchComposition(recipients: ["RU-NRRC"]), count: count)
            )
        )
        let url = URL(httpURLWithSocketPath: us.node.configuration.adminSocketPath, uri: "/v1/drafts")!.absoluteString
        let (status, _, _) = try await withHTTPClient { try await post($0, url, body, contentType: "application/json") }
        #expect(status == 201)
        try await waitUntil("\(count) delivered") {
            try await us.node.store.outbox(OutboxQuery(state: .delivered, limit: count + 1)).count == count
        }

        /// Follows `next` from the first page; returns each page's item keys and `more`.
        func pages(
            _ node: Node,
            _ path: String,
            _ list: String,
            key: ([String: Any]) -> String
        ) async throws -> [(keys: [String], more: Int?)] {
            var result: [(keys: [String], more: Int?)] = []
            var uri = path
            while true {
                let (code, answer) = try await admin(node, uri)
                #expect(code == 200, "\(uri): \(answer)")
                let items = answer[list] as? [[String: Any]] ?? []
                result.append((items.map(key), answer["more"] as? Int))
                guard let next = answer["next"] as? String, result.count < 10 else {
                    #expect(answer["more"] as? Int == 0, "\(uri): no next, so nothing more")
                    return result
                }
                uri = path + (path.contains("?") ? "&" : "?") + "after=\(AdminClientEncoding.encode(next))"
            }
        }
        let delivery = { (d: [String: Any]) in "\(d["id"] ?? "") \(d["recipient"] ?? "")" }
        let outbox = try await pages(us.node, "/v1/outbox", "deliveries", key: delivery)
        #expect(outbox.map(\.keys.count) == [100, 50] && outbox.map(\.more) == [50, 0])
        #expect(Set(outbox.flatMap(\.keys)).count == count)
        let oldest = try await pages(us.node, "/v1/outbox?order=oldest&limit=60", "deliveries", key: delivery)
        #expect(oldest.map(\.keys.count) == [60, 60, 30] && oldest.map(\.more) == [90, 30, 0])
        #expect(
            oldest.flatMap(\.keys) == outbox.flatMap(\.keys).reversed(),
            "queue order is the reverse of newest first"
        )
        let delivered = try await pages(us.node, "/v1/outbox?state=delivered&limit=149", "deliveries", key: delivery)
        #expect(delivered.map(\.more) == [1, 0])

        let inbox = try await pages(ru.node, "/v1/inbox?sender=US-NRRC&limit=70", "messages") { "\($0["id"] ?? "")" }
        #expect(inbox.map(\.keys.count) == [70, 70, 10] && inbox.map(\.more) == [80, 10, 0])
        let received: Set<String> = Set(inbox.flatMap(\.keys))
        let sent: Set<String> = Set(outbox.flatMap(\.keys).map { String($0.prefix(32)) })
        #expect(received == sent)

        let receipt = { (r: [String: Any]) in "\(r["message"] ?? "") \(r["sha256"] ?? "")" }
        let receipts = try await pages(us.node, "/v1/receipts?direction=received", "receipts", key: receipt)
        #expect(receipts.map(\.keys.count) == [100, 50] && receipts.map(\.more) == [50, 0])
        let issued = try await pages(ru.node, "/v1/receipts?limit=149", "receipts", key: receipt)
        #expect(issued.map(\.keys.count) == [149, 1] && Set(issued.flatMap(\.keys)).count == count)

        for bad in [
            "/v1/outbox?after=x", "/v1/outbox?order=sideways", "/v1/receipts?after=1.2", "/v1/outbox?limit=10001",
        ] {
            let (code, _) = try await admin(us.node, bad)
            #expect(code == 400, "\(bad)")
        }
        await us.stop()
        await ru.stop()
    }

    @Test func anArrayOfDraftsQueuesEachValidOneAndNamesTheFieldOfEachRefusedOne() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let us = try await RunningNode(
            try pki.nodeConfiguration("US-NRRC", port: try freePort(), peers: ["RU-NRRC": 1], directory: directory)
        )
        let url = URL(httpURLWithSocketPath: us.node.configuration.adminSocketPath, uri: "/v1/drafts")!.absoluteString
        func postDrafts(_ drafts: [[String: Any]]) async throws -> (UInt, [String: Any]) {
            let body = Array(try JSONSerialization.data(withJSONObject: drafts))
            let (status, bytes, _) = try await withHTTPClient {
                try await post($0, url, body, contentType: "application/json")
            }
            return (status, (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:])
        }
        let good = preLaunchComposition(recipients: ["RU-NRRC"])
        var bad = good
        bad["type"] = "no-such-type"
        // Refused only when its envelope is built, inside the transaction (the window opens within
        // the notice period and it is not marked late): the others of the batch are still queued.
        let late = preLaunchComposition(recipients: ["RU-NRRC"], opensIn: 3_600, late: false)
        let (status, answer) = try await postDrafts([good, bad, good, late, good])
        #expect(status == 200, "not all were queued: 200, not 201")
        #expect(answer["queued"] as? Int == 3 && answer["refused"] as? Int == 2, "\(answer)")
        let results = try #require(answer["results"] as? [[String: Any]])
        #expect(results.count == 5)
        let problem = try #require(results[1]["problem"] as? [String: Any])
        #expect(problem["status"] as? Int == 400 && (problem["detail"] as? String ?? "").contains("type"), "\(problem)")
        let lateProblem = try #require(results[3]["problem"] as? [String: Any], "\(results[3])")
        #expect(
            lateProblem["status"] as? Int == 400 && (lateProblem["detail"] as? String ?? "").contains("late"),
            "\(lateProblem)"
        )
        // The valid drafts got consecutive numbers on the channel, in array order; the refused ones consumed none.
        let numbers = results.compactMap { ($0["sequenceNumbers"] as? [String: Any])?["RU-NRRC"] as? Int }
        #expect(numbers == [1, 2, 3])
        let ids = try results.compactMap { $0["id"] as? String }.map { try MessageID(hex: $0) }
        for id in ids { #expect(try await us.node.store.message(id) != nil) }

        let (allGood, allAnswer) = try await postDrafts([good, good])
        #expect(allGood == 201 && allAnswer["queued"] as? Int == 2)
        let (empty, emptyAnswer) = try await postDrafts([])
        #expect(empty == 400 && (emptyAnswer["detail"] as? String ?? "").contains("1 to"))
        #expect(try await postDrafts(Array(repeating: good, count: AdminAPI.maximumDrafts + 1)).0 == 400)
        #expect(try await us.node.store.outgoingChannels().first?.nextSequenceNumber == 6)
        await us.stop()
    }

    @Test func retryEndsTheBackoffWaitOfADownPeer() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let hcocPort = try freePort()
        var configuration = try pki.nodeConfiguration(
            "US-NRRC",
            port: try freePort(),
            peers: ["HCOC-CC": hcocPort],
            directory: directory
        )
        configuration.retry.initialInterval = 600
        configuration.retry.maximumInterval = 600
        let us = try await RunningNode(configuration)
        let id = try await submit(us.node, preLaunchComposition(recipients: ["HCOC-CC"]))
        try await waitUntil("a failed attempt") {
            try await us.node.store.delivery(id, recipient: "HCOC-CC".pid).map {
                $0.state == .pending && $0.attempts == 1
            } ?? false
        }
        let next = try #require(try await us.node.store.delivery(id, recipient: "HCOC-CC".pid)?.nextAttempt)
        #expect(next.timeIntervalSinceNow > 400, "backing off for about 600 s")
        let hcoc = try await RunningNode(
            try pki.nodeConfiguration("HCOC-CC", port: hcocPort, peers: [:], directory: directory)
        )
        let (status, answer) = try await admin(us.node, "/v1/messages/\(id.hex)/retry", post: [:])
        #expect(status == 200 && answer["retried"] as? Int == 1, "\(answer)")
        try await waitUntil("delivered long before the backoff ends", timeout: .seconds(120)) {
            try await us.node.store.delivery(id, recipient: "HCOC-CC".pid)?.state == .delivered
        }
        #expect(try await us.node.store.auditEvents(kinds: [.retried], messageID: id).count == 1)
        await us.stop()
        await hcoc.stop()
    }

    @Test func reloadAppliesPeersAndRetryPolicyKeepsRestartKeysAndRefusesABadFile() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let ruPort = try freePort()
        let usPort = try freePort()
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory)
        )
        let usDirectory = directory.appendingPathComponent("US-NRRC")
        try FileManager.default.createDirectory(at: usDirectory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("us.json").path
        func write(port: Int, peers: String, retry: String) throws {
            try writeConfigurationFile(
                file,
                pki,
                "US-NRRC",
                port: port,
                adminSocket: "\(directory.path)/us-admin.sock",
                dataDirectory: usDirectory.path,
                members: [#""peers": {\#(peers)}"#, #""retry": \#(retry)"#]
            )
        }
        try write(
            port: usPort,
            peers: "\"RU-NRRC\": {\"url\": \"https://127.0.0.1:1\"}",
            retry: "{\"initialSeconds\": 0.2, \"maximumIntervalSeconds\": 1}"
        )
        let configuration = try await NodeConfiguration.load(file: file, environment: [:], checkResources: true)
        let logger = testLogger("test.reload")
        let node = try Node(configuration: configuration, logger: logger, configurationFile: file)
        let group = ServiceGroup(
            configuration: .init(services: try node.services().map { .init(service: $0) }, logger: logger)
        )
        let task = Task { try await group.run() }
        try await waitUntil("US listening") { node.peerPort != nil && node.adminListening }

        // A message to RU, configured at a wrong address: it waits.
        let id = try await submit(node, preLaunchComposition(recipients: ["RU-NRRC"]))
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await node.store.delivery(id, recipient: "RU-NRRC".pid)?.state == .pending)

        // Correct RU's address, change the retry policy and the listen port.
        try write(
            port: usPort + 1,
            peers: "\"RU-NRRC\": {\"url\": \"https://127.0.0.1:\(ruPort)\"}",
            retry: "{\"initialSeconds\": 0.5, \"maximumIntervalSeconds\": 2}"
        )
        let (reloaded, report) = try await admin(node, "/v1/reload", post: [:])
        #expect(reloaded == 200 && report["status"] as? String == "reloaded", "\(report)")
        let applied = (report["configuration"] as? [String: Any])?["applied"] as? [String] ?? []
        let restart = (report["configuration"] as? [String: Any])?["restartRequired"] as? [String] ?? []
        #expect(Set(applied) == ["peers", "retry.initialSeconds", "retry.maximumIntervalSeconds"], "\(applied)")
        #expect(restart == ["listen.port"])
        #expect(node.configuration.listenPort == usPort, "the running listener keeps its port until a restart")
        let (_, pending) = try await admin(node, "/v1/status")
        #expect(
            (pending["warnings"] as? [String])?.contains(
                "changed keys wait for a restart (systemctl restart parleyd): listen.port"
            ) == true,
            "\(pending["warnings"] ?? "")"
        )
        #expect(
            node.configuration.retry.initialInterval == 0.5 && node.delivery.configuration.retry.maximumInterval == 2
        )
        try await waitUntil("the queued message delivered to the new peer") {
            try await node.store.delivery(id, recipient: "RU-NRRC".pid)?.state == .delivered
        }

        // A file with two problems changes nothing and reports both.
        try write(port: usPort, peers: "\"RU-NRRC\": {\"url\": \"ftp://127.0.0.1\"}", retry: "{\"initialSeconds\": -1}")
        let (refusedStatus, refused) = try await admin(node, "/v1/reload", post: [:])
        #expect(refusedStatus == 200 && refused["status"] as? String == "failed")
        let problems = (refused["configuration"] as? [String: Any])?["problems"] as? [[String: Any]] ?? []
        #expect(
            Set(problems.compactMap { $0["key"] as? String }) == ["peers.RU-NRRC.url", "retry.initialSeconds"],
            "\(problems)"
        )
        #expect(((refused["trust"] as? [String: Any])?["status"] as? String) == "reloaded", "trust is still re-read")
        #expect(node.configuration.peers.first?.url.absoluteString == "https://127.0.0.1:\(ruPort)")
        #expect(node.configuration.retry.initialInterval == 0.5)

        // Removing the peer stops its loop; status reports the last reload.
        try write(port: usPort, peers: "", retry: "{\"initialSeconds\": 0.5, \"maximumIntervalSeconds\": 2}")
        let (_, removed) = try await admin(node, "/v1/reload", post: [:])
        #expect(((removed["configuration"] as? [String: Any])?["applied"] as? [String]) == ["peers"])
        // Nobody would deliver a draft for a participant that is no longer a peer: refused.
        let (refusedDraft, refusal) = try await admin(
            node,
            "/v1/drafts",
            post: preLaunchComposition(recipients: ["RU-NRRC"])
        )
        #expect(
            refusedDraft == 400 && (refusal["detail"] as? String ?? "").contains("RU-NRRC is not a peer of this node"),
            "\(refusal)"
        )
        let (_, status) = try await admin(node, "/v1/status")
        #expect((status["lastReload"] as? [String: Any])?["succeeded"] as? Bool == true)
        #expect(((status["peers"] as? [[String: Any]])?.first?["configured"] as? Bool) == false)

        await group.triggerGracefulShutdown()
        _ = try? await task.value
        await ru.stop()
    }

    @Test func adminSocketGroupModeAndWhatItReplaces() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        var configuration = try pki.nodeConfiguration("US-NRRC", port: try freePort(), peers: [:], directory: directory)
        // A supplementary group of this user if it has one (so the group really changes), else its own.
        var groups = [gid_t](repeating: 0, count: 64)
        let count = max(0, Int(getgroups(Int32(groups.count), &groups)))
        let gid = groups.prefix(count).first { $0 != getegid() } ?? getegid()
        let groupName = try #require(getgrgid(gid).map { String(cString: $0.pointee.gr_name) })
        configuration.adminGroup = groupName
        #expect(configuration.checkResources().isEmpty)

        // Something that is not a socket at the path is refused and left alone.
        #expect(FileManager.default.createFile(atPath: configuration.adminSocketPath, contents: Data("keep".utf8)))
        #expect(configuration.checkResources().map(\.key) == ["admin.socket"])
        let logger = testLogger("test.socket")
        #expect(throws: ConfigurationError.self) { try Node(configuration: configuration, logger: logger).services() }
        #expect(FileManager.default.contents(atPath: configuration.adminSocketPath) == Data("keep".utf8))
        try FileManager.default.removeItem(atPath: configuration.adminSocketPath)

        let node = try await RunningNode(configuration)
        var info = stat()
        #expect(stat(configuration.adminSocketPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
        #expect(info.st_gid == gid)
        // A second daemon on the same socket is refused instead of taking it over.
        #expect(throws: ConfigurationError.self) { try AdminSocket.prepare(path: configuration.adminSocketPath) }
        await node.stop()

        // At exit a daemon removes its own socket, never one that replaced it at the same path (a
        // daemon started after this one's listener had gone).
        let path = configuration.adminSocketPath
        let moved = path + ".ours"
        #expect(rename(path, moved) == 0)
        #expect(FileManager.default.createFile(atPath: path, contents: Data("another daemon's".utf8)))
        node.node.removeAdminSocket()
        #expect(FileManager.default.contents(atPath: path) == Data("another daemon's".utf8))
        try FileManager.default.removeItem(atPath: path)
        #expect(rename(moved, path) == 0)
        node.node.removeAdminSocket()
        #expect(!FileManager.default.fileExists(atPath: path), "its own socket is removed")

        var missing = configuration
        missing.adminGroup = "no-such-group-parley"
        #expect(missing.checkResources().map(\.key) == ["admin.group"])
    }
}
