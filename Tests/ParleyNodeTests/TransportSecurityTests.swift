import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ParleyCodec
import ParleyCrypto
@testable import ParleyNode
import ParleyProtocol
import ParleyStore
import Testing
import ParleyTestSupport

@Suite(.serialized) struct TransportSecurityTests {
    /// An HTTP client configuration presenting `chain` and `key` (for `withHTTPClient`).
    func client(certificate chain: String, key: String, pki: TestPKI) throws -> HTTPClient.Configuration {
        .init(tlsConfiguration: try mutualTLSConfiguration(certificate: chain, key: key, pki: pki))
    }

    /// A fresh mutual-TLS connection to the node at `port`, as US-NRRC, for raw bytes.
    func rawConnection(_ pki: TestPKI, port: Int) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await rawTLSConnection(pki, port: port, as: "US-NRRC")
    }

    /// Sends the start of a request head over a fresh mutual-TLS connection as US-NRRC, then one
    /// more header byte every 0.2 s; returns how long the server kept the connection open (at most
    /// `limit`).
    func trickleHead(_ pki: TestPKI, port: Int, limit: Duration) async throws -> Duration {
        let channel = try await rawConnection(pki, port: port)
        let start = ContinuousClock.now
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "POST /v1/messages HTTP/1.1\r\nHost: ru\r\nX-Slow: "))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Ends when the server closes the connection.
                    do { for try await _ in inbound {} } catch {}
                }
                group.addTask {
                    while ContinuousClock.now - start < limit {
                        try await Task.sleep(for: .milliseconds(200))
                        try? await outbound.write(ByteBuffer(string: "a"))
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
            return ContinuousClock.now - start
        }
    }

    /// Sends `bytes` over a fresh mutual-TLS connection as US-NRRC and reads the answer: returns its
    /// head and whether the server closed the connection within `closeWithin` of a complete answer
    /// (or, when none comes, within `limit`).
    func exchange(
        _ pki: TestPKI,
        port: Int,
        bytes: [UInt8],
        closeWithin: Duration,
        limit: Duration = .seconds(20)
    ) async throws
        -> (head: String, closed: Bool)
    {
        let channel = try await rawConnection(pki, port: port)
        /// The head, once the bytes read hold a whole response (head and Content-Length bytes of body).
        @Sendable func completeHead(_ read: [UInt8]) -> String? {
            guard let end = read.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
            let head = String(decoding: read[..<end.lowerBound], as: UTF8.self)
            let length =
                head.lowercased().split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            return read.count - end.upperBound >= length ? head : nil
        }
        let read = NIOLockedValueBox<[UInt8]>([])
        let start = ContinuousClock.now
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            let closed = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    do { for try await part in inbound { read.withLockedValue { $0 += Array(buffer: part) } } } catch {}
                    return true
                }
                group.addTask {
                    var answeredAt: ContinuousClock.Instant?
                    while ContinuousClock.now - start < limit {
                        if answeredAt == nil, read.withLockedValue({ completeHead($0) }) != nil { answeredAt = .now }
                        if let answeredAt, ContinuousClock.now - answeredAt >= closeWithin { break }
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    return false
                }
                let first = await group.next()!
                group.cancelAll()
                return first
            }
            let bytes = read.withLockedValue { $0 }
            return (completeHead(bytes) ?? String(decoding: bytes, as: UTF8.self), closed)
        }
    }

    @Test func anAnswerBeforeTheBodyWasReadAnnouncesAndClosesTheConnection() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        var configuration = try pki.nodeConfiguration("RU-NRRC", port: port, peers: [:], directory: directory)
        // The idle timeout: far from the 1 s checked below, however slow the machine.
        configuration.limits.requestTimeout = 30
        let ru = try await RunningNode(configuration)
        // A body announced larger than the limit, of which only the first bytes are ever sent: the
        // 413 comes before the body is read, says that the connection closes, and closes it.
        let head =
            "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(PeerServer.coseMediaType)\r\nContent-Length: 300000\r\n\r\n"
        let (answer, closed) = try await exchange(
            pki,
            port: port,
            bytes: Array(head.utf8) + Array(repeating: 0, count: 1_000),
            closeWithin: .seconds(3)
        )
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
        #expect(answer.lowercased().contains("\r\nconnection: close"), "\(answer)")
        #expect(closed, "the connection was not closed within 3 s of the answer")
        // An answer to a whole request keeps the connection open.
        let message = try signedMessage(pki, to: "RU-NRRC")
        let whole =
            "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(PeerServer.coseMediaType)\r\nContent-Length: \(message.count)\r\n\r\n"
        let (accepted, acceptedClosed) = try await exchange(
            pki,
            port: port,
            bytes: Array(whole.utf8) + message,
            closeWithin: .seconds(1)
        )
        #expect(accepted.hasPrefix("HTTP/1.1 200"), "\(accepted)")
        #expect(!accepted.lowercased().contains("connection: close"), "\(accepted)")
        #expect(!acceptedClosed, "the connection closed within 1 s of the answer (the idle timeout is 30 s)")
        await ru.stop()
    }

    func signedMessage(_ pki: TestPKI, to recipient: String) throws -> [UInt8] {
        let identity = try SigningIdentity.load(
            keyPath: pki.path("participants/US-NRRC/signing.key"),
            chainPath: pki.path("participants/US-NRRC/signing-chain.pem")
        )
        return try identity.sign(
            Envelope(
                id: .generate(),
                sender: try ParticipantID("US-NRRC"),
                recipients: [Recipient(participant: try ParticipantID(recipient), sequence: 1)],
                created: .now,
                body: preLaunchBody()
            )
        )
    }

    @Test func revokedClientCertificateIsRefusedByTLS() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: port, peers: [:], directory: directory)
        )
        // NIOSSL alone would accept this chain (it does not read CRLs); the ParleyCrypto check refuses it.
        try await withHTTPClient(
            configuration: try client(
                certificate: pki.path("negative/revoked/tls-chain.pem"),
                key: pki.path("negative/revoked/tls.key"),
                pki: pki
            )
        ) { revoked in
            await #expect(throws: (any Error).self) {
                _ = try await get(revoked, "https://127.0.0.1:\(port)/v1/health", timeout: .seconds(2))
            }
        }
        // A signing certificate (no TLS profile) is refused as a client certificate too.
        try await withHTTPClient(
            configuration: try client(
                certificate: pki.path("participants/US-NRRC/signing-chain.pem"),
                key: pki.path("participants/US-NRRC/signing.key"),
                pki: pki
            )
        ) { wrongProfile in
            await #expect(throws: (any Error).self) {
                _ = try await get(wrongProfile, "https://127.0.0.1:\(port)/v1/health", timeout: .seconds(2))
            }
        }
        await ru.stop()
    }

    @Test func slowBodyIsCutOffAfterTheRequestTimeout() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        var configuration = try pki.nodeConfiguration("RU-NRRC", port: port, peers: [:], directory: directory)
        configuration.limits.requestTimeout = 1
        let ru = try await RunningNode(configuration)
        try await withHTTPClient(
            configuration: try client(
                certificate: pki.path("participants/US-NRRC/tls-chain.pem"),
                key: pki.path("participants/US-NRRC/tls.key"),
                pki: pki
            )
        ) { us in
            let message = try signedMessage(pki, to: "RU-NRRC")
            // Six parts 0.3 s apart: each well within the 1 s idle timeout (a loaded CI machine can
            // delay a part by several tenths of a second), the body as a whole not within the
            // request timeout; the 503 comes at the first part after 1 s, long before the
            // connection is closed at 2 s.
            let size = (message.count + 5) / 6
            let parts = stride(from: 0, to: message.count, by: size).map {
                Array(message[$0..<min($0 + size, message.count)])
            }
            let slow = AsyncStream<ByteBuffer> { continuation in
                Task {
                    for part in parts {
                        continuation.yield(ByteBuffer(bytes: part))
                        try? await Task.sleep(for: .milliseconds(300))
                    }
                    continuation.finish()
                }
            }
            var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)/v1/messages")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: PeerServer.coseMediaType)
            request.body = .stream(slow, length: .known(Int64(message.count)))
            let response = try await us.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 16)
            #expect(response.status.code == 503)
            #expect(String(buffer: body).contains("not received within"))
            #expect(try await ru.node.store.inbox(InboxQuery()).isEmpty)
            // The same bytes sent at once are accepted.
            #expect(
                try await post(
                    us,
                    "https://127.0.0.1:\(port)/v1/messages",
                    message,
                    contentType: PeerServer.coseMediaType
                ).0 == 200
            )
        }
        await ru.stop()
    }

    @Test func slowHeadIsCutOffAfterTheHeaderTimeout() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        var configuration = try pki.nodeConfiguration("RU-NRRC", port: port, peers: [:], directory: directory)
        configuration.limits.requestTimeout = 8
        configuration.limits.headerTimeout = 1
        let ru = try await RunningNode(configuration)
        // A head trickling in a byte at a time: closed after about the 1 s header timeout, long
        // before the 8 s request (idle) timeout; the trickle itself would never end.
        let open = try await trickleHead(pki, port: port, limit: .seconds(6))
        #expect(open < .seconds(4), "the connection stayed open \(open)")
        #expect(open >= .milliseconds(900))
        // A complete request on a fresh connection is answered as usual.
        try await withHTTPClient(
            configuration: try client(
                certificate: pki.path("participants/US-NRRC/tls-chain.pem"),
                key: pki.path("participants/US-NRRC/tls.key"),
                pki: pki
            )
        ) { us in
            let (status, _) = try await get(us, "https://127.0.0.1:\(port)/v1/health")
            #expect(status == 200)
        }
        await ru.stop()
    }

    /// `limits.*` apply on reload: the body limit and the concurrency limit to the next request, the
    /// header timeout to the next connection, the delivery window and batch size to the next
    /// messages sent.
    @Test func reloadedLimitsApplyToTheNextRequestAndConnection() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        let file = try ConfigurationFile(pki, "RU-NRRC", port: port, directory: directory)
        func write(limits: String) throws { try file.write([#""limits": \#(limits)"#]) }
        try write(limits: #"{"requestTimeoutSeconds": 8, "headerTimeoutSeconds": 8}"#)
        let ru = try await RunningNode(try await file.load(), configurationFile: file.path)
        let message = try signedMessage(pki, to: "RU-NRRC")
        #expect(message.count > 1_100)
        let us = try client(
            certificate: pki.path("participants/US-NRRC/tls-chain.pem"),
            key: pki.path("participants/US-NRRC/tls.key"),
            pki: pki
        )
        let accepted = try await withHTTPClient(configuration: us) { client in
            try await post(
                client,
                "https://127.0.0.1:\(port)/v1/messages",
                message,
                contentType: PeerServer.coseMediaType
            ).0
        }
        #expect(accepted == 200)
        // With the 8 s header timeout, a trickled head keeps its connection for the whole 2.5 s.
        #expect(try await trickleHead(pki, port: port, limit: .milliseconds(2500)) >= .milliseconds(2400))

        try write(
            limits:
                #"{"requestTimeoutSeconds": 8, "headerTimeoutSeconds": 1, "maximumBodyBytes": 1024, "deliveryWindow": 8, "deliveryBatch": 2}"#
        )
        let report = await ru.node.reload(environment: [:])
        #expect(
            Set(report.applied) == [
                "limits.headerTimeoutSeconds", "limits.maximumBodyBytes", "limits.deliveryWindow",
                "limits.deliveryBatch",
            ],
            "\(report.lines)"
        )
        #expect(report.restartRequired.isEmpty, "\(report.lines)")
        #expect(ru.node.delivery.policy.window == 8 && ru.node.delivery.policy.batchSize == 2)

        // The same bytes are now above the body limit: 413 before they are read.
        let (status, body, _) = try await withHTTPClient(configuration: us) { client in
            try await post(
                client,
                "https://127.0.0.1:\(port)/v1/messages",
                message,
                contentType: PeerServer.coseMediaType
            )
        }
        #expect(status == 413, "\(String(decoding: body, as: UTF8.self))")
        #expect(String(decoding: body, as: UTF8.self).contains("exceeds 1024 bytes"))
        // A new connection gets the 1 s header timeout.
        let open = try await trickleHead(pki, port: port, limit: .seconds(6))
        #expect(open < .seconds(4) && open >= .milliseconds(900), "the connection stayed open \(open)")
        await ru.stop()
    }

    /// SPEC.md §12.1: the client checks that the server is the participant it expects at that URL,
    /// and that its certificate is valid for the URL's host, before sending anything.
    @Test func deliveryRefusesAServerThatIsNotTheExpectedParticipantOrNotValidForTheHost() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let (usPort, hcocPort) = (try freePort(), try freePort())
        // US-NRRC's configuration says RU-NRRC is at HCOC-CC's address: a valid regime certificate, the wrong participant.
        let log = LogCapture()
        let us = try await RunningNode(
            try pki.nodeConfiguration("US-NRRC", port: usPort, peers: ["RU-NRRC": hcocPort], directory: directory),
            logs: log
        )
        var hcocConfiguration = try pki.nodeConfiguration("HCOC-CC", port: hcocPort, peers: [:], directory: directory)
        hcocConfiguration.listenHost = "0.0.0.0"
        let hcoc = try await RunningNode(hcocConfiguration)
        let draft = try Composition(
            json: try JSONSerialization.data(withJSONObject: preLaunchComposition(recipients: ["RU-NRRC"]))
        )
        let queued = try await us.node.submit(draft)
        try await waitUntil("a refused attempt") {
            try await us.node.store.delivery(queued.id, recipient: "RU-NRRC".pid)?.lastError != nil
        }
        let record = try #require(try await us.node.store.delivery(queued.id, recipient: "RU-NRRC".pid))
        #expect(record.state == DeliveryState.pending || record.state == DeliveryState.inFlight)
        #expect(
            log.lines.contains { $0.contains("should be RU-NRRC, but it presents a valid certificate of HCOC-CC") },
            "\(log.lines.suffix(5))"
        )
        // Nothing reached HCOC-CC: no message, no rejection issued.
        #expect(try await hcoc.node.store.inbox(InboxQuery()).isEmpty)
        #expect(try await hcoc.node.store.issuedRejections(for: queued.id).isEmpty)

        // The right participant at an address its certificate does not name (127.0.0.2; the test
        // certificates name localhost and 127.0.0.1): refused as well.
        let client = try PeerClient(
            tls: try DeliveryService.tlsClientConfiguration(us.node.configuration),
            trust: us.node.transportTrust,
            logger: us.node.logger
        )
        let wrongHost = try PeerClient.Endpoint(
            url: URL(string: "https://127.0.0.2:\(hcocPort)")!,
            participant: try ParticipantID("HCOC-CC")
        )
        await #expect(throws: (any Error).self) {
            _ = try await client.post(
                wrongHost,
                path: "/v1/messages",
                headers: [],
                body: ByteBuffer(),
                timeout: .seconds(5),
                maximumResponseBytes: 1 << 16
            )
        }
        #expect(
            log.lines.contains { $0.contains("is not valid for the host name 127.0.0.2") },
            "\(log.lines.suffix(3))"
        )
        // The right participant at a name it carries: answered (a 415 for this empty body).
        for host in ["127.0.0.1", "localhost"] {
            let right = try PeerClient.Endpoint(
                url: URL(string: "https://\(host):\(hcocPort)")!,
                participant: try ParticipantID("HCOC-CC")
            )
            let response = try await client.post(
                right,
                path: "/v1/messages",
                headers: [],
                body: ByteBuffer(),
                timeout: .seconds(5),
                maximumResponseBytes: 1 << 16
            )
            #expect(response.status == 415)
        }
        await client.shutdown()
        await us.stop()
        await hcoc.stop()
    }

    @Test func tls12OnlyWithECDHEAndAEAD() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: port, peers: [:], directory: directory)
        )
        func tls12Client(_ suites: String) throws -> HTTPClient.Configuration {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.path("trust/anchors.pem")))
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(pki.path("participants/US-NRRC/tls-chain.pem")).map
            { .certificate($0) }
            tls.privateKey = .privateKey(
                try NIOSSLPrivateKey(file: pki.path("participants/US-NRRC/tls.key"), format: .pem)
            )
            tls.maximumTLSVersion = .tlsv12
            tls.cipherSuites = suites
            return .init(tlsConfiguration: tls)
        }
        try await withHTTPClient(configuration: try tls12Client("ECDHE+AESGCM")) { aead in
            let (status, _) = try await get(aead, "https://127.0.0.1:\(port)/v1/health")
            #expect(status == 200)
        }
        try await withHTTPClient(configuration: try tls12Client("ECDHE+AES128+SHA1:ECDHE+AES256+SHA1:ECDHE+SHA256")) {
            cbc in
            await #expect(throws: (any Error).self) {
                _ = try await get(cbc, "https://127.0.0.1:\(port)/v1/health", timeout: .seconds(2))
            }
        }
        await ru.stop()
    }

    @Test func peerThatIsNotTheSenderIsForbidden() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: port, peers: [:], directory: directory)
        )
        try await withHTTPClient(
            configuration: try client(
                certificate: pki.path("participants/HCOC-CC/tls-chain.pem"),
                key: pki.path("participants/HCOC-CC/tls.key"),
                pki: pki
            )
        ) { hcoc in
            let (status, body, type) = try await post(
                hcoc,
                "https://127.0.0.1:\(port)/v1/messages",
                try signedMessage(pki, to: "RU-NRRC"),
                contentType: PeerServer.coseMediaType
            )
            #expect(status == 403)
            #expect(type == Problem.mediaType)
            #expect(String(decoding: body, as: UTF8.self).contains("urn:parley:problem:forbidden-peer"))
            #expect(try await ru.node.store.inbox(InboxQuery()).isEmpty)
        }
        await ru.stop()
    }

    /// SPEC.md §8.3, §12.1: a TLS client is identified by the participant URI of its certificate,
    /// not by its address. A production-profile certificate (participant URI and a DNS name, no IP
    /// address) is accepted from a client at 127.0.0.1, by a server that has one too.
    @Test func productionProfileCertificatesNeedNoIPAddress() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        var configuration = try pki.nodeConfiguration("RU-NRRC", port: port, peers: [:], directory: directory)
        configuration.tlsKeyPath = pki.path("participants/RU-NRRC/tls-production.key")
        configuration.tlsChainPath = pki.path("participants/RU-NRRC/tls-production-chain.pem")
        let ru = try await RunningNode(configuration)
        var tls = try mutualTLSConfiguration(
            certificate: pki.path("participants/US-NRRC/tls-production-chain.pem"),
            key: pki.path("participants/US-NRRC/tls-production.key"),
            pki: pki
        )
        // This client reaches the server by address; the server's certificate names it by DNS only.
        tls.certificateVerification = .noHostnameVerification
        try await withHTTPClient(configuration: .init(tlsConfiguration: tls)) { us in
            let (status, _, _) = try await post(
                us,
                "https://127.0.0.1:\(port)/v1/messages",
                try signedMessage(pki, to: "RU-NRRC"),
                contentType: PeerServer.coseMediaType
            )
            #expect(status == 200)
            #expect(try await ru.node.store.inbox(InboxQuery()).count == 1)
        }
        await ru.stop()
    }

    @Test func reloadingACurrentCRLRestoresAcceptance() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        let crlFile = directory.appendingPathComponent("crls.pem")
        try FileManager.default.copyItem(atPath: pki.path("negative/expired-crl/crls.pem"), toPath: crlFile.path)
        var configuration = try pki.nodeConfiguration("RU-NRRC", port: port, peers: [:], directory: directory)
        configuration.transportTrust = configuration.signingTrust
        configuration.signingTrust.crls = [crlFile.path]
        let ru = try await RunningNode(configuration)
        try await withHTTPClient(
            configuration: try client(
                certificate: pki.path("participants/US-NRRC/tls-chain.pem"),
                key: pki.path("participants/US-NRRC/tls.key"),
                pki: pki
            )
        ) { us in
            let url = "https://127.0.0.1:\(port)/v1/messages"
            let message = try signedMessage(pki, to: "RU-NRRC")
            #expect(try await post(us, url, message, contentType: PeerServer.coseMediaType).0 == 503)

            try FileManager.default.removeItem(at: crlFile)
            try FileManager.default.copyItem(atPath: pki.path("trust/crls.pem"), toPath: crlFile.path)
            let reload = URL(httpURLWithSocketPath: configuration.adminSocketPath, uri: "/v1/reload-trust")!
                .absoluteString
            let (status, _, _) = try await withHTTPClient { admin in
                try await post(admin, reload, [], contentType: "application/json")
            }
            #expect(status == 200)
            #expect(try await post(us, url, message, contentType: PeerServer.coseMediaType).0 == 200)
            #expect(try await ru.node.store.inbox(InboxQuery()).count == 1)
        }
        await ru.stop()
    }

    @Test func expiredOwnCRLAnswers503WithoutAReceipt() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        var configuration = try pki.nodeConfiguration("RU-NRRC", port: port, peers: [:], directory: directory)
        configuration.transportTrust = configuration.signingTrust
        configuration.signingTrust.crls = [pki.path("negative/expired-crl/crls.pem")]
        let ru = try await RunningNode(configuration)
        try await withHTTPClient(
            configuration: try client(
                certificate: pki.path("participants/US-NRRC/tls-chain.pem"),
                key: pki.path("participants/US-NRRC/tls.key"),
                pki: pki
            )
        ) { us in
            var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)/v1/messages")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: PeerServer.coseMediaType)
            request.body = .bytes(ByteBuffer(bytes: try signedMessage(pki, to: "RU-NRRC")))
            let response = try await us.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 16)
            #expect(response.status.code == 503)
            #expect(response.headers.first(name: "Retry-After") != nil)
            #expect(String(buffer: body).contains("urn:parley:problem:revocation-unavailable"))
            #expect(try await ru.node.store.inbox(InboxQuery()).isEmpty)
            let (health, _) = try await get(us, "https://127.0.0.1:\(port)/v1/health")
            #expect(health == 503)
        }
        await ru.stop()
    }
}
