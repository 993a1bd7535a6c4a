import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import ParleyCodec
import ParleyCrypto
@testable import ParleyNode
import ParleyProtocol
import ParleyStore
import Testing
import ParleyTestSupport

/// Real nodes in this process: mutual TLS on loopback ports, SQLite stores in temporary directories.
@Suite(.serialized) struct IntegrationTests {
    static let us = try! ParticipantID("US-NRRC")
    static let ru = try! ParticipantID("RU-NRRC")
    static let hcoc = try! ParticipantID("HCOC-CC")

    /// Submits through the admin API on the Unix socket and returns the message id.
    func submitThroughAdmin(_ node: Node, recipients: [String]) async throws -> MessageID {
        let draft = preLaunchComposition(recipients: recipients)
        let url = URL(httpURLWithSocketPath: node.configuration.adminSocketPath, uri: "/v1/drafts")!
        let (status, body, _) = try await withHTTPClient { client in
            try await post(
                client,
                url.absoluteString,
                Array(try JSONSerialization.data(withJSONObject: draft)),
                contentType: "application/json"
            )
        }
        #expect(status == 201, "admin answered \(String(decoding: body, as: UTF8.self))")
        let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return try MessageID(hex: try #require(object?["id"] as? String))
    }

    func deliveries(_ node: Node, _ id: MessageID) async throws -> [DeliveryRecord] {
        try await node.store.message(id)?.deliveries ?? []
    }

    @Test func preLaunchReachesTwoPeersAndBothReceiptsVerify() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let (usPort, ruPort, hcocPort) = (try freePort(), try freePort(), try freePort())
        var usConfiguration = try pki.nodeConfiguration(
            "US-NRRC",
            port: usPort,
            peers: ["RU-NRRC": ruPort, "HCOC-CC": hcocPort],
            directory: directory
        )
        usConfiguration.metricsPort = 0
        let us = try await RunningNode(usConfiguration)
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: ["US-NRRC": usPort], directory: directory)
        )
        let hcoc = try await RunningNode(
            try pki.nodeConfiguration("HCOC-CC", port: hcocPort, peers: ["US-NRRC": usPort], directory: directory)
        )

        let id = try await submitThroughAdmin(us.node, recipients: ["RU-NRRC", "HCOC-CC"])
        try await waitUntil("both receipts") {
            let records = try await deliveries(us.node, id)
            return records.allSatisfy { $0.state == .delivered } && records.count == 2
        }

        // Re-verify, independently of the daemon, each stored receipt against the exact bytes sent.
        let record = try #require(try await us.node.store.message(id))
        let bytes = Array(record.message.fields.bytes)
        let envelope = try Envelope(decoding: try COSESign1(decoding: bytes).payload)
        let sent = SentMessage(
            id: id,
            digest: Digest.sha256(bytes),
            sender: Self.us,
            created: envelope.created,
            recipients: envelope.recipients.map(\.participant)
        )
        let receipts = record.receipts.filter { $0.direction == .received }
        #expect(Set(receipts.map(\.signer)) == ["RU-NRRC", "HCOC-CC"])
        for receipt in receipts {
            let verified = try us.node.verifier.verifyReceipt(
                Array(receipt.bytes),
                at: .now,
                for: sent,
                from: try ParticipantID(receipt.signer)
            )
            #expect(verified.receipt.status == .accepted)
        }
        // Each recipient holds exactly these bytes, once, with its sequence number 1.
        for peer in [ru, hcoc] {
            let inbox = try await peer.node.store.inbox(InboxQuery())
            #expect(inbox.map(\.fields.id) == [id])
            #expect(inbox.first?.digest == record.message.digest)
            #expect(inbox.first?.inboxSequenceNumber == 1)
        }
        // Metrics: two accepted receipts with their latencies; each recipient counted one received message.
        try await waitUntil("the metrics listener") { us.node.metricsPort != nil }
        let metricsURL = "http://127.0.0.1:\(us.node.metricsPort!)/metrics"
        let (metricsStatus, metricsBody) = try await withHTTPClient { scraper in try await get(scraper, metricsURL) }
        let exposition = String(decoding: metricsBody, as: UTF8.self)
        #expect(metricsStatus == 200)
        #expect(exposition.contains("parley_messages_sent_total{status=\"accepted\"} 2\n"), "\(exposition)")
        #expect(exposition.contains("parley_delivery_latency_seconds_count 2\n"))
        #expect(exposition.contains("parley_oldest_undelivered_age_seconds 0.0\n"))
        #expect(exposition.contains("# HELP parley_queue_depth Deliveries not yet settled, per peer.\n"))
        for peer in ["RU-NRRC", "HCOC-CC"] {
            #expect(exposition.contains("parley_queue_depth{peer=\"\(peer)\"} 0.0\n"), "\(exposition)")
        }
        #expect(exposition.contains("parley_certificate_expiry_days{certificate=\"signing\"}"))
        #expect(await ru.node.metricsText().contains("parley_messages_received_total 1\n"))

        // The admin API lists and shows it.
        try await withHTTPClient { admin in
            let socket = us.node.configuration.adminSocketPath
            let (outboxStatus, outboxBody) = try await get(
                admin,
                URL(httpURLWithSocketPath: socket, uri: "/v1/outbox?state=delivered")!.absoluteString
            )
            #expect(outboxStatus == 200)
            let outbox = try JSONSerialization.jsonObject(with: Data(outboxBody)) as? [String: Any]
            let listed = (outbox?["deliveries"] as? [[String: Any]]) ?? []
            #expect(Set(listed.compactMap { $0["recipient"] as? String }) == ["RU-NRRC", "HCOC-CC"])
            #expect(listed.allSatisfy { $0["id"] as? String == id.hex })
            let (showStatus, showBody) = try await get(
                admin,
                URL(httpURLWithSocketPath: socket, uri: "/v1/messages/\(id.hex)")!.absoluteString
            )
            #expect(showStatus == 200)
            let shown = try JSONSerialization.jsonObject(with: Data(showBody)) as? [String: Any]
            #expect((shown?["receipts"] as? [[String: Any]])?.count == 2)
            let (missing, _) = try await get(
                admin,
                URL(httpURLWithSocketPath: socket, uri: "/v1/messages/\(MessageID.generate().hex)")!.absoluteString
            )
            #expect(missing == 404)
            let (inboxStatus, inboxBody) = try await get(
                admin,
                URL(httpURLWithSocketPath: ru.node.configuration.adminSocketPath, uri: "/v1/inbox")!.absoluteString
            )
            #expect(inboxStatus == 200)
            #expect(String(decoding: inboxBody, as: UTF8.self).contains(id.hex))
        }
        await us.stop()
        await ru.stop()
        await hcoc.stop()
    }

    @Test func invalidDraftIsRefusedWithTheField() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let us = try await RunningNode(
            try pki.nodeConfiguration("US-NRRC", port: try freePort(), peers: ["RU-NRRC": 1], directory: directory)
        )
        // Wrong: the window opens in less than 24 hours, so the notification is late.
        let draft = preLaunchComposition(recipients: ["RU-NRRC"], opensIn: 3_600, late: false)
        try await withHTTPClient { admin in
            let url = URL(httpURLWithSocketPath: us.node.configuration.adminSocketPath, uri: "/v1/drafts")!
                .absoluteString
            let (status, body, type) = try await post(
                admin,
                url,
                Array(try JSONSerialization.data(withJSONObject: draft)),
                contentType: "application/json"
            )
            #expect(status == 400)
            #expect(type == Problem.mediaType)
            #expect(String(decoding: body, as: UTF8.self).contains("body.late"))
            // Wrong: a recipient that is not a peer of this node (nobody could deliver it).
            let stray = preLaunchComposition(recipients: ["RU-NRRC", "JP-METI"])
            let (strayStatus, strayBody, _) = try await post(
                admin,
                url,
                Array(try JSONSerialization.data(withJSONObject: stray)),
                contentType: "application/json"
            )
            #expect(strayStatus == 400)
            #expect(
                String(decoding: strayBody, as: UTF8.self).contains(
                    "recipients: JP-METI is not a peer of this node (its peers: RU-NRRC)"
                ),
                "\(String(decoding: strayBody, as: UTF8.self))"
            )
            #expect(try await us.node.store.outbox(OutboxQuery()).isEmpty)
            #expect(try await us.node.store.outgoingChannels().isEmpty)
        }
        await us.stop()
    }

    @Test func queuedMessagesSurviveARestartAndAreDeliveredOnce() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let (usPort, ruPort) = (try freePort(), try freePort())
        let usConfiguration = try pki.nodeConfiguration(
            "US-NRRC",
            port: usPort,
            peers: ["RU-NRRC": ruPort],
            directory: directory
        )
        let before = try await RunningNode(usConfiguration)
        let first = try await submitThroughAdmin(before.node, recipients: ["RU-NRRC"])
        let second = try await submitThroughAdmin(before.node, recipients: ["RU-NRRC"])
        try await waitUntil("a failed attempt") { try await deliveries(before.node, first).first?.lastError != nil }
        await before.stop()

        let us = try await RunningNode(usConfiguration)
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: ["US-NRRC": usPort], directory: directory)
        )
        try await waitUntil("delivery after the restart") {
            let (one, two) = (try await deliveries(us.node, first), try await deliveries(us.node, second))
            return one.first?.state == .delivered && two.first?.state == .delivered
        }
        let third = try await submitThroughAdmin(us.node, recipients: ["RU-NRRC"])
        try await waitUntil("the third message") { try await deliveries(us.node, third).first?.state == .delivered }
        let inbox = try await ru.node.store.inbox(InboxQuery())
        #expect(inbox.count == 3)
        #expect(
            inbox.sorted { $0.inboxSequenceNumber! < $1.inboxSequenceNumber! }.map(\.fields.id) == [
                first, second, third,
            ]
        )
        await us.stop()
        await ru.stop()
    }

    @Test func undeliverableMessageExpiresAfterTheGiveUpAge() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        var configuration = try pki.nodeConfiguration(
            "US-NRRC",
            port: try freePort(),
            peers: ["RU-NRRC": try freePort()],
            directory: directory
        )
        // Expiry comes after the first attempt has failed (the request timeout bounds it), so the
        // expiry note can carry that attempt's error however busy the machine is.
        configuration.retry.giveUpAfter = 3
        configuration.limits.requestTimeout = 1
        let logs = LogCapture()
        let us = try await RunningNode(configuration, logs: logs)
        let id = try await submitThroughAdmin(us.node, recipients: ["RU-NRRC"])
        try await waitUntil("expiry") { try await deliveries(us.node, id).first?.state == .expired }
        try await Task.sleep(for: .seconds(1.5))
        let expired = try #require(try await deliveries(us.node, id).first)
        #expect(expired.state == .expired)
        // The operator learns which message, for whom, and why it never got through.
        #expect(
            expired.lastError?.hasPrefix("expired: no receipt in time; last error: transport:") == true,
            "\(expired.lastError ?? "")"
        )
        #expect(
            logs.lines.contains {
                $0.hasPrefix("error delivery EXPIRED: no receipt from RU-NRRC") && $0.contains("last error: transport:")
            },
            "\(logs.lines)"
        )
        await us.stop()
    }

    @Test func hubForwardsUnchangedAndTheRecipientsReceiptComesBack() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let (usPort, ruPort, hubPort) = (try freePort(), try freePort(), try freePort())
        var usConfiguration = try pki.nodeConfiguration(
            "US-NRRC",
            port: usPort,
            peers: ["HCOC-CC": hubPort],
            directory: directory
        )
        usConfiguration.peers.append(.init(id: Self.ru, url: usConfiguration.peers[0].url, via: Self.hcoc))
        var hubConfiguration = try pki.nodeConfiguration(
            "HCOC-CC",
            port: hubPort,
            peers: ["RU-NRRC": ruPort, "US-NRRC": usPort],
            directory: directory
        )
        hubConfiguration.hub = true
        var ruConfiguration = try pki.nodeConfiguration(
            "RU-NRRC",
            port: ruPort,
            peers: ["US-NRRC": usPort],
            directory: directory
        )
        ruConfiguration.acceptForwardedFrom = [Self.hcoc]
        let hub = try await RunningNode(hubConfiguration)
        let ruLogs = LogCapture()
        let ru = try await RunningNode(ruConfiguration, logs: ruLogs)
        let us = try await RunningNode(usConfiguration)

        let id = try await submitThroughAdmin(us.node, recipients: ["RU-NRRC", "HCOC-CC"])
        try await waitUntil("both receipts, one via the hub") {
            let records = try await deliveries(us.node, id)
            return records.count == 2 && records.allSatisfy { $0.state == .delivered }
        }
        let record = try #require(try await us.node.store.message(id))
        // RU holds exactly the bytes US signed; the hub kept no copy in its inbox except its own.
        #expect(try await ru.node.store.inbox(InboxQuery()).map(\.digest) == [record.message.digest])
        #expect(try await hub.node.store.inbox(InboxQuery()).map(\.digest) == [record.message.digest])
        let ruReceipt = try #require(record.receipts.first { $0.direction == .received && $0.signer == "RU-NRRC" })
        let bytes = Array(record.message.fields.bytes)
        let envelope = try Envelope(decoding: try COSESign1(decoding: bytes).payload)
        let sent = SentMessage(
            id: id,
            digest: Digest.sha256(bytes),
            sender: Self.us,
            created: envelope.created,
            recipients: envelope.recipients.map(\.participant)
        )
        #expect(
            try us.node.verifier.verifyReceipt(Array(ruReceipt.bytes), at: .now, for: sent, from: Self.ru).receipt
                .status == .accepted
        )
        // RU logs the message under its sender, with the hub that forwarded it.
        #expect(
            ruLogs.linesWithMetadata.contains {
                $0.hasPrefix("info accepted") && $0.contains("peer=US-NRRC") && $0.contains("via=HCOC-CC")
            },
            "\(ruLogs.linesWithMetadata)"
        )

        // RU down: the hub stores nothing it forwards, but its status shows the failing forwarding
        // and when US last reached it.
        await ru.stop()
        _ = try await submitThroughAdmin(us.node, recipients: ["RU-NRRC"])
        var hubPeers: [AdminAPI.Peer] = []
        let deadline = ContinuousClock.now + .seconds(90)
        repeat {
            hubPeers = try await PeerRoutes(node: hub.node).peers()
            if hubPeers.contains(where: { $0.id == "RU-NRRC" && $0.forwardError != nil }) { break }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        let ruRow = try #require(
            hubPeers.first { $0.id == "RU-NRRC" && $0.forwardError != nil },
            "a failed forwarding: \(hubPeers)"
        )
        #expect(ruRow.forwardError?.hasPrefix("connection refused") == true, "\(ruRow)")
        #expect(hubPeers.first { $0.id == "US-NRRC" }?.lastContact != nil, "\(hubPeers)")

        // Without acceptForwardedFrom, RU refuses the hub's forwarding: 403 relayed unchanged.
        var strictRU = ruConfiguration
        strictRU.acceptForwardedFrom = []
        strictRU.dataDirectory = directory.appendingPathComponent("RU-strict").path
        try FileManager.default.createDirectory(atPath: strictRU.dataDirectory, withIntermediateDirectories: true)
        strictRU.adminSocketPath = directory.appendingPathComponent("ru-strict.sock").path
        let strict = try await RunningNode(strictRU)
        try await withHTTPClient(
            configuration: .init(tlsConfiguration: try DeliveryService.tlsClientConfiguration(usConfiguration))
        ) { client in
            var request = HTTPClientRequest(url: "https://127.0.0.1:\(hubPort)/v1/messages")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: PeerServer.coseMediaType)
            request.headers.add(name: "Parley-Recipient", value: "RU-NRRC")
            request.body = .bytes(ByteBuffer(bytes: bytes))
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 16)
            #expect(response.status.code == 403)
            #expect(String(buffer: body).contains("forbidden-peer"))
            // A Parley-Recipient the node does not forward to: 421.
            request.headers.replaceOrAdd(name: "Parley-Recipient", value: "XX-NOBODY")
            request.url = "https://127.0.0.1:\(ruPort)/v1/messages"
            let misdirected = try await client.execute(request, timeout: .seconds(10))
            #expect(misdirected.status.code == 421)
        }
        await us.stop()
        await hub.stop()
        await strict.stop()
    }

    @Test func peerDownThenStartedGetsEverythingOnceInOrder() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let (usPort, ruPort) = (try freePort(), try freePort())
        let us = try await RunningNode(
            try pki.nodeConfiguration("US-NRRC", port: usPort, peers: ["RU-NRRC": ruPort], directory: directory)
        )
        let first = try await submitThroughAdmin(us.node, recipients: ["RU-NRRC"])
        let second = try await submitThroughAdmin(us.node, recipients: ["RU-NRRC"])
        // With several requests in flight per peer (SPEC.md §12.4), the second may still be in its own
        // failing attempt when the first's failure is recorded: wait until both are back to pending.
        try await waitUntil("a failed attempt, both pending") {
            let (one, two) = (try await deliveries(us.node, first), try await deliveries(us.node, second))
            return one.first?.lastError != nil && two.first?.state == .pending
        }
        #expect(try await deliveries(us.node, first).first?.state == .pending)
        #expect(try await deliveries(us.node, second).first?.state == .pending)

        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: ["US-NRRC": usPort], directory: directory)
        )
        try await waitUntil("delivery after the peer came up") {
            let (one, two) = (try await deliveries(us.node, first), try await deliveries(us.node, second))
            return one.first?.state == .delivered && two.first?.state == .delivered
        }
        let inbox = try await ru.node.store.inbox(InboxQuery())
        #expect(inbox.count == 2)
        #expect(Set(inbox.map(\.fields.id)) == [first, second])
        #expect(inbox.sorted { $0.inboxSequenceNumber! < $1.inboxSequenceNumber! }.map(\.fields.id) == [first, second])
        #expect(try await ru.node.store.gaps().isEmpty)
        await us.stop()
        await ru.stop()
    }

    /// A backlog queued while the peer is down goes in channel order once the peer is back: the first
    /// pending message's retry time decides for the messages behind it (SPEC.md §12.4), instead of
    /// each message going when its own jittered retry time comes (which sent the newest first and
    /// spread the oldest over a whole backoff interval). The messages queued together therefore
    /// keep being attempted together: each is delivered on the same attempt.
    @Test func aBacklogGoesTogetherInChannelOrderWhenThePeerComesBack() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let (usPort, ruPort) = (try freePort(), try freePort())
        var configuration = try pki.nodeConfiguration(
            "US-NRRC",
            port: usPort,
            peers: ["RU-NRRC": ruPort],
            directory: directory
        )
        configuration.retry.initialInterval = 0.3
        configuration.retry.maximumInterval = 2
        let logs = LogCapture()
        let us = try await RunningNode(configuration, logs: logs)
        let url = URL(httpURLWithSocketPath: configuration.adminSocketPath, uri: "/v1/drafts")!.absoluteString
        let drafts = Array(repeating: preLaunchComposition(recipients: ["RU-NRRC"]), count: 20)
        let (status, body, _) = try await withHTTPClient {
            try await post(
                $0,
                url,
                Array(try JSONSerialization.data(withJSONObject: drafts)),
                contentType: "application/json"
            )
        }
        #expect(status == 201, "\(String(decoding: body, as: UTF8.self))")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        let ids = try (answer["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }.map {
            try MessageID(hex: $0)
        }
        #expect(ids.count == 20)
        // Six failed attempts each: retry times 0.3, 0.6, 1.2, then 2 s, each with its own ±20 % jitter.
        try await waitUntil("six failed attempts of every message", timeout: .seconds(60)) {
            for id in ids
            where !(try await deliveries(us.node, id).allSatisfy { $0.attempts >= 6 && $0.state == .pending }) {
                return false
            }
            return true
        }
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: ["US-NRRC": usPort], directory: directory)
        )
        try await waitUntil("the backlog delivered") {
            for id in ids where try await deliveries(us.node, id).first?.state != .delivered { return false }
            return true
        }
        var attempts: [Int] = []
        for id in ids { attempts.append(try await deliveries(us.node, id).first?.attempts ?? 0) }
        #expect(Set(attempts).count == 1, "attempts per message, in channel order: \(attempts)")
        // One warning per failed request, not one per message: the operator reads the cause once.
        let failures = logs.lines.filter { $0.hasPrefix("warning") && $0.contains("delivery attempt") }
        #expect(failures.count == (attempts.first ?? 0) - 1, "\(failures)")
        #expect(
            failures.allSatisfy {
                $0.contains("and 19 more messages of this request")
                    && $0.contains("connection refused: nothing listens")
            },
            "\(failures)"
        )
        let inbox = try await ru.node.store.inbox(InboxQuery())
        #expect(inbox.count == 20)
        #expect(try await ru.node.store.gaps().isEmpty)
        await us.stop()
        await ru.stop()
    }

    /// A peer that is back and sends us something is up: the deliveries waiting for the end of
    /// a long backoff go at once, and the log says the peer answers again.
    @Test func aPeerThatReachesUsGetsItsWaitingDeliveriesAtOnce() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let (usPort, ruPort) = (try freePort(), try freePort())
        var configuration = try pki.nodeConfiguration(
            "US-NRRC",
            port: usPort,
            peers: ["RU-NRRC": ruPort],
            directory: directory
        )
        configuration.retry.initialInterval = 600
        configuration.retry.maximumInterval = 600
        let logs = LogCapture()
        let us = try await RunningNode(configuration, logs: logs)
        let id = try await submitThroughAdmin(us.node, recipients: ["RU-NRRC"])
        try await waitUntil("a failed attempt") {
            try await deliveries(us.node, id).first.map { $0.state == .pending && $0.attempts == 1 } ?? false
        }
        #expect(
            try await deliveries(us.node, id).first.map { $0.nextAttempt.timeIntervalSinceNow > 400 } == true,
            "backing off for about 600 s"
        )

        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: ["US-NRRC": usPort], directory: directory)
        )
        _ = try await submitThroughAdmin(ru.node, recipients: ["US-NRRC"])
        try await waitUntil("delivered long before the backoff ends", timeout: .seconds(60)) {
            try await deliveries(us.node, id).first?.state == .delivered
        }
        #expect(
            logs.lines.contains {
                $0.hasPrefix("notice RU-NRRC reached this node: its 1 waiting delivery is tried now")
            },
            "\(logs.lines)"
        )
        #expect(
            logs.lines.contains { $0.hasPrefix("notice RU-NRRC answers again, after") && $0.contains("s unreachable") },
            "\(logs.lines)"
        )
        await us.stop()
        await ru.stop()
    }

    @Test func clientWithoutCertificateIsRefusedByTLS() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let ruPort = try freePort()
        let configuration = try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory)
        let ru = try await RunningNode(configuration)
        var anonymous = TLSConfiguration.makeClientConfiguration()
        anonymous.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.path("trust/anchors.pem")))
        try await withHTTPClient(configuration: .init(tlsConfiguration: anonymous)) { noCertificate in
            await #expect(throws: (any Error).self) {
                _ = try await get(noCertificate, "https://127.0.0.1:\(ruPort)/v1/health")
            }
        }
        // The same request with US-NRRC's TLS certificate succeeds: the refusal is about the certificate.
        let usConfiguration = try pki.nodeConfiguration("US-NRRC", port: 0, peers: [:], directory: directory)
        try await withHTTPClient(
            configuration: .init(tlsConfiguration: try DeliveryService.tlsClientConfiguration(usConfiguration))
        ) { client in
            let (status, body) = try await get(client, "https://127.0.0.1:\(ruPort)/v1/health")
            #expect(status == 200)
            #expect(String(decoding: body, as: UTF8.self).contains("\"participant\":\"RU-NRRC\""))
        }
        await ru.stop()
    }

    @Test func directPostsGetAcceptedDuplicateBadSignatureReplayAndProblems() async throws {
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
            let url = "https://127.0.0.1:\(ruPort)/v1/messages"
            let identity = try SigningIdentity.load(
                keyPath: usConfiguration.signingKeyPath,
                chainPath: usConfiguration.signingChainPath
            )
            let verifier = ru.node.verifier

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
            func receipt(for bytes: [UInt8]) async throws -> Receipt {
                let (status, body, type) = try await post(client, url, bytes, contentType: PeerServer.coseMediaType)
                #expect(status == 200)
                #expect(type == PeerServer.coseMediaType)
                let envelope = try Envelope(decoding: try COSESign1(decoding: bytes).payload)
                let sent = SentMessage(
                    id: envelope.id,
                    digest: Digest.sha256(bytes),
                    sender: envelope.sender,
                    created: envelope.created,
                    recipients: envelope.recipients.map(\.participant)
                )
                return try verifier.verifyReceipt(body, at: .now, for: sent, from: Self.ru).receipt
            }

            let original = try message(seq: 1)
            #expect(try await receipt(for: original).status == .accepted)
            #expect(try await receipt(for: original).status == .duplicate)

            var tampered = try COSESign1(decoding: try message(seq: 2))
            tampered.signature[tampered.signature.count / 2] ^= 0x01
            guard case .rejected(let code, _) = try await receipt(for: tampered.encoded).status else {
                Issue.record("a tampered message was not rejected")
                return
            }
            #expect(code == .badSignature)

            guard case .rejected(let replayCode, _) = try await receipt(for: try message(seq: 1)).status else {
                Issue.record("a replayed sequence number was not rejected")
                return
            }
            #expect(replayCode == .replay)

            // Same id as the accepted message, other bytes: equivocation (after full verification).
            let originalEnvelope = try Envelope(decoding: try COSESign1(decoding: original).payload)
            var other = originalEnvelope
            other.recipients = [Recipient(participant: Self.ru, sequence: 3)]
            guard case .rejected(let equivocation, _) = try await receipt(for: try identity.sign(other)).status else {
                Issue.record("a second version of an accepted id was not rejected")
                return
            }
            #expect(equivocation == .equivocation)
            // The operators are told at the highest level, naming the sender and the id.
            #expect(
                logs.lines.contains {
                    $0.hasPrefix(
                        "critical EQUIVOCATION: US-NRRC sent two different messages with id \(originalEnvelope.id)"
                    )
                },
                "\(logs.lines.filter { $0.hasPrefix("critical") })"
            )
            // The log names each outcome as SPEC.md §15.7 does, never by a Swift name or a source location.
            #expect(logs.lines.contains { $0.contains("rejected: bad-signature") }, "\(logs.lines)")
            let swiftNames = [
                "badSignature", "untrustedCertificate", "certificateRevoked", "certificateNotValidAtTime",
                "participantMismatch",
                "notARecipient", "clockSkew", "revocationUnavailable", "receiptMismatch", "invalidField",
                "missingField",
                "unknownField", "unsupportedAlgorithm", "wrongContentType", "unsupportedVersion", "unknownType",
                "tooLarge",
            ]
            for line in logs.lines {
                #expect(!swiftNames.contains(where: line.contains) && !line.contains(".swift:"), "\(line)")
            }

            // Two concurrent deliveries of the same new bytes: one accepted, one duplicate.
            let concurrent = try message(seq: 4)
            async let a = receipt(for: concurrent)
            async let b = receipt(for: concurrent)
            let statuses = [try await a.status, try await b.status]
            #expect(statuses.contains(.accepted) && statuses.contains(.duplicate))

            let (status, body, type) = try await post(
                client,
                url,
                Array("not cbor".utf8),
                contentType: PeerServer.coseMediaType
            )
            #expect(status == 400)
            #expect(type == "application/problem+json")
            let problem = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
            #expect(problem?["type"] as? String == "urn:parley:problem:malformed")

            let (tooLarge, _, _) = try await post(
                client,
                url,
                [UInt8](repeating: 0, count: MessageVerifier.maximumSize + 1),
                contentType: PeerServer.coseMediaType
            )
            #expect(tooLarge == 413)
            let (wrongType, _, _) = try await post(client, url, original, contentType: "application/octet-stream")
            #expect(wrongType == 415)

            // Only the original and the concurrent message were stored.
            #expect(try await ru.node.store.inbox(InboxQuery()).count == 2)
            let exposition = await ru.node.metricsText()
            for line in [
                "parley_messages_received_total 2", "parley_duplicates_answered_total 2",
                "parley_messages_rejected_total{code=\"bad-signature\"} 1",
                "parley_messages_rejected_total{code=\"replay\"} 1",
                "parley_messages_rejected_total{code=\"equivocation\"} 1",
                "parley_http_problems_total{problem=\"too-large\"} 1",
                // the 400 and the 415
                "parley_http_problems_total{problem=\"malformed\"} 2",
            ] {
                #expect(exposition.contains(line + "\n"), "\(line) missing in\n\(exposition)")
            }
        }
        await ru.stop()
    }
}
