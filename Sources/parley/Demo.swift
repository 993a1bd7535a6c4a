import ArgumentParser
import Foundation
import Logging
import ParleyCrypto
import ParleyNode
import ParleyProtocol
import ParleyStore

/// `parley demo`: four nodes in this process exchange a launch notification, its extension and its cancellation.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a complete exchange between four test nodes in this process, then verify the archive.",
        discussion: """
            In a new temporary directory: creates a test PKI for US-NRRC, RU-NRRC, FR-CNRR and the hub \
            HCOC-CC; starts their nodes on free loopback ports (US-NRRC reaches RU-NRRC directly and \
            FR-CNRR through HCOC-CC); sends a pre-launch notification to RU-NRRC and FR-CNRR, then a \
            launch-window extension and a cancellation referencing it; shows each delivery and signed \
            receipt; exports US-NRRC's archive and verifies it offline; stops the nodes and removes the \
            directory. Exit status 0 only if everything succeeded.

            Example:
              swift run parley demo

            \(ExitStatus.seeTable)
            """
    )

    @Flag(help: "Keep the temporary directory (PKI, stores, archive) and print its path.")
    var keep = false

    @Flag(help: "Show the nodes' logs on standard error.")
    var verbose = false

    @Option(help: ArgumentHelp("Seconds to wait for all receipts.", valueName: "seconds"))
    var timeout: Int = 60

    static let sender = "US-NRRC", direct = "RU-NRRC", viaHub = "FR-CNRR", hub = "HCOC-CC"

    func run() async throws {
        let directory = URL(fileURLWithPath: "/tmp/parley-demo-\(UUID().uuidString.prefix(8).lowercased())")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        } catch {
            throw CLIError(
                ExitStatus.cannotCreate,
                "cannot create the demo directory \(directory.path): \(error.localizedDescription)"
            )
        }
        var nodes: [(name: String, running: InProcessNode)] = []
        var failure: (any Error)?
        do {
            try await exchange(in: directory, nodes: &nodes)
        } catch {
            failure = error
        }
        if !nodes.isEmpty {
            say("stopping the nodes")
            for entry in nodes.reversed() {
                do { try await entry.running.stop() } catch {
                    if failure == nil {
                        failure = CLIError(
                            ExitStatus.software,
                            "node \(entry.name) did not stop cleanly: \(CLIError.describe(error).message)"
                        )
                    }
                }
            }
            say("all nodes stopped")
        }
        if keep {
            say("kept \(directory.path)")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
        if let failure {
            if failure is CLIError { throw failure }
            let described = CLIError.describe(failure)
            throw CLIError(described.status, "demo failed: \(described.message)")
        }
        say("demo complete: every message delivered, every receipt verified, archive valid")
    }

    private func exchange(in directory: URL, nodes: inout [(name: String, running: InProcessNode)]) async throws {
        let pki = directory.appendingPathComponent("pki")
        let participants = [Self.sender, Self.direct, Self.viaHub, Self.hub]
        try PKITest.make(at: pki.path, participants: participants, log: pki.path + ".log")
        say("test PKI for \(participants.joined(separator: ", ")) in \(pki.path)")

        // Each node listens on a free port of its own choosing; it starts after the peers it
        // delivers to, so that their ports are known.
        var ports: [String: Int] = [:]
        for id in [Self.direct, Self.viaHub, Self.hub, Self.sender] {
            let participant = try ParticipantID(id)
            var configuration = try NodeConfiguration.loopback(
                participant,
                testPKI: pki,
                dataDirectory: directory.appendingPathComponent("data/\(id)").path,
                adminSocket: directory.appendingPathComponent("\(id).sock").path
            )
            switch id {
            case Self.sender:
                configuration.peers = [
                    .loopback(try ParticipantID(Self.direct), port: ports[Self.direct]!),
                    .loopback(try ParticipantID(Self.hub), port: ports[Self.hub]!),
                    .loopback(try ParticipantID(Self.viaHub), port: ports[Self.hub]!, via: try ParticipantID(Self.hub)),
                ]
            case Self.hub:
                configuration.hub = true
                configuration.peers = [.loopback(try ParticipantID(Self.viaHub), port: ports[Self.viaHub]!)]
            case Self.viaHub:
                configuration.acceptForwardedFrom = [try ParticipantID(Self.hub)]
            default:
                break
            }
            var logger = Logger(label: "parley.demo.\(id)")
            logger.logLevel = verbose ? .info : .critical
            let running: InProcessNode
            do {
                running = try await InProcessNode(
                    try Node(configuration: configuration, logger: logger),
                    logger: logger,
                    timeout: .seconds(30)
                )
            } catch let failure as InProcessNode.StartFailure {
                throw CLIError(ExitStatus.software, "\(failure); run again with --verbose to see its log")
            }
            nodes.append((id, running))
            ports[id] = running.node.peerPort
            let role = id == Self.hub ? " (hub, forwards to \(Self.viaHub))" : ""
            say("started \(id)\(role) on 127.0.0.1:\(ports[id] ?? 0)")
        }
        let us = nodes.first { $0.name == Self.sender }!.running.node
        let recipients = [Self.direct, Self.viaHub]
        say("\(Self.sender) delivers to \(Self.direct) directly and to \(Self.viaHub) through \(Self.hub)")

        let now = UTCTime.now
        let windowStart = now + 3 * 86_400
        let windowEnd = now + 3 * 86_400 + 4 * 3_600
        let preLaunch: [String: Any] = [
            "type": "pre-launch", "recipients": recipients,
            "body": [
                "class": "space-launch-vehicle",
                "window-start": windowStart.description, "window-end": windowEnd.description,
                "launch-area": ["circle": ["center": ["lat": 28.573469, "lon": -80.65107], "radius-m": 5_000]],
                "impact-areas": [
                    [
                        "polygon": [
                            ["lat": 30.0, "lon": -60.0], ["lat": 30.0, "lon": -58.0], ["lat": 28.0, "lon": -58.0],
                            ["lat": 28.0, "lon": -60.0],
                        ]
                    ]
                ],
                "azimuth": 90.5, "designator": "SLV-7 flight 12",
            ] as [String: Any],
            "remarks": ["lang": "en", "text": "Demonstration launch notification."],
        ]
        let original = try await submit(preLaunch, to: us, what: "pre-launch notification", recipients: recipients)
        try await awaitReceipts(of: original, from: recipients, store: us.store)

        let extensionDocument: [String: Any] = [
            "type": "launch-window-extension", "recipients": recipients,
            "refs": [["id": original.hex, "relation": "extends"]],
            "body": ["new-window-end": (windowEnd + 2 * 3_600).description, "reason": "weather"],
        ]
        let extended = try await submit(
            extensionDocument,
            to: us,
            what: "launch-window extension (extends \(original.hex))",
            recipients: recipients
        )
        try await awaitReceipts(of: extended, from: recipients, store: us.store)

        let cancellation: [String: Any] = [
            "type": "launch-cancellation", "recipients": recipients,
            "refs": [["id": original.hex, "relation": "cancels"]],
            "body": ["reason": "technical"],
        ]
        let cancelled = try await submit(
            cancellation,
            to: us,
            what: "launch cancellation (cancels \(original.hex))",
            recipients: recipients
        )
        try await awaitReceipts(of: cancelled, from: recipients, store: us.store)

        let archive = directory.appendingPathComponent("US-NRRC.parley").path
        let summary = try await us.store.exportArchive(
            to: archive,
            exporter: try ParticipantID(Self.sender),
            from: Date(timeIntervalSince1970: 0),
            to: Date().addingTimeInterval(3_600)
        )
        say("exported \(Self.sender)'s archive: \(summary.messages) messages, \(summary.receipts) receipts")
        let trust = try TrustStore.load(
            anchorsPath: pki.appendingPathComponent("trust/anchors.pem").path,
            crlPaths: [pki.appendingPathComponent("trust/crls.pem").path],
            maximumClockSkew: 300
        )
        let report = try ParleyStore.verifyArchive(at: archive, verifier: MessageVerifier(trust: trust))
        let passed =
            report.isValid && report.channelsWithGaps.isEmpty && report.unreceipted.isEmpty
            && report.archive.messages == 3 && report.archive.receipts == 6
        say(ArchiveVerify.text(report, file: archive, passed: passed))
        guard passed else {
            throw CLIError(
                ExitStatus.verificationFailed,
                "the exported archive did not verify completely (3 messages and 6 receipts expected; details above)"
            )
        }
    }

    private func submit(
        _ document: [String: Any],
        to node: Node,
        what: String,
        recipients: [String]
    ) async throws -> MessageID {
        let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
        let queued = try await node.submit(try Composition(json: data))
        let numbers = queued.sequenceNumbers.sorted { $0.key < $1.key }.map { "\($0.key) #\($0.value)" }.joined(
            separator: ", "
        )
        say(
            "submitted \(what): id \(queued.id.hex) to \(recipients.joined(separator: ", ")) (channel numbers \(numbers))"
        )
        return queued.id
    }

    /// Polls the sender's store until every recipient's receipt for `id` is stored, printing each as it arrives.
    private func awaitReceipts(of id: MessageID, from recipients: [String], store: ParleyStore) async throws {
        var delivered: Set<String> = []
        var receipted: Set<String> = []
        let deadline = ContinuousClock.now + .seconds(timeout)
        while receipted.count < recipients.count {
            guard ContinuousClock.now < deadline else {
                let missing = recipients.filter { !receipted.contains($0) }
                throw CLIError(
                    ExitStatus.software,
                    "no receipt for message \(id.hex) from \(missing.joined(separator: ", ")) within \(timeout) s; run again with --verbose to see the nodes' logs"
                )
            }
            guard let record = try await store.message(id) else {
                throw CLIError(ExitStatus.software, "message \(id.hex) is not in \(Self.sender)'s store")
            }
            for delivery in record.deliveries where !delivered.contains(delivery.recipient) {
                switch delivery.state {
                case .delivered:
                    delivered.insert(delivery.recipient)
                    let route = delivery.recipient == Self.viaHub ? " through \(Self.hub)" : ""
                    say(
                        "  delivered to \(delivery.recipient)\(route) after \(delivery.attempts) attempt\(delivery.attempts == 1 ? "" : "s")"
                    )
                case .rejected, .expired, .cancelled:
                    throw CLIError(
                        ExitStatus.software,
                        "delivery of \(id.hex) to \(delivery.recipient) ended \(delivery.state.rawValue): \(delivery.rejectionReason ?? delivery.lastError ?? "no reason given")"
                    )
                case .pending, .inFlight:
                    break
                }
            }
            for receipt in record.receipts
            where receipt.direction == .received && delivered.contains(receipt.signer)
                && !receipted.contains(receipt.signer)
            {
                receipted.insert(receipt.signer)
                let status: String
                switch receipt.status {
                case .accepted: status = "accepted"
                case .duplicate: status = "duplicate (accepted before)"
                case .rejected(let code, let reason): status = "rejected (\(code)): \(reason)"
                }
                say("  receipt from \(receipt.signer) verified: \(status)")
            }
            if receipted.count < recipients.count { try await Task.sleep(for: .milliseconds(50)) }
        }
    }

    /// One line on standard output at once (unbuffered), so progress shows as it happens.
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
