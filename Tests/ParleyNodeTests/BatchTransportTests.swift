import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import ParleyCodec
import ParleyCrypto
@testable import ParleyNode
import ParleyProtocol
import ParleyStore
import Synchronization
import Testing
import ParleyTestSupport

/// `POST /v1/messages/batch` (SPEC.md §12.8) against real nodes over mutual TLS.
@Suite(.serialized) struct BatchTransportTests {
    static let us = try! ParticipantID("US-NRRC")
    static let ru = try! ParticipantID("RU-NRRC")
    static let hcoc = try! ParticipantID("HCOC-CC")

    static func sent(_ bytes: [UInt8]) throws -> SentMessage {
        let envelope = try Envelope(decoding: try COSESign1(decoding: bytes).payload)
        return SentMessage(
            id: envelope.id,
            digest: Digest.sha256(bytes),
            sender: envelope.sender,
            created: envelope.created,
            recipients: envelope.recipients.map(\.participant)
        )
    }

    @Test func eachMessageOfABatchIsAnsweredInOrderAsIfPostedAlone() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let ruPort = try freePort()
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory)
        )
        let usConfiguration = try pki.nodeConfiguration("US-NRRC", port: 0, peers: [:], directory: directory)
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
        try await withHTTPClient(
            configuration: .init(tlsConfiguration: try DeliveryService.tlsClientConfiguration(usConfiguration))
        ) { client in
            let url = "https://127.0.0.1:\(ruPort)/v1/messages/batch"
            let first = try message(seq: 1)
            let third = try message(seq: 3)
            let second = try message(seq: 2)
            var tampered = try COSESign1(decoding: try message(seq: 4))
            tampered.signature[0] ^= 0x01
            let garbage = Array("not cbor".utf8)
            // Out of channel order on purpose, with a tampered message, garbage and a duplicate inside.
            let batch = [third, first, tampered.encoded, garbage, second, first]
            let (status, body, type) = try await post(
                client,
                url,
                MessageBatch(batch).encoded,
                contentType: MessageBatch.mediaType
            )
            #expect(status == 200)
            #expect(type == BatchAnswer.mediaType)
            let answer = try BatchAnswer(decoding: body, expectedCount: batch.count)
            func receipt(_ index: Int) throws -> Receipt {
                guard case .receipt(let bytes) = answer.items[index] else {
                    throw ProtocolError(.malformed, "item \(index) is not a receipt")
                }
                return try ru.node.verifier.verifyReceipt(
                    bytes,
                    at: .now,
                    for: try Self.sent(batch[index]),
                    from: Self.ru
                ).receipt
            }
            // The two copies of `first` are processed concurrently: one accepted, one duplicate.
            #expect(Set([try receipt(1).status, try receipt(5).status]) == [.accepted, .duplicate])
            #expect(try receipt(0).status == .accepted)
            #expect(try receipt(4).status == .accepted)
            guard case .rejected(let code, _) = try receipt(2).status else {
                Issue.record("the tampered message was not rejected")
                return
            }
            #expect(code == .badSignature)
            guard case .problem(let problem) = answer.items[3] else {
                Issue.record("garbage was not answered with a problem")
                return
            }
            #expect(problem.status == 400 && problem.name == "malformed" && problem.parleyCode == 1)

            // Exactly the three good messages are stored, in channel order, with no gap left.
            let inbox = try await ru.node.store.inbox(InboxQuery(sender: "US-NRRC"))
            #expect(
                Set(inbox.map(\.fields.id.bytes)) == Set([first, second, third].map { try! Self.sent($0).id.bytes })
            )
            #expect(try await ru.node.store.gaps().isEmpty)

            // Request-level refusals: answered once for the whole batch, nothing processed.
            var encodedEmpty = CBORWriter()
            encodedEmpty.writeArrayHeader(0)
            let (empty, emptyBody, _) = try await post(
                client,
                url,
                encodedEmpty.bytes,
                contentType: MessageBatch.mediaType
            )
            #expect(empty == 400 && String(decoding: emptyBody, as: UTF8.self).contains("empty"))
            let tooMany = MessageBatch(Array(repeating: [0xA0], count: MessageBatch.maximumCount + 1)).encoded
            #expect(try await post(client, url, tooMany, contentType: MessageBatch.mediaType).0 == 413)
            // Not deterministic: an indefinite-length array.
            let indefinite: [UInt8] = [0x9F, 0x41, 0x00, 0xFF]
            #expect(try await post(client, url, indefinite, contentType: MessageBatch.mediaType).0 == 400)
            #expect(try await post(client, url, [0xA0], contentType: MessageBatch.mediaType).0 == 400)
            #expect(
                try await post(client, url, MessageBatch([first]).encoded, contentType: PeerServer.coseMediaType).0
                    == 415
            )
            let oversized = [UInt8](repeating: 0, count: MessageBatch.maximumSize + 1)
            #expect(try await post(client, url, oversized, contentType: MessageBatch.mediaType).0 == 413)
            let (method, _) = try await get(client, url)
            #expect(method == 405)
            #expect(try await ru.node.store.inbox(InboxQuery(sender: "US-NRRC")).count == 3)
        }
        await ru.stop()
    }

    /// SPEC.md §9.1 step 5 comes before verification, also in a batch (whose stored digests are read
    /// together): a message already accepted is answered as a duplicate even when verifying it again
    /// would now fail, here because the receive time lies an hour before its `created`, while a new
    /// message of the same batch is verified at that time and fails.
    @Test func aBatchAnswersStoredMessagesAsDuplicatesBeforeVerifyingThem() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: try freePort(), peers: [:], directory: directory)
        )
        let usConfiguration = try pki.nodeConfiguration("US-NRRC", port: 0, peers: [:], directory: directory)
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
        let receiver = MessageReceiver(
            identity: ru.node.identity,
            verifier: ru.node.verifier,
            store: ru.node.store,
            logger: testLogger("test.receiver")
        )
        let (first, second, third) = (try message(seq: 1), try message(seq: 2), try message(seq: 3))
        func status(_ answer: MessageReceiver.Answer, _ bytes: [UInt8]) throws -> Receipt.Status? {
            guard case .receipt(let receipt, _, _, _) = answer else { return nil }
            return try ru.node.verifier.verifyReceipt(receipt, at: .now, for: try Self.sent(bytes), from: Self.ru)
                .receipt.status
        }
        let accepted = await receiver.receiveBatch([first, second], at: .now, peer: Self.us)
        #expect(try status(accepted[0], first) == .accepted && status(accepted[1], second) == .accepted)

        let anHourEarly = UTCTime(secondsSince1970: UTCTime.now.secondsSince1970 - 3_600)
        let again = await receiver.receiveBatch([second, third, first], at: anHourEarly, peer: Self.us)
        #expect(try status(again[0], second) == .duplicate)
        #expect(try status(again[2], first) == .duplicate)
        // The new message is verified at that time, and fails: clock skew, or (the test PKI being
        // younger than an hour) its certificates not yet valid, which SPEC §8.5 checks before the
        // CRLs' availability.
        let verifiedAndFailed: Bool
        switch again[1] {
        case .receipt:
            if case .rejected(let code, _)? = try status(again[1], third) {
                verifiedAndFailed = [.clockSkew, .certificateNotValidAtTime].contains(code)
            } else {
                verifiedAndFailed = false
            }
        case .problem(let problem): verifiedAndFailed = problem.name == "revocation-unavailable"
        }
        #expect(verifiedAndFailed, "\(again[1])")
        #expect(try await ru.node.store.inbox(InboxQuery(sender: "US-NRRC")).count == 2)
        await ru.stop()
    }

    @Test func aHubForwardsABatchUnchangedAndRefusesOneWithAnotherSendersMessage() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let (ruPort, hubPort) = (try freePort(), try freePort())
        var hubConfiguration = try pki.nodeConfiguration(
            "HCOC-CC",
            port: hubPort,
            peers: ["RU-NRRC": ruPort],
            directory: directory
        )
        hubConfiguration.hub = true
        var ruConfiguration = try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory)
        ruConfiguration.acceptForwardedFrom = [Self.hcoc]
        let hub = try await RunningNode(hubConfiguration)
        let ru = try await RunningNode(ruConfiguration)
        let usConfiguration = try pki.nodeConfiguration("US-NRRC", port: 0, peers: [:], directory: directory)
        let us = try SigningIdentity.load(
            keyPath: usConfiguration.signingKeyPath,
            chainPath: usConfiguration.signingChainPath
        )
        let hubIdentity = try SigningIdentity.load(
            keyPath: hubConfiguration.signingKeyPath,
            chainPath: hubConfiguration.signingChainPath
        )
        func message(_ identity: SigningIdentity, seq: UInt64) throws -> [UInt8] {
            try identity.sign(
                Envelope(
                    id: .generate(),
                    sender: identity.participantID,
                    recipients: [Recipient(participant: Self.ru, sequence: seq)],
                    created: .now,
                    body: preLaunchBody()
                )
            )
        }
        try await withHTTPClient(
            configuration: .init(tlsConfiguration: try DeliveryService.tlsClientConfiguration(usConfiguration))
        ) { client in
            let url = "https://127.0.0.1:\(hubPort)/v1/messages/batch"
            let batch = [try message(us, seq: 1), try message(us, seq: 2)]
            let (status, body, _) = try await post(
                client,
                url,
                MessageBatch(batch).encoded,
                contentType: MessageBatch.mediaType,
                headers: [("Parley-Recipient", "RU-NRRC")]
            )
            #expect(status == 200)
            let answer = try BatchAnswer(decoding: body, expectedCount: 2)
            for (index, item) in answer.items.enumerated() {
                guard case .receipt(let bytes) = item else {
                    Issue.record("item \(index) is not a receipt")
                    continue
                }
                // RU's own receipt, relayed unchanged: it verifies as RU's.
                #expect(
                    try ru.node.verifier.verifyReceipt(bytes, at: .now, for: try Self.sent(batch[index]), from: Self.ru)
                        .receipt.status == .accepted
                )
            }
            // A batch carrying a message of another sender than the TLS peer is refused whole.
            let mixed = [try message(us, seq: 3), try message(hubIdentity, seq: 1)]
            let (forbidden, problem, _) = try await post(
                client,
                url,
                MessageBatch(mixed).encoded,
                contentType: MessageBatch.mediaType,
                headers: [("Parley-Recipient", "RU-NRRC")]
            )
            #expect(forbidden == 403 && String(decoding: problem, as: UTF8.self).contains("forbidden-peer"))
            #expect(try await ru.node.store.inbox(InboxQuery()).count == 2)
            #expect(try await hub.node.store.inbox(InboxQuery()).isEmpty)
        }
        await hub.stop()
        await ru.stop()
    }

    /// A peer without the batch endpoint (it predates SPEC.md §12.8): the first batch is answered 404,
    /// and everything is delivered one message per request, once each, in channel order.
    @Test func aPeerWithoutTheBatchEndpointGetsOneMessagePerRequest() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let (usPort, ruPort) = (try freePort(), try freePort())
        let ruConfiguration = try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory)
        let trust = TrustStoreReference(
            try TrustStore.load(
                anchorsPath: ruConfiguration.signingTrust.anchors,
                crlPaths: ruConfiguration.signingTrust.crls
            )
        )
        let store = try ParleyStore(path: directory.appendingPathComponent("legacy-ru.sqlite").path)
        let quiet = testLogger("legacy-ru")
        let receiver = MessageReceiver(
            identity: try SigningIdentity.load(
                keyPath: ruConfiguration.signingKeyPath,
                chainPath: ruConfiguration.signingChainPath
            ),
            verifier: MessageVerifier(trust: trust),
            store: store,
            logger: quiet
        )
        // The peer interface as it was before batches: POST /v1/messages only.
        let router = Router(context: PeerRequestContext.self)
        let singleRequests = Counter()
        router.post("/v1/messages") { request, _ -> Response in
            singleRequests.increment()
            let body = try await request.body.collect(upTo: MessageVerifier.maximumSize)
            switch await receiver.receive(Array(buffer: body), at: .now, peer: nil) {
            case .receipt(let receipt, _, _, _):
                var headers = HTTPFields()
                headers[.contentType] = PeerServer.coseMediaType
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: receipt)))
            case .problem(let problem):
                return PeerServer.problemResponse(problem)
            }
        }
        let tls = try PeerServer.tlsConfiguration(
            keyPath: ruConfiguration.tlsKeyPath,
            chainPath: ruConfiguration.tlsChainPath,
            transportTrust: trust,
            logger: quiet
        )
        let listening = Counter()
        let legacy = Application(
            router: router,
            server: try .tls(.http1(), configuration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: ruPort)),
            onServerRunning: { _ in listening.increment() },
            logger: quiet
        )
        let server = Task { try await legacy.runService() }
        try await waitUntil("the legacy peer listening") { listening.value > 0 }

        var usConfiguration = try pki.nodeConfiguration(
            "US-NRRC",
            port: usPort,
            peers: ["RU-NRRC": ruPort],
            directory: directory
        )
        usConfiguration.limits.deliveryWindow = 8
        usConfiguration.limits.deliveryBatch = 4
        let log = LogCapture()
        let us = try await RunningNode(usConfiguration, logs: log)
        let draft = try Composition(
            json: try JSONSerialization.data(withJSONObject: preLaunchComposition(recipients: ["RU-NRRC"]))
        )
        let queued = try await withThrowingTaskGroup(of: QueuedMessage.self) { group in
            for _ in 0..<12 { group.addTask { try await us.node.submit(draft) } }
            return try await group.reduce(into: [QueuedMessage]()) { $0.append($1) }
        }
        try await waitUntil("all delivered") {
            for item in queued
            where try await us.node.store.delivery(item.id, recipient: "RU-NRRC".pid)?.state != .delivered {
                return false
            }
            return true
        }
        #expect(
            log.lines.contains { $0.contains("RU-NRRC has no batch endpoint (HTTP 404)") },
            "\(log.lines.suffix(5))"
        )
        let inbox = try await store.inbox(InboxQuery(sender: "US-NRRC"))
        #expect(inbox.count == 12)
        #expect(Set(inbox.map(\.fields.id)) == Set(queued.map(\.id)))
        #expect(try await store.gaps().isEmpty)
        #expect(singleRequests.value >= 12)
        await us.stop()
        server.cancel()
        _ = try? await server.value
    }
}

/// A thread-safe count.
final class Counter: Sendable {
    private let storage = Mutex(0)
    var value: Int { storage.withLock { $0 } }
    func increment() { storage.withLock { $0 += 1 } }
}
