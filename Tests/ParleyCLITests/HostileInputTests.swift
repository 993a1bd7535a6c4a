import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import ParleyCodec
import ParleyCrypto
import ParleyNode
import ParleyProtocol
import ParleyStore
import Testing
import ParleyTestSupport

/// Issue 7's hostile-input catalogue (Tests/Hostile/CATALOGUE.md). Every input goes to one running
/// node's peer endpoint (POST /v1/messages over mutual TLS) and, where it is a message, to `parley
/// verify`; each must get its catalogued answer, code for code. Afterwards the node still accepts
/// a valid message and its store holds exactly the valid messages, unchanged.
@Suite struct HostileInputTests {
    /// The node's request timeout in this test; slow clients must be cut off within it plus `slack`.
    static let requestTimeout = 3.0
    static let slack = Duration.seconds(2)

    @Test func everyHostileInputIsRejectedAsCatalogued() async throws {
        let pki = try CLITestPKI.shared.get()
        let directory = URL(fileURLWithPath: "/tmp/phost-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try freePort()
        var configuration = try pki.nodeConfiguration(
            "RU-NRRC",
            port: port,
            peers: [:],
            directory: directory,
            requestTimeout: 10
        )
        // HCOC-CC is a hub RU-NRRC accepts forwarded messages from, so that messages naming any sender reach verification.
        configuration.acceptForwardedFrom = [try ParticipantID("HCOC-CC")]
        configuration.limits.requestTimeout = Self.requestTimeout
        let node = try await RunningNode(configuration)
        var clients: [String: HTTPClient] = [:]
        for peer in ["US-NRRC", "HCOC-CC", "FR-CNES"] {
            clients[peer] = try Self.client(
                pki,
                chain: pki.path("participants/\(peer)/tls-chain.pem"),
                key: pki.path("participants/\(peer)/tls.key")
            )
        }
        let outcome: Result<Void, any Error>
        do {
            try await exercise(pki: pki, node: node.node, port: port, clients: clients, directory: directory)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        for client in clients.values { try? await client.shutdown() }
        await node.stop()
        try outcome.get()
    }

    private func exercise(
        pki: TestPKI,
        node: Node,
        port: Int,
        clients: [String: HTTPClient],
        directory: URL
    ) async throws {
        let base = "https://127.0.0.1:\(port)"
        let signer = try pki.identity("US-NRRC")
        // Valid traffic before: sequence numbers 1 and 2 of US-NRRC → RU-NRRC.
        let firstEnvelope = HostileForge.envelope(seq: 1)
        var valid: [[UInt8]] = []
        for envelope in [firstEnvelope, HostileForge.envelope(seq: 2)] {
            let bytes = try signer.sign(envelope)
            try await expectAccepted(bytes, node: node, client: try clients["US-NRRC"].required("client"), base: base)
            valid.append(bytes)
        }

        let rogueDirectory = directory.appendingPathComponent("rogue")
        try FileManager.default.createDirectory(at: rogueDirectory, withIntermediateDirectories: true)
        let rogue = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try HostileForge.makeRogueChain(pki, in: rogueDirectory) })
            }
        }
        let forge = try HostileForge(pki: pki, first: valid[0], firstEnvelope: firstEnvelope, rogue: rogue)
        let cases = try forge.cases()
        #expect(cases.count >= 60)
        #expect(Set(cases.map(\.id)).count == cases.count, "case ids are unique")
        try checkCatalogue(cases)

        for hostile in cases {
            try await checkDaemon(hostile, node: node, port: port, clients: clients, pki: pki)
            if case .body(let bytes, _) = hostile.input, hostile.verify != .notApplicable {
                try await checkVerify(hostile, bytes: bytes, pki: pki, directory: directory)
            }
        }

        // After all of them: valid traffic is still served, and the store holds exactly the valid messages.
        let third = try signer.sign(HostileForge.envelope(seq: 3))
        try await expectAccepted(third, node: node, client: try clients["US-NRRC"].required("client"), base: base)
        valid.append(third)
        try await node.store.checkIntegrity()
        let inbox = try await node.store.inbox(InboxQuery())
        #expect(
            Set(inbox.map { Array($0.fields.bytes) }) == Set(valid),
            "the inbox holds exactly the three valid messages, byte for byte"
        )
        #expect(inbox.count == 3)
        #expect(inbox.allSatisfy { $0.sender == "US-NRRC" && $0.inboxRecipient == "RU-NRRC" })
        #expect(Set(inbox.compactMap(\.inboxSequenceNumber)) == [1, 2, 3])
        for bytes in valid {
            let id = try COSESign1(decoding: bytes).payload
            let record = try await node.store.message(try Envelope(decoding: id).id).required("stored message")
            #expect(Array(record.message.fields.bytes) == bytes)
            #expect(record.receipts.filter { $0.status == .accepted }.count == 1)
        }
    }

    private func expectAccepted(_ bytes: [UInt8], node: Node, client: HTTPClient, base: String) async throws {
        let (status, body, _) = try await Self.send(bytes, .init(), client: client, base: base)
        #expect(status == 200)
        let receipt = try node.verifier.verifyReceipt(body, at: .now)
        #expect(receipt.receipt.status == .accepted)
        #expect(receipt.receipt.digest == Digest.sha256(bytes))
    }

    // MARK: The node

    private func checkDaemon(
        _ hostile: HostileCase,
        node: Node,
        port: Int,
        clients: [String: HTTPClient],
        pki: TestPKI
    ) async throws {
        let label = "\(hostile.id) \(hostile.name): expected \(hostile.daemon)"
        switch hostile.input {
        case .body(let bytes, let request):
            let client = try clients[request.peer].required("client for \(request.peer)")
            let status: UInt
            let body: [UInt8]
            let type: String?
            do {
                (status, body, type) = try await Self.send(
                    bytes,
                    request,
                    client: client,
                    base: "https://127.0.0.1:\(port)"
                )
            } catch {
                Issue.record("\(label); the request failed: \(error)")
                return
            }
            switch hostile.daemon {
            case .rejected(let code):
                #expect(
                    status == 200 && type == PeerServer.coseMediaType,
                    "\(label); got \(status) \(String(decoding: body, as: UTF8.self))"
                )
                guard status == 200 else { return }
                let receipt = try node.verifier.verifyReceipt(body, at: .now)
                #expect(receipt.signer.participantID == "RU-NRRC", "\(label)")
                #expect(
                    receipt.receipt.digest == Digest.sha256(bytes),
                    "\(label): the receipt names the digest of the bytes sent"
                )
                guard case .rejected(let got, let reason) = receipt.receipt.status else {
                    Issue.record("\(label); got status \(receipt.receipt.status)")
                    return
                }
                #expect(got == code, "\(label); got \(got.name): \(reason)")
            case .duplicate:
                #expect(status == 200, "\(label); got \(status)")
                guard status == 200 else { return }
                let receipt = try node.verifier.verifyReceipt(body, at: .now)
                #expect(receipt.receipt.status == .duplicate, "\(label); got \(receipt.receipt.status)")
                #expect(receipt.receipt.digest == Digest.sha256(bytes), "\(label)")
            case .problem(let expected, let name):
                let problem = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
                #expect(
                    Int(status) == expected && type == Problem.mediaType,
                    "\(label); got \(status) \(String(decoding: body, as: UTF8.self))"
                )
                #expect(
                    problem?["type"] as? String == "urn:parley:problem:\(name)",
                    "\(label); got \(String(decoding: body, as: UTF8.self))"
                )
                if let detail = hostile.detail {
                    #expect(
                        (problem?["detail"] as? String)?.contains(detail) == true,
                        "\(label): the detail names the real reason (\(detail)); got \(String(decoding: body, as: UTF8.self))"
                    )
                }
            case .tlsRefused, .cutOff:
                Issue.record("\(label): not an expectation for a request body")
            }
        case .transport(let attack):
            try await checkTransport(attack, label: label, expected: hostile.daemon, port: port, pki: pki)
        }
    }

    private func checkTransport(
        _ attack: HostileCase.TransportAttack,
        label: String,
        expected: HostileCase.Daemon,
        port: Int,
        pki: TestPKI
    ) async throws {
        let limit = Duration.milliseconds(Int64(Self.requestTimeout * 1000)) + Self.slack
        let hub = try Self.tls(
            pki,
            chain: pki.path("participants/HCOC-CC/tls-chain.pem"),
            key: pki.path("participants/HCOC-CC/tls.key")
        )
        let message = try pki.identity("US-NRRC").sign(HostileForge.envelope(seq: 300))
        let head = Array(
            "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/cose; cose-type=\"cose-sign1\"\r\nContent-Length: \(message.count)\r\n\r\n"
                .utf8
        )
        switch attack {
        case .tlsClient(let chain, let key, let cbc):
            var tls = try Self.tls(pki, chain: chain, key: key)
            if cbc {
                tls.maximumTLSVersion = .tlsv12
                tls.cipherSuites = "ECDHE+AES128+SHA1:ECDHE+AES256+SHA1:ECDHE+SHA256"
            }
            let client = HTTPClient(
                eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                configuration: .init(tlsConfiguration: tls)
            )
            do {
                let result = try await Self.send(message, .init(), client: client, base: "https://127.0.0.1:\(port)")
                Issue.record(
                    "\(label); the request got through: \(result.0) \(String(decoding: result.1, as: UTF8.self))"
                )
            } catch {
                #expect(expected == .tlsRefused, "\(label); got \(error)")
            }
            try await client.shutdown()
        case .silentConnection:
            let connection = try await RawConnection.open(port: port, tls: nil)
            let closed = await connection.trickle([], every: .milliseconds(100), limit: limit + .seconds(3))
            print("\(label): closed \(closed.map { "\($0)" } ?? "never") after the connection opened")
            #expect(
                closed != nil && closed! <= limit,
                "\(label); closed after \(closed.map { "\($0)" } ?? "never (still open)")"
            )
            await connection.close()
        case .slowHeaders:
            let connection = try await RawConnection.open(port: port, tls: hub)
            let closed = await connection.trickle(head, every: .milliseconds(500), limit: limit + .seconds(3))
            print("\(label): closed \(closed.map { "\($0)" } ?? "never") after the connection opened")
            #expect(
                closed != nil && closed! <= limit,
                "\(label); closed after \(closed.map { "\($0)" } ?? "never (still open)")"
            )
            #expect(connection.status == nil, "\(label); got a response: \(connection.received)")
            await connection.close()
        case .slowBody(let interval):
            let connection = try await RawConnection.open(port: port, tls: hub)
            await connection.send(head)
            let headSent = ContinuousClock.now - connection.opened
            let closed = await connection.trickle(message, every: interval, limit: limit + .seconds(4))
            print("\(label): closed \(closed.map { "\($0)" } ?? "never") after the connection opened")
            #expect(
                closed != nil && closed! - headSent <= limit,
                "\(label); closed after \(closed.map { "\($0)" } ?? "never (still open)")"
            )
            if case .cutOff(503?) = expected {
                #expect(
                    connection.status == 503 && connection.received.contains("urn:parley:problem:unavailable"),
                    "\(label); got \(connection.received)"
                )
            } else {
                #expect(connection.status == nil || connection.status == 503, "\(label); got \(connection.received)")
            }
            await connection.close()
        case .stalledBody:
            let connection = try await RawConnection.open(port: port, tls: hub)
            await connection.send(head + message.prefix(message.count / 2))
            let closed = await connection.trickle([], every: .milliseconds(100), limit: limit + .seconds(3))
            print("\(label): closed \(closed.map { "\($0)" } ?? "never") after the connection opened")
            #expect(
                closed != nil && closed! <= limit,
                "\(label); closed after \(closed.map { "\($0)" } ?? "never (still open)")"
            )
            #expect(connection.status == nil || connection.status == 503, "\(label); got \(connection.received)")
            await connection.close()
        }
    }

    // MARK: parley verify

    private func checkVerify(_ hostile: HostileCase, bytes: [UInt8], pki: TestPKI, directory: URL) async throws {
        let label = "\(hostile.id) \(hostile.name): parley verify, expected \(hostile.verify)"
        let file = directory.appendingPathComponent("\(hostile.id).cose")
        try Data(bytes).write(to: file)
        let output = try await CLI.runOffPool([
            "verify", file.path, "--trust", pki.anchors, "--crl", pki.crls, "--recipient", "RU-NRRC", "--json",
        ])
        let result = output.stdout.split(separator: "\n").first.map(String.init)?.jsonObject
        switch hostile.verify {
        case .valid:
            #expect(
                output.status == 0 && result?["valid"] as? Bool == true,
                "\(label); got \(output.status) \(output.stdout)\(output.stderr)"
            )
        case .fails(let code):
            let error = result?["error"] as? [String: Any]
            #expect(
                output.status == 1 && result?["valid"] as? Bool == false,
                "\(label); got \(output.status) \(output.stdout)\(output.stderr)"
            )
            #expect(error?["code"] as? String == code.outcomeName, "\(label); got \(output.stdout)\(output.stderr)")
            if let detail = hostile.detail {
                #expect(
                    (error?["reason"] as? String)?.contains(detail) == true,
                    "\(label): the reason names the real fault (\(detail)); got \(output.stdout)"
                )
            }
            if let check = hostile.chainCheck {
                let certificate = error?["certificate"] as? [String: Any]
                #expect(
                    certificate?["check"] as? String == check,
                    "\(label): chain check \(check); got \(output.stdout)"
                )
            }
            if case .rejected(let rejection) = hostile.daemon {
                let name = (error?["rejection"] as? [String: Any])?["name"] as? String
                #expect(
                    name == rejection.name,
                    "\(label): the CLI names the receiver's rejection; got \(output.stdout)"
                )
            }
        case .notApplicable:
            break
        }
    }

    // MARK: The committed catalogue

    static let catalogue = HostileForge.directory.appendingPathComponent("CATALOGUE.md")
    static let tableStart =
        "<!-- table: generated by HostileInputTests (PARLEY_WRITE_HOSTILE_CATALOGUE=1); checked by every run -->"
    static let tableEnd = "<!-- end of table -->"

    static func table(_ cases: [HostileCase]) -> String {
        var lines = [
            "| id | input | what is sent | the node answers | `parley verify` | SPEC.md |", "|---|---|---|---|---|---|",
        ]
        for c in cases {
            lines.append(
                "| \(c.id) | \(c.name) | \(c.what.replacingOccurrences(of: "|", with: "\\|")) | \(c.daemon) | \(c.verify)\(c.chainCheck.map { " (check `\($0)`)" } ?? "") | \(c.spec) |"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// CATALOGUE.md's table is exactly the cases this test runs (rewritten with PARLEY_WRITE_HOSTILE_CATALOGUE=1).
    private func checkCatalogue(_ cases: [HostileCase]) throws {
        let text = try String(contentsOf: Self.catalogue, encoding: .utf8)
        let start = try text.range(of: Self.tableStart).required("table start marker in CATALOGUE.md")
        let end = try text.range(of: Self.tableEnd).required("table end marker in CATALOGUE.md")
        let committed = text[start.upperBound..<end.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        let generated = Self.table(cases)
        if ProcessInfo.processInfo.environment["PARLEY_WRITE_HOSTILE_CATALOGUE"] == "1" {
            let updated = String(text[..<start.upperBound]) + "\n" + generated + "\n" + String(text[end.lowerBound...])
            try updated.write(to: Self.catalogue, atomically: true, encoding: .utf8)
            return
        }
        #expect(
            committed == generated,
            "Tests/Hostile/CATALOGUE.md differs from the cases run; rewrite it with PARLEY_WRITE_HOSTILE_CATALOGUE=1"
        )
    }

    // MARK: HTTP

    static func tls(_ pki: TestPKI, chain: String?, key: String?) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.anchors))
        tls.certificateVerification = .noHostnameVerification
        if let chain, let key {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return tls
    }

    /// A kept-alive connection is dropped after a second idle, well before the node's idle timeout
    /// (`requestTimeout`) closes it: the forge's rogue CA can take seconds to make, and a request
    /// sent on a connection the server is closing at that moment fails (HTTP/1.1 allows it).
    static func client(_ pki: TestPKI, chain: String, key: String) throws -> HTTPClient {
        var configuration = HTTPClient.Configuration(tlsConfiguration: try tls(pki, chain: chain, key: key))
        configuration.connectionPool.idleTimeout = .seconds(1)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    static func send(
        _ bytes: [UInt8],
        _ request: HostileCase.Request,
        client: HTTPClient,
        base: String
    ) async throws -> (UInt, [UInt8], String?) {
        var http = HTTPClientRequest(url: base + request.path)
        http.method = request.get ? .GET : .POST
        if let type = request.contentType { http.headers.add(name: "Content-Type", value: type) }
        if let recipient = request.parleyRecipient { http.headers.add(name: "Parley-Recipient", value: recipient) }
        if request.chunked {
            let chunks = stride(from: 0, to: bytes.count, by: 16_384).map {
                ByteBuffer(bytes: bytes[$0..<min($0 + 16_384, bytes.count)])
            }
            http.body = .stream(chunks.async, length: .unknown)
        } else {
            http.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let response = try await client.execute(http, timeout: .seconds(15))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (response.status.code, Array(buffer: body), response.headers.first(name: "Content-Type"))
    }
}

extension Array where Element: Sendable {
    /// The elements as an async sequence (a request body stream).
    var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}
