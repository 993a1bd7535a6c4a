import Foundation
import Logging
import ParleyNode
import ParleyProtocol
import ServiceLifecycle
import Synchronization
import Testing
import ParleyTestSupport

/// `parley demo`, and the daemon commands against nodes running in this process.
@Suite struct DaemonCommandTests {
    @Test func demoRunsToCompletionWithEveryReceipt() async throws {
        let output = try await CLI.runOffPool(["demo"])
        #expect(output.status == 0, "stderr: \(output.stderr)\nstdout: \(output.stdout)")
        for recipient in ["RU-NRRC", "FR-CNRR"] {
            let receipts =
                output.stdout.components(separatedBy: "receipt from \(recipient) verified: accepted").count - 1
            #expect(receipts == 3, "\(recipient): \(receipts) receipts in\n\(output.stdout)")
            #expect(output.stdout.contains("delivered to \(recipient)"))
        }
        #expect(output.stdout.contains("delivered to FR-CNRR through HCOC-CC"))
        #expect(output.stdout.contains("3 messages, 6 receipts"))
        #expect(output.stdout.contains("✔"))
        #expect(output.stdout.contains("all nodes stopped"))
        #expect(output.stdout.contains("demo complete"))
    }

    @Test func sendOutboxInboxShowAgainstRunningNodes() async throws {
        let pki = try CLITestPKI.shared.get()
        let directory = URL(fileURLWithPath: "/tmp/pcli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let ruPort = try freePort()
        let usPort = try freePort()
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory, requestTimeout: 10)
        )
        let us = try await RunningNode(
            try pki.nodeConfiguration(
                "US-NRRC",
                port: usPort,
                peers: ["RU-NRRC": ruPort],
                directory: directory,
                requestTimeout: 10
            )
        )
        let outcome: Result<Void, any Error>
        do {
            try await exercise(
                usSocket: us.node.configuration.adminSocketPath,
                ruSocket: ru.node.configuration.adminSocketPath,
                directory: directory
            )
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await us.stop()
        await ru.stop()
        try outcome.get()
    }

    private func exercise(usSocket: String, ruSocket: String, directory: URL) async throws {

        let start = UTCTime.now + 3 * 86_400
        let document = """
            {"type": "pre-launch", "recipients": ["RU-NRRC"],
             "body": {"class": "space-launch-vehicle", "window-start": "\(start)", "window-end": "\(start + 4 * 3_600)",
                      "launch-area": {"circle": {"center": {"lat": 28.573469, "lon": -80.65107}, "radius-m": 5000}},
                      "impact-areas": [{"polygon": [{"lat": 30.0, "lon": -60.0}, {"lat": 30.0, "lon": -58.0}, {"lat": 28.0, "lon": -58.0}]}],
                      "azimuth": 90.5},
             "remarks": {"lang": "en", "text": "Routine \\"test\\" launch."}}
            """
        try Data(document.utf8).write(to: directory.appendingPathComponent("note.json"))
        let sent = try await CLI.runOffPool([
            "send", "--socket", usSocket, "--document", directory.appendingPathComponent("note.json").path,
        ])
        #expect(sent.status == 0, "\(sent.stderr)")
        let id = sent.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 32 && (try? MessageID(hex: id)) != nil, "send printed \(sent.stdout)")
        // The hint names the socket it was given, so that it works as printed.
        #expect(sent.stderr.contains("follow it with `parley show \(id) --socket \(usSocket)`"), "\(sent.stderr)")

        // Delivered and receipted: the outbox (JSON) shows the delivery as delivered.
        let deadline = ContinuousClock.now + .seconds(60)
        var delivered = false
        while !delivered && ContinuousClock.now < deadline {
            let outbox = try await CLI.runOffPool(["outbox", "--socket", usSocket, "--state", "delivered", "--json"])
            #expect(outbox.status == 0, "\(outbox.stderr)")
            let deliveries = outbox.stdout.jsonObject?["deliveries"] as? [[String: Any]] ?? []
            delivered = deliveries.contains { $0["id"] as? String == id && $0["recipient"] as? String == "RU-NRRC" }
            if !delivered { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(delivered, "message \(id) not delivered within 60 s")

        let table = try await CLI.runOffPool(["outbox", "--socket", usSocket, "--to", "RU-NRRC"])
        #expect(table.status == 0)
        #expect(table.stdout.hasPrefix("ID"))
        #expect(table.stdout.contains(id) && table.stdout.contains("delivered") && table.stdout.contains("pre-launch"))
        let none = try await CLI.runOffPool(["outbox", "--socket", usSocket, "--state", "pending"])
        #expect(none.status == 0 && none.stdout.contains("no deliveries"))

        let shown = try await CLI.runOffPool(["show", "--socket", usSocket, id])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(
            shown.stdout.contains("message \(id)") && shown.stdout.contains("received accepted signed by RU-NRRC"),
            "\(shown.stdout)"
        )
        let shownJSON = try await CLI.runOffPool(["show", "--socket", usSocket, "--json", id])
        #expect(
            (shownJSON.stdout.jsonObject?["receipts"] as? [[String: Any]])?.first?["signer"] as? String == "RU-NRRC"
        )

        let inbox = try await CLI.runOffPool([
            "inbox", "--socket", ruSocket, "--from", "US-NRRC", "--type", "pre-launch",
        ])
        #expect(inbox.status == 0 && inbox.stdout.contains(id), "\(inbox.stdout)\(inbox.stderr)")
        let otherType = try await CLI.runOffPool(["inbox", "--socket", ruSocket, "--type", "launch-cancellation"])
        #expect(otherType.status == 0 && otherType.stdout.contains("no messages"))

        // A missing message, and a draft the daemon refuses (the field is named).
        let missing = try await CLI.runOffPool(["show", "--socket", usSocket, MessageID.generate().hex])
        #expect(missing.status == 66, "\(missing.stderr)")
        let refused = try await CLI.runOffPool([
            "send", "--socket", usSocket, "--type", "launch-cancellation", "--to", "RU-NRRC",
            "--ref", "\(id):cancels", "--field", "reason=sunspots",
        ])
        #expect(refused.status == 65, "\(refused.stderr)")
        #expect(refused.stderr.contains("reason"), "\(refused.stderr)")
        let cancelled = try await CLI.runOffPool([
            "send", "--socket", usSocket, "--type", "launch-cancellation", "--to", "RU-NRRC",
            "--ref", "\(id):cancels", "--field", "reason=technical",
        ])
        #expect(cancelled.status == 0, "\(cancelled.stderr)")

        // An array of drafts: each queued or refused on its own, one line each, in order.
        let cancellation =
            #"{"type": "launch-cancellation", "recipients": ["RU-NRRC"], "refs": [{"id": "\#(id)", "relation": "cancels"}], "body": {"reason": "%@"}}"#
        let drafts =
            "["
            + [document, String(format: cancellation, "technical"), String(format: cancellation, "sunspots"), document]
            .joined(separator: ",") + "]"
        let arrayPath = directory.appendingPathComponent("drafts.json").path
        try Data(drafts.utf8).write(to: URL(fileURLWithPath: arrayPath))
        let mixed = try await CLI.runOffPool(["send", "--socket", usSocket, "--document", arrayPath])
        #expect(mixed.status == 65, "\(mixed.stderr)")
        #expect(mixed.stderr.contains("refused 1 of 4 drafts (the others were queued)"), "\(mixed.stderr)")
        let lines = mixed.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(mixed.stdout)")
        if lines.count == 4 {
            // RU-NRRC's channel: the single sends took 1 and 2; the refused draft consumes no number.
            #expect(
                lines[0].hasSuffix("RU-NRRC #3") && lines[1].hasSuffix("RU-NRRC #4")
                    && lines[3].hasSuffix("RU-NRRC #5"),
                "\(lines)"
            )
            #expect(lines[2].hasPrefix("refused") && lines[2].contains("reason"), "\(lines[2])")
            #expect((try? MessageID(hex: String(lines[0].prefix(32)))) != nil)
        }
        try Data(("[" + document + "," + document + "]").utf8).write(to: URL(fileURLWithPath: arrayPath))
        let all = try await CLI.runOffPool(["send", "--socket", usSocket, "--document", arrayPath, "--json"])
        #expect(all.status == 0 && all.stdout.jsonObject?["queued"] as? Int == 2, "\(all.stdout)\(all.stderr)")
        let mixedOptions = try await CLI.runOffPool([
            "send", "--socket", usSocket, "--document", arrayPath, "--to", "RU-NRRC",
        ])
        #expect(mixedOptions.status == 64 && mixedOptions.stderr.contains("array of drafts"), "\(mixedOptions.stderr)")
    }

    @Test func statusRetryCancelShowInboxReceiptsArchiveAndReload() async throws {
        let pki = try CLITestPKI.shared.get()
        let directory = URL(fileURLWithPath: "/tmp/pcli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let ruPort = try freePort()
        let usPort = try freePort()
        let hcocPort = try freePort()
        let ru = try await RunningNode(
            try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory, requestTimeout: 10)
        )
        // US reads its configuration from a file, so that `parley reload` has something to re-read.
        let usConfiguration = try pki.nodeConfiguration(
            "US-NRRC",
            port: usPort,
            peers: ["RU-NRRC": ruPort, "HCOC-CC": hcocPort],
            directory: directory,
            requestTimeout: 10
        )
        let file = directory.appendingPathComponent("us.json").path
        func writeConfiguration(initialRetry: Double) throws {
            let c = usConfiguration
            let json = """
                {"participant": "US-NRRC", "signing": {"key": "\(c.signingKeyPath)", "chain": "\(c.signingChainPath)"},
                 "tls": {"key": "\(c.tlsKeyPath)", "chain": "\(c.tlsChainPath)"},
                 "trust": {"anchors": "\(pki.anchors)", "crls": ["\(pki.crls)"]},
                 "listen": {"host": "127.0.0.1", "port": \(usPort)}, "admin": {"socket": "\(c.adminSocketPath)"},
                 "dataDirectory": "\(c.dataDirectory)",
                 "peers": {"RU-NRRC": {"url": "https://127.0.0.1:\(ruPort)"}, "HCOC-CC": {"url": "https://127.0.0.1:\(hcocPort)"}},
                 "retry": {"initialSeconds": \(initialRetry), "maximumIntervalSeconds": 1}, "limits": {"requestTimeoutSeconds": 10}}
                """
            try Data(json.utf8).write(to: URL(fileURLWithPath: file))
        }
        try writeConfiguration(initialRetry: 0.2)
        let us = try await RunningNode(
            try await NodeConfiguration.load(file: file, environment: [:], checkResources: true),
            configurationFile: file
        )
        let outcome: Result<Void, any Error>
        do {
            try await administer(
                us: us.node.configuration.adminSocketPath,
                ru: ru.node.configuration.adminSocketPath,
                directory: directory,
                pki: pki
            ) {
                try writeConfiguration(initialRetry: -1)
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await us.stop()
        await ru.stop()
        try outcome.get()
    }

    private func administer(
        us: String,
        ru: String,
        directory: URL,
        pki: TestPKI,
        breakConfiguration: () throws -> Void
    ) async throws {
        let start = UTCTime.now + 3 * 86_400
        let document = """
            {"type": "pre-launch", "recipients": ["RU-NRRC", "HCOC-CC"],
             "body": {"class": "space-launch-vehicle", "window-start": "\(start)", "window-end": "\(start + 4 * 3_600)",
                      "launch-area": {"circle": {"center": {"lat": 28.573469, "lon": -80.65107}, "radius-m": 5000}},
                      "impact-areas": [{"polygon": [{"lat": 30.0, "lon": -60.0}, {"lat": 30.0, "lon": -58.0}, {"lat": 28.0, "lon": -58.0}]}],
                      "azimuth": 90.5}}
            """
        let documentPath = directory.appendingPathComponent("note.json").path
        try Data(document.utf8).write(to: URL(fileURLWithPath: documentPath))
        let sent = try await CLI.runOffPool(["send", "--socket", us, "--document", documentPath])
        #expect(sent.status == 0, "\(sent.stderr)")
        let first = sent.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let cancel = try await CLI.runOffPool([
            "send", "--socket", us, "--type", "launch-cancellation", "--to", "RU-NRRC", "--ref", "\(first):cancels",
            "--field", "reason=weather", "--remarks", "Storm over the range", "--lang", "en",
        ])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        let second = cancel.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let deadline = ContinuousClock.now + .seconds(60)
        var delivered = 0
        while delivered < 2 && ContinuousClock.now < deadline {
            let outbox = try await CLI.runOffPool([
                "outbox", "--socket", us, "--state", "delivered", "--to", "RU-NRRC", "--json",
            ])
            delivered = (outbox.stdout.jsonObject?["deliveries"] as? [Any])?.count ?? 0
            if delivered < 2 { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(delivered == 2, "not delivered to RU-NRRC within 60 s")

        let status = try await CLI.runOffPool(["status", "--socket", us])
        #expect(status.status == 0, "\(status.stderr)")
        for text in [
            "node US-NRRC", "certificates:", "signing", "trust signing:", "PEER", "QUEUE", "LAST CONTACT", "RU-NRRC",
            "HCOC-CC",
        ] {
            #expect(status.stdout.contains(text), "\(text) missing in\n\(status.stdout)")
        }
        let statusJSON = try await CLI.runOffPool(["status", "--socket", us, "--json"])
        #expect(statusJSON.stdout.jsonObject?["participant"] as? String == "US-NRRC")

        let retried = try await CLI.runOffPool([
            "retry", "--socket", us, first, "--recipient", "HCOC-CC", "--note", "peer back",
        ])
        #expect(
            retried.status == 0 && retried.stdout.contains("retrying 1 delivery"),
            "\(retried.stdout)\(retried.stderr)"
        )
        let refused = try await CLI.runOffPool(["cancel", "--socket", us, first, "--recipient", "RU-NRRC"])
        #expect(refused.status == 65, "\(refused.stderr)")
        #expect(
            refused.stderr.contains("delivered") && refused.stderr.split(separator: "\n").count == 1,
            "\(refused.stderr)"
        )
        let cancelled = try await CLI.runOffPool(["cancel", "--socket", us, first, "--note", "scrubbed"])
        #expect(
            cancelled.status == 0 && cancelled.stdout.contains("cancelled 1 delivery"),
            "\(cancelled.stdout)\(cancelled.stderr)"
        )
        #expect(cancelled.stdout.contains("HCOC-CC") && cancelled.stdout.contains("cancelled"))
        let badID = try await CLI.runOffPool(["cancel", "--socket", us, "xyz"])
        #expect(badID.status == 64)

        let shown = try await CLI.runOffPool(["show", "--socket", us, second])
        #expect(shown.status == 0)
        #expect(
            shown.stdout.contains("reference chain (oldest first):") && shown.stdout.contains(first)
                && shown.stdout.contains("cancels \(first)"),
            "\(shown.stdout)"
        )

        let grep = try await CLI.runOffPool(["inbox", "--socket", ru, "--grep", "storm RANGE"])
        #expect(grep.status == 0 && grep.stdout.contains(second) && !grep.stdout.contains(first), "\(grep.stdout)")
        let typed = try await CLI.runOffPool([
            "inbox", "--socket", ru, "--since", "1h", "--until", "\(UTCTime.now + 3_600)", "--type", "pre-launch",
        ])
        #expect(typed.status == 0 && typed.stdout.contains(first) && !typed.stdout.contains(second), "\(typed.stdout)")
        let old = try await CLI.runOffPool(["inbox", "--socket", ru, "--until", "2020-01-01"])
        #expect(old.status == 0 && old.stdout.contains("no messages"))
        let limited = try await CLI.runOffPool(["inbox", "--socket", ru, "--limit", "1"])
        #expect(
            limited.stdout.split(separator: "\n").count == 2 && limited.stderr.contains("--after"),
            "\(limited.stdout)\(limited.stderr)"
        )
        let badTime = try await CLI.runOffPool(["inbox", "--socket", ru, "--since", "last tuesday"])
        #expect(badTime.status == 64 && badTime.stderr.contains("--since"), "\(badTime.stderr)")

        let receipts = try await CLI.runOffPool(["receipts", "--socket", us, "--received", "--status", "accepted"])
        #expect(
            receipts.status == 0 && receipts.stdout.contains("RU-NRRC") && receipts.stdout.contains(first),
            "\(receipts.stdout)"
        )
        let issued = try await CLI.runOffPool(["receipts", "--socket", ru, "--issued", "--json"])
        #expect((issued.stdout.jsonObject?["receipts"] as? [Any])?.count == 2)

        let archive = directory.appendingPathComponent("export.parley").path
        let exported = try await CLI.runOffPool([
            "archive", "export", "--socket", us, "--since", "1h", "--until", "now", "--out", archive,
        ])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stdout.contains("2 messages, 2 receipts"), "\(exported.stdout)")
        #expect(exported.stderr.isEmpty, "no progress when standard error is not a terminal: \(exported.stderr)")
        let verified = try await CLI.runOffPool([
            "archive", "verify", archive, "--trust", pki.anchors, "--crl", pki.crls,
        ])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        // On a terminal (script(1) gives it one), progress goes to standard error.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/script") {
            let command =
                ([CLI.executable.path, "archive", "verify", archive, "--trust", pki.anchors, "--crl", pki.crls]).joined(
                    separator: " "
                )
            let terminal = try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread { continuation.resume(with: Result { try runInTerminal(command) }) }
            }
            #expect(terminal.contains("verified 1 items") && terminal.contains("\u{1B}[K"), "\(terminal)")
        }
        let again = try await CLI.runOffPool([
            "archive", "export", "--socket", us, "--since", "1h", "--until", "\(UTCTime.now + 3_600)", "--out", archive,
        ])
        #expect(again.status == 73, "\(again.stderr)")

        let reloaded = try await CLI.runOffPool(["reload", "--socket", us])
        #expect(
            reloaded.status == 0 && reloaded.stdout.contains("unchanged") && reloaded.stdout.contains("trust reloaded"),
            "\(reloaded.stdout)\(reloaded.stderr)"
        )
        try breakConfiguration()
        let refusedReload = try await CLI.runOffPool(["reload", "--socket", us])
        #expect(refusedReload.status == 78, "\(refusedReload.stdout)\(refusedReload.stderr)")
        #expect(
            refusedReload.stdout.contains("retry.initialSeconds: must be a number of seconds"),
            "\(refusedReload.stdout)"
        )
        #expect(refusedReload.stderr.split(separator: "\n").count == 1)
        // The node still runs, but the file on disk would not start it: a warning, status 2.
        let warned = try await CLI.runOffPool(["status", "--socket", us])
        #expect(
            warned.status == 2 && warned.stdout.contains("status: warning")
                && warned.stdout.contains("WARNING: the last reload"),
            "\(warned.stdout)\(warned.stderr)"
        )
    }

    /// `parley status` and `parley status --json` of an in-process node made from RU-NRRC's test
    /// configuration as `adjust` changes it.
    func statusOfANode(
        _ participant: String = "RU-NRRC",
        _ adjust: (inout NodeConfiguration, TestPKI) -> Void
    ) async throws
        -> (table: CLI.Output, json: CLI.Output)
    {
        let pki = try CLITestPKI.shared.get()
        let directory = URL(fileURLWithPath: "/tmp/pcli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = try pki.nodeConfiguration(
            participant,
            port: try freePort(),
            peers: [:],
            directory: directory,
            requestTimeout: 10
        )
        configuration.transportTrust = configuration.signingTrust
        adjust(&configuration, pki)
        let node = try await RunningNode(configuration)
        let table = try await CLI.runOffPool(["status", "--socket", configuration.adminSocketPath])
        let json = try await CLI.runOffPool(["status", "--socket", configuration.adminSocketPath, "--json"])
        await node.stop()
        return (table, json)
    }

    @Test func statusOfANodeWithAnExpiredCRLExits1() async throws {
        let (status, json) = try await statusOfANode { configuration, pki in
            configuration.signingTrust.crls = [pki.path("negative/expired-crl/crls.pem")]
        }
        #expect(status.status == 1, "\(status.stdout)\(status.stderr)")
        #expect(
            status.stdout.contains("status: degraded") && status.stdout.contains("PROBLEM: CRL of"),
            "\(status.stdout)"
        )
        #expect(status.stdout.contains("EXPIRED: refresh the CRLs"), "\(status.stdout)")
        #expect(json.status == 1 && json.stdout.jsonObject?["status"] as? String == "degraded")
    }

    /// `parley status || alert` must catch what stops a node from working (an expired transport CRL:
    /// every peer's connection refused) and what needs an operator soon (a certificate to renew).
    @Test func statusReportsAnExpiredTransportCRLAsAProblemAndACertificateToRenewAsAWarning() async throws {
        let (degraded, _) = try await statusOfANode { configuration, pki in
            configuration.transportTrust.crls = [pki.path("negative/expired-crl/crls.pem")]
        }
        #expect(degraded.status == 1, "\(degraded.stdout)\(degraded.stderr)")
        #expect(degraded.stdout.contains("PROBLEM: transport CRL of"), "\(degraded.stdout)")

        // An expired TLS certificate: peers refuse every connection, both ways.
        let (expiredTLS, _) = try await statusOfANode("US-NRRC") { configuration, pki in
            configuration.tlsChainPath = pki.path("negative/expired/signing-chain.pem")
            configuration.tlsKeyPath = pki.path("negative/expired/signing.key")
        }
        #expect(
            expiredTLS.status == 1 && expiredTLS.stdout.contains("PROBLEM: the TLS certificate expired at"),
            "\(expiredTLS.stdout)\(expiredTLS.stderr)"
        )
        #expect(!expiredTLS.stdout.contains("expires in -"), "\(expiredTLS.stdout)")

        let (warned, json) = try await statusOfANode("US-NRRC") { configuration, _ in
            configuration.certificateExpiryWarningDays = 3_650
        }
        #expect(warned.status == 2, "\(warned.stdout)\(warned.stderr)")
        #expect(
            warned.stdout.contains("status: warning")
                && warned.stdout.contains("WARNING: the signing certificate expires in"),
            "\(warned.stdout)"
        )
        #expect(json.status == 2 && json.stdout.jsonObject?["status"] as? String == "warning")
    }

    /// A list longer than a page says how many more there are and prints the command for the next
    /// page, which works as printed.
    @Test func outboxPagesAndNamesTheNextPage() async throws {
        let pki = try CLITestPKI.shared.get()
        let directory = URL(fileURLWithPath: "/tmp/pcli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // RU-NRRC never runs: every delivery stays undelivered.
        let us = try await RunningNode(
            try pki.nodeConfiguration(
                "US-NRRC",
                port: try freePort(),
                peers: ["RU-NRRC": try freePort()],
                directory: directory,
                requestTimeout: 10
            )
        )
        let outcome: Result<Void, any Error>
        do {
            let socket = us.node.configuration.adminSocketPath
            let draft =
                #"{"type": "general-communication", "recipients": ["RU-NRRC"], "body": {"subject": "Paging", "text": {"lang": "en", "text": "One of many."}}}"#
            let path = directory.appendingPathComponent("drafts.json").path
            try Data(("[" + Array(repeating: draft, count: 130).joined(separator: ",") + "]").utf8).write(
                to: URL(fileURLWithPath: path)
            )
            let sent = try await CLI.runOffPool(["send", "--socket", socket, "--document", path])
            #expect(sent.status == 0, "\(sent.stderr)")
            #expect(sent.stderr.contains("follow them with `parley outbox --socket \(socket)`"), "\(sent.stderr)")

            let first = try await CLI.runOffPool(["outbox", "--socket", socket])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.split(separator: "\n").count == 1 + 100, "a header and the default 100 rows")
            let hint = try #require(first.stderr.split(separator: "\n").last.map(String.init))
            #expect(
                hint.hasPrefix("… 30 more deliveries; next page: parley outbox --socket \(socket) --after "),
                "\(hint)"
            )
            let command = try #require(
                hint.components(separatedBy: "next page: ").last?.components(separatedBy: " (or a larger").first
            )
            let arguments = command.split(separator: " ").dropFirst().map(String.init)
            let second = try await CLI.runOffPool(arguments)
            #expect(
                second.status == 0 && second.stdout.split(separator: "\n").count == 1 + 30,
                "\(second.stdout)\(second.stderr)"
            )
            #expect(!second.stderr.contains("more"), "the last page says nothing more: \(second.stderr)")
            let firstIDs = Set(first.stdout.split(separator: "\n").dropFirst().map { $0.prefix(32) })
            let secondIDs = Set(second.stdout.split(separator: "\n").dropFirst().map { $0.prefix(32) })
            #expect(firstIDs.count == 100 && secondIDs.count == 30 && firstIDs.isDisjoint(with: secondIDs))

            let json = try await CLI.runOffPool([
                "outbox", "--socket", socket, "--limit", "120", "--oldest-first", "--json",
            ])
            let object = try #require(json.stdout.jsonObject)
            #expect(
                (object["deliveries"] as? [Any])?.count == 120 && object["more"] as? Int == 10
                    && object["next"] is String
            )
            let all = try await CLI.runOffPool(["outbox", "--socket", socket, "--limit", "500"])
            #expect(all.stdout.split(separator: "\n").count == 131 && all.stderr.isEmpty, "\(all.stderr)")
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await us.stop()
        try outcome.get()
    }

    @Test func unreachableDaemonExits69() async throws {
        let directory = TemporaryDirectory()
        let absent = directory.path("absent.sock")
        let output = try await CLI.runOffPool(["outbox", "--socket", absent])
        #expect(output.status == 69)
        #expect(
            output.stderr == "parley: error: cannot reach parleyd at \(absent): no such socket; is it running?\n",
            "\(output.stderr)"
        )
        // A file that is not a listening socket.
        let stale = directory.write("stale.sock", "")
        let refused = try await CLI.runOffPool(["show", "--socket", stale, MessageID.generate().hex])
        #expect(refused.status == 69)
        #expect(
            refused.stderr.hasPrefix("parley: error: cannot reach parleyd at \(stale): ")
                && refused.stderr.hasSuffix("; is it running?\n"),
            "\(refused.stderr)"
        )
        #expect(refused.stderr.split(separator: "\n").count == 1)
    }
}

/// Runs a shell command line under script(1), so that its standard streams are a terminal; returns
/// what the terminal showed.
func runInTerminal(_ command: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    process.arguments = ["-q", "-e", "-c", command, "/dev/null"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

extension CLI {
    /// `run` on a thread outside the cooperative pool, so that nodes in this process keep running.
    static func runOffPool(_ arguments: [String]) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try run(arguments) }) }
        }
    }
}
