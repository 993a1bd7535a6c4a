import ArgumentParser
import AsyncHTTPClient
import Foundation
import ParleyCodec
import ParleyCrypto
import NIOCore
import ParleyNode
import ParleyProtocol
import ParleyStore
#if canImport(Glibc)
import Glibc
#endif

/// Times given on the command line: RFC 3339 UTC, a date (midnight UTC), an age (`30m`, `24h`,
/// `7d`), or `now` (the end of the current second, so that an exclusive --until includes it).
enum CLITime {
    static func parse(_ text: String?, option: String, now: UTCTime = .now) throws -> UTCTime? {
        guard let text else { return nil }
        if text == "now" { return now + 1 }
        if let time = try? UTCTime(rfc3339: text) { return time }
        if let date = try? CalendarDate(text), let time = try? UTCTime(rfc3339: "\(date)T00:00:00Z") { return time }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        if let unit = text.last, let count = Int64(text.dropLast()), count >= 0, count < 100_000_000,
            let seconds = units[unit]
        {
            return now + -(count * seconds)
        }
        throw ValidationError(
            "\(option) \(text) is not a time: use RFC 3339 UTC (2026-11-01T06:00:00Z), a date (2026-11-01), an age (30m, 24h, 7d) or now"
        )
    }
}

/// Progress on standard error, only when it is a terminal; one line rewritten in place.
struct ProgressLine {
    let enabled = isatty(STDERR_FILENO) == 1
    private var lastShown = Date.distantPast

    mutating func show(_ text: @autoclosure () -> String, force: Bool = false) {
        guard enabled, force || Date().timeIntervalSince(lastShown) > 0.1 else { return }
        lastShown = Date()
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text())".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

/// `parley status`: the node, its certificates, trust, store and peers.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the local parleyd's state: identity, version, uptime, certificates, trust, queue and peers.",
        discussion: """
            One table row per peer: messages waiting (QUEUE), the oldest of them, the last time the peer \
            was heard from (a receipt or a message), its next delivery attempt and the last error. \
            Certificates expiring within certificateExpiryWarningDays and expired CRLs are flagged.

            Examples:
              parley status
              parley status --json | jq .peers

            Exit status: 0 when the node reports no problem and no warning, 1 when it is degraded (e.g. \
            an expired CRL: it refuses messages until the CRLs are refreshed), 2 when it reports only \
            warnings (a certificate to renew, expired deliveries, a failed reload, keys waiting for a \
            restart), 69 when it cannot be \
            reached. For monitoring: `parley status >/dev/null || alert`.

            \(ExitStatus.seeTable)
            """
    )

    @OptionGroup var daemon: DaemonOptions

    func run() async throws {
        let answer = try await AdminClient.request(daemon.socket, "/v1/status")
        let status = try AdminClient.decode(AdminAPI.NodeStatus.self, answer)
        if daemon.json {
            AdminClient.printRaw(answer)
        } else {
            print(Self.render(status))
        }
        if !status.problems.isEmpty { throw ExitCode(ExitStatus.verificationFailed) }
        if !status.warnings.isEmpty { throw ExitCode(ExitStatus.warnings) }
    }

    static func render(_ s: AdminAPI.NodeStatus) -> String {
        var lines = [
            "node \(s.participant) — parleyd \(s.version), up \(duration(s.uptimeSeconds)) (since \(s.started))",
            "status: \(s.status)" + (s.hub ? " (hub)" : ""),
        ]
        for problem in s.problems { lines.append("  PROBLEM: \(problem)") }
        for warning in s.warnings { lines.append("  WARNING: \(warning)") }
        if let file = s.configurationFile { lines.append("configuration: \(file)") }
        if let reload = s.lastReload {
            lines.append("last reload: \(reload.at) (\(reload.succeeded ? "succeeded" : "FAILED"))")
        }
        lines.append("certificates:")
        for c in s.certificates {
            let warning = c.warning ? "  WARNING: renew it" : ""
            lines.append(
                "  \(c.certificate.padding(toLength: 8, withPad: " ", startingAt: 0)) expires \(c.notAfter) (\(c.daysLeft) days)  \(c.subject)\(warning)"
            )
        }
        for (name, t) in [("signing", s.trust.signing), ("transport", s.trust.transport)] {
            let expired = t.crls.filter(\.expired).count
            let next = t.crls.map(\.nextUpdate).min() ?? "none"
            lines.append(
                "trust \(name): \(t.anchors.count) anchors, \(t.crls.count) CRLs, next CRL update due \(next)"
                    + (expired > 0 ? "  \(expired) EXPIRED: refresh the CRLs" : "")
            )
        }
        let store = s.store
        var line =
            "store: \(store.sent) sent, \(store.received) received, \(store.queued) \(store.queued == 1 ? "delivery" : "deliveries") waiting"
        if let oldest = store.oldestUndelivered { line += ", oldest queued \(oldest)" }
        if store.alerts > 0 { line += ", \(store.alerts) ALERTS (equivocation/replay)" }
        lines.append(line)
        if s.peers.isEmpty {
            lines.append("peers: none configured")
        } else {
            lines.append("")
            lines.append(
                table(
                    ["PEER", "QUEUE", "OLDEST UNDELIVERED", "LAST CONTACT", "NEXT ATTEMPT", "LAST ERROR"],
                    s.peers.map { p in
                        var name = p.id
                        if let via = p.via { name += " (via \(via))" }
                        if !p.configured { name += " (not configured)" }
                        let next = p.nextAttempt ?? ((p.inFlight ?? 0) > 0 ? "in flight" : "")
                        return [
                            name, "\(p.queueDepth)", p.oldestUndelivered ?? "", p.lastContact ?? "", next,
                            shorten(p.lastError ?? p.forwardError.map { "forwarding: \($0)" } ?? "", 60),
                        ]
                    }
                )
            )
            // SPEC.md §10.2: which sender, which numbers, since when.
            for p in s.peers {
                for gap in p.openGaps {
                    let numbers = gap.first == gap.last ? "\(gap.first)" : "\(gap.first)…\(gap.last)"
                    lines.append(
                        "gap: \(p.id) \(numbers) not received, open since \(gap.since) (a gap that lasts means lost or rejected messages: ask \(p.id)'s operators)"
                    )
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    static func duration(_ seconds: Int) -> String {
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 7_200 { return "\(seconds / 60) min" }
        if seconds < 172_800 { return "\(seconds / 3_600) h" }
        return "\(seconds / 86_400) days"
    }
}

/// Options shared by `retry` and `cancel`.
struct OperatorOptions: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            "The id of a message this node sent (32 hex digits). Example: 0192f3a06c007a108b2c3d4e5f601001",
            valueName: "id"
        )
    )
    var id: String

    @Option(
        help: ArgumentHelp(
            "Only the delivery to this recipient (default: every recipient). Example: --recipient RU-NRRC",
            valueName: "id"
        )
    )
    var recipient: String?

    @Option(
        help: ArgumentHelp(
            "A note kept in the audit log with the action. Example: --note \"ticket 4711\"",
            valueName: "text"
        )
    )
    var note: String?

    func validate() throws {
        guard (try? MessageID(hex: id)) != nil else {
            throw ValidationError(
                "\(id) is not a message id: expected 32 hex digits, e.g. 0192f3a06c007a108b2c3d4e5f601001"
            )
        }
        if let recipient, (try? ParticipantID(recipient)) == nil {
            throw ValidationError("--recipient \(recipient) is not a participant id (1–64 of A–Z 0–9 -)")
        }
    }

    func body() throws -> [UInt8] {
        Array(try AdminAPI.encoder().encode(AdminAPI.OperatorRequest(recipient: recipient, note: note)))
    }

    func printDeliveries(_ deliveries: [AdminAPI.Delivery], verb: String, count: Int) {
        print("\(verb) \(count) \(count == 1 ? "delivery" : "deliveries") of \(id.lowercased())")
        print(
            table(
                ["TO", "SEQ", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"],
                deliveries.map { d in
                    // A next attempt only while one will be made.
                    [
                        d.recipient, "\(d.seq)", d.state, "\(d.attempts)", d.state == "pending" ? d.nextAttempt : "",
                        deliveryError(d),
                    ]
                }
            )
        )
    }
}

/// `parley retry ID`: deliver a queued (or expired, rejected, cancelled) message now.
struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the local parleyd attempt a message's delivery now.",
        discussion: """
            Resets the next attempt of the message's undelivered deliveries (pending, expired, rejected \
            or cancelled) to now and wakes the delivery loops. Delivered deliveries are left alone. \
            The action is recorded in the audit log, with --note if given.

            Examples:
              parley retry 0192f3a06c007a108b2c3d4e5f601001
              parley retry 0192f3a06c007a108b2c3d4e5f601001 --recipient RU-NRRC \\
                  --note "peer back after maintenance"

            Exit status: 0 done, 65 nothing to retry (every delivery is delivered), 66 no such \
            message was sent by this node, 69 the daemon cannot be reached.

            \(ExitStatus.seeTable)
            """
    )

    @OptionGroup var daemon: DaemonOptions
    @OptionGroup var options: OperatorOptions

    func run() async throws {
        let answer = try await AdminClient.request(
            daemon.socket,
            "/v1/messages/\(options.id.lowercased())/retry",
            post: try options.body()
        )
        if daemon.json { return AdminClient.printRaw(answer) }
        let retried = try AdminClient.decode(AdminAPI.RetryAnswer.self, answer)
        options.printDeliveries(retried.deliveries, verb: "retrying", count: retried.retried)
    }
}

/// `parley cancel ID`: stop delivering a queued message.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop the local parleyd from delivering a queued message (to one recipient or all).",
        discussion: """
            Cancels the message's deliveries that are pending, in flight or expired. A delivery that \
            was delivered or rejected (the recipient signed a receipt) is never cancelled. The action \
            is recorded in the audit log, with --note if given; `parley retry` undoes it.

            Examples:
              parley cancel 0192f3a06c007a108b2c3d4e5f601001
              parley cancel 0192f3a06c007a108b2c3d4e5f601001 --recipient RU-NRRC \\
                  --note "sent in error"

            Exit status: 0 done, 65 nothing to cancel (every delivery is settled), 66 no such \
            message was sent by this node (or not to --recipient), 69 the daemon cannot be reached.

            \(ExitStatus.seeTable)
            """
    )

    @OptionGroup var daemon: DaemonOptions
    @OptionGroup var options: OperatorOptions

    func run() async throws {
        let answer = try await AdminClient.request(
            daemon.socket,
            "/v1/messages/\(options.id.lowercased())/cancel",
            post: try options.body()
        )
        if daemon.json { return AdminClient.printRaw(answer) }
        let cancelled = try AdminClient.decode(AdminAPI.CancelAnswer.self, answer)
        options.printDeliveries(cancelled.deliveries, verb: "cancelled", count: cancelled.cancelled)
    }
}

/// `parley reload`: the daemon reads its configuration, trust anchors and CRLs again.
struct Reload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the local parleyd read its configuration file, trust anchors and CRLs again (as SIGHUP).",
        discussion: """
            Applied at once: trust anchors and CRLs, peers (added, removed, new URL), the retry policy, \
            limits, clockSkewSeconds, certificateExpiryWarningDays and gapWarningSeconds. Other changed \
            keys (participant, keys and certificates, listen addresses, admin socket, metrics listener, \
            data directory, hub mode, acceptForwardedFrom) are listed as needing a restart and keep \
            their running value. A file with problems changes nothing: every problem is printed and \
            the running configuration stays (trust is still re-read from the paths in use).

            Example:
              parley reload

            Exit status: 0 reloaded, 78 the daemon kept its configuration or trust because a file \
            has problems (each is printed), 69 the daemon cannot be reached.

            \(ExitStatus.seeTable)
            """
    )

    @OptionGroup var daemon: DaemonOptions

    func run() async throws {
        let answer = try await AdminClient.request(daemon.socket, "/v1/reload", post: [], timeout: .seconds(120))
        let reload = try AdminClient.decode(AdminAPI.ReloadAnswer.self, answer)
        if daemon.json {
            AdminClient.printRaw(answer)
        } else {
            for line in reload.lines { print(line) }
        }
        guard reload.status == "reloaded" else {
            throw CLIError(
                ExitStatus.configuration,
                "parleyd did not reload everything; the problems are listed above, fix them and run `parley reload` again"
            )
        }
    }
}

/// `parley receipts`: receipts received and issued.
struct Receipts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the receipts the local parleyd received and issued (rejections included), newest first.",
        discussion: """
            Issued receipts include the signed rejections this node returned for messages it did not \
            store (MESSAGE STORED: no). PEER is the other party: the recipient that signed a received \
            receipt, the sender of the message an issued receipt answers. Times as for `parley inbox`, \
            compared with the time the receipt was stored. --limit receipts (default 100); when more \
            match, the last line (on standard error) gives the command for the next page (--after).

            Examples:
              parley receipts --since 24h
              parley receipts --issued --status rejected
              parley receipts --peer RU-NRRC --json

            \(ExitStatus.seeTable)
            """
    )

    @OptionGroup var daemon: DaemonOptions

    @Flag(help: "Only receipts this node issued. Example: --issued --status rejected")
    var issued = false

    @Flag(help: "Only receipts this node received for its own messages. Example: --received --since 24h")
    var received = false

    @Option(
        help: ArgumentHelp("Only receipts exchanged with this participant. Example: --peer RU-NRRC", valueName: "id")
    )
    var peer: String?

    @Option(
        help: ArgumentHelp(
            "Only receipts with this status: accepted, duplicate, rejected. Example: --status rejected",
            valueName: "status"
        )
    )
    var status: String?

    @Option(
        help: ArgumentHelp(
            "Only receipts for this message id. Example: --message 0192f3a06c007a108b2c3d4e5f601001",
            valueName: "id"
        )
    )
    var message: String?

    @Option(help: ArgumentHelp("Stored at or after this time. Example: --since 24h", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Stored before this time. Example: --until 2026-12-01", valueName: "time"))
    var until: String?

    @OptionGroup var page: PageOptions

    func validate() throws {
        if issued && received {
            throw ValidationError("--issued and --received exclude each other; give neither to see both")
        }
        if let status, ReceiptStatusCode(name: status) == nil {
            throw ValidationError("--status \(status) must be accepted, duplicate or rejected")
        }
        if let message, (try? MessageID(hex: message)) == nil {
            throw ValidationError("--message \(message) is not a message id (32 hex digits)")
        }
        _ = try CLITime.parse(since, option: "--since")
        _ = try CLITime.parse(until, option: "--until")
    }

    func run() async throws {
        let uri = AdminClient.uri(
            "/v1/receipts",
            [
                ("direction", issued ? "issued" : received ? "received" : nil), ("peer", peer), ("status", status),
                ("message", message?.lowercased()), ("since", try CLITime.parse(since, option: "--since")?.description),
                ("until", try CLITime.parse(until, option: "--until")?.description),
            ] + page.parameters
        )
        let answer = try await AdminClient.request(daemon.socket, uri)
        if daemon.json { return AdminClient.printRaw(answer) }
        let receipts = try AdminClient.decode(AdminAPI.ReceiptPage.self, answer)
        guard !receipts.receipts.isEmpty else { return print("no receipts") }
        defer { page.reportMore(more: receipts.more, next: receipts.next, one: "receipt", many: "receipts") }
        print(
            table(
                ["STORED", "DIRECTION", "PEER", "MESSAGE", "STATUS", "MESSAGE STORED", "REASON"],
                receipts.receipts.map { r in
                    [
                        r.stored, r.direction, r.peer ?? "", r.message, r.status,
                        r.messageStored == false ? "no" : "yes", shorten(r.reason ?? "", 60),
                    ]
                }
            )
        )
    }
}

/// `parley archive export`: an archive of a time range, written by the CLI from the daemon's stream.
struct ArchiveExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export the local parleyd's messages and receipts of a time range to an archive file.",
        discussion: """
            Every message the node stored (sent or received) in [--since, --until), with all its \
            receipts and deliveries, and the state of every channel (Protocol/ARCHIVE.md). The daemon \
            writes the archive into its data directory and streams it here; the file is written \
            under a temporary name, synced, checked (structure and SHA-256 trailer) and only then \
            renamed to --out. An existing file is never overwritten. Progress is shown on standard \
            error when it is a terminal. Verify it offline with `parley archive verify`.

            Examples:
              parley archive export --since 2026-01-01 --until 2027-01-01 \\
                  --out parley-2026.parley
              parley archive export --since 30d --until now --out last-month.parley

            \(ExitStatus.seeTable)
            """
    )

    @OptionGroup var daemon: DaemonOptions

    @Option(
        help: ArgumentHelp(
            "Messages stored at or after this time (RFC 3339, date or age). Example: --since 2026-01-01",
            valueName: "time"
        )
    )
    var since: String

    @Option(
        help: ArgumentHelp(
            "Messages stored before this time (now: up to this moment). Example: --until 2027-01-01T00:00:00Z",
            valueName: "time"
        )
    )
    var until: String

    @Option(
        help: ArgumentHelp(
            "The archive file to create (must not exist). Example: --out parley-2026.parley",
            valueName: "file"
        )
    )
    var out: String

    func validate() throws {
        guard let from = try CLITime.parse(since, option: "--since"),
            let to = try CLITime.parse(until, option: "--until")
        else { return }
        guard from <= to else { throw ValidationError("--since \(from) is after --until \(to)") }
    }

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: out) else {
            throw CLIError(ExitStatus.cannotCreate, "\(out) exists already; choose another --out or remove it first")
        }
        let from = try CLITime.parse(since, option: "--since")!
        let to = try CLITime.parse(until, option: "--until")!
        let file: DurableFile
        do {
            file = try DurableFile(path: out, mode: 0o600)
        } catch {
            throw CLIError(writing: error)
        }
        var progress = ProgressLine()
        progress.show("parleyd is exporting \(from) – \(to)…", force: true)
        do {
            let received = try await download(
                AdminClient.uri("/v1/archive", [("since", from.description), ("until", to.description)]),
                into: file,
                progress: &progress
            )
            progress.show("checking \(mebibytes(received))…", force: true)
            let summary: ArchiveSummary
            do {
                summary = try ParleyStore.readArchive(at: file.temporaryPath)
            } catch let error as StoreError {
                throw CLIError(
                    ExitStatus.ioError,
                    "the archive received from parleyd does not check out (\(error.reason)); nothing was written to \(out), try again"
                )
            }
            do {
                try file.commit()
            } catch {
                throw CLIError(writing: error)
            }
            progress.finish()
            if daemon.json {
                let object: [String: Any] = [
                    "file": out, "messages": summary.messages, "receipts": summary.receipts,
                    "channels": summary.channels,
                    "size": summary.size, "sha256": Hex.encode(summary.digest),
                    "from": from.description, "to": to.description,
                ]
                print(
                    String(
                        decoding: try JSONSerialization.data(
                            withJSONObject: object,
                            options: [.sortedKeys, .withoutEscapingSlashes]
                        ),
                        as: UTF8.self
                    )
                )
            } else {
                print(
                    "\(out): \(summary.messages) messages, \(summary.receipts) receipts, \(summary.channels) channels, \(mebibytes(summary.size)), SHA-256 \(Hex.encode(summary.digest))"
                )
            }
        } catch {
            progress.finish()
            file.abandon()
            throw error
        }
    }

    /// Streams the daemon's answer into `file`; returns the byte count.
    private func download(_ uri: String, into file: DurableFile, progress: inout ProgressLine) async throws -> Int {
        let socket = daemon.socket
        guard FileManager.default.fileExists(atPath: socket) else {
            throw AdminClient.unreachable(socket, "no such socket")
        }
        if let failure = AdminClient.connectFailure(socket) { throw AdminClient.unreachable(socket, failure) }
        guard let url = URL(httpURLWithSocketPath: socket, uri: uri) else {
            throw CLIError(ExitStatus.usage, "--socket \(socket) is not a usable socket path")
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: url.absoluteString),
                timeout: .hours(6)
            )
        } catch {
            throw AdminClient.unreachable(socket, AdminClient.reason(error))
        }
        guard response.status.code == 200 else {
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { Array(buffer: $0) } ?? []
            try AdminClient.check(response.status.code, body)
            throw CLIError(ExitStatus.unavailable, "parleyd answered HTTP \(response.status.code) to the export")
        }
        let total = response.headers.first(name: "Content-Length").flatMap(Int.init)
        var received = 0
        do {
            for try await chunk in response.body {
                let bytes = Array(buffer: chunk)
                do {
                    try file.write(bytes)
                } catch {
                    throw CLIError(writing: error)
                }
                received += bytes.count
                progress.show(
                    "received \(mebibytes(received))"
                        + (total.map { " of \(mebibytes($0)) (\(received * 100 / max(1, $0)) %)" } ?? "")
                )
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError(
                ExitStatus.ioError,
                "the export stream from parleyd broke after \(mebibytes(received)): \(AdminClient.reason(error)); nothing was written to \(out)"
            )
        }
        if let total, total != received {
            throw CLIError(
                ExitStatus.ioError,
                "parleyd announced \(total) bytes but sent \(received); nothing was written to \(out)"
            )
        }
        return received
    }
}
