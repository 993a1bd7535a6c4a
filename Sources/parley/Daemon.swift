import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import ParleyNode
import ParleyProtocol
import ParleyStore
#if canImport(Glibc)
import Glibc
#endif

/// The admin socket of the local `parleyd`, shared by the daemon commands.
struct DaemonOptions: ParsableArguments {
    static let defaultSocket = "/run/parley/admin.sock"

    @Option(
        help: ArgumentHelp(
            "The daemon's admin socket (admin.socket in parleyd.json). Example: --socket /run/parley/admin.sock",
            valueName: "path"
        )
    )
    var socket: String = DaemonOptions.defaultSocket

    @Flag(
        help:
            "Print the daemon's JSON answer instead of a table (whether or not standard output is a terminal). Example: parley status --json | jq .peers"
    )
    var json = false

    /// ` --socket PATH` when it is not the default, for the commands a hint suggests.
    var socketOption: String { socket == Self.defaultSocket ? "" : " --socket \(shellQuoted(socket))" }
}

/// `text` as one shell word (single-quoted when it holds anything but safe characters).
func shellQuoted(_ text: String) -> String {
    let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,")
    guard !text.isEmpty, text.unicodeScalars.allSatisfy(safe.contains) else {
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
    return text
}

/// A JSON request to parleyd's admin API over its Unix socket (AsyncHTTPClient, `http+unix://`).
enum AdminClient {
    static func request(
        _ socket: String,
        _ uri: String,
        post body: [UInt8]? = nil,
        timeout: TimeAmount = .seconds(30)
    ) async throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: socket) else {
            throw unreachable(socket, "no such socket")
        }
        if let failure = connectFailure(socket) { throw unreachable(socket, failure) }
        guard let url = URL(httpURLWithSocketPath: socket, uri: uri) else {
            throw CLIError(ExitStatus.usage, "--socket \(socket) is not a usable socket path")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        if let body {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw unreachable(socket, reason(error))
        }
        let data = Array(buffer: bytes)
        try check(response.status.code, data)
        return data
    }

    /// Throws the CLI error for an answer that is not 2xx: 404 → 66, other 4xx → 65, else 69.
    static func check(_ status: UInt, _ data: [UInt8]) throws {
        guard (200..<300).contains(status) else {
            let problem = try? JSONDecoder().decode(Problem.self, from: Data(data))
            let text = [problem?.title, problem?.detail].compactMap { $0 }.filter { !$0.isEmpty }.joined(
                separator: ": "
            )
            let what = text.isEmpty ? "HTTP \(status)" : text
            switch status {
            case 404: throw CLIError(ExitStatus.noInput, "parleyd: \(what)")
            case 400..<500: throw CLIError(ExitStatus.invalidData, "parleyd refused the request: \(what)")
            default:
                throw CLIError(
                    ExitStatus.unavailable,
                    "parleyd failed (HTTP \(status)): \(what); see its log (journalctl -u parleyd)"
                )
            }
        }
    }

    /// Percent-encodes a query parameter value.
    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            ?? value
    }

    /// `path?name=value&…` for the given parameters (nil values left out).
    static func uri(_ path: String, _ parameters: [(String, String?)]) -> String {
        let query = parameters.compactMap { name, value in value.map { "\(name)=\(encode($0))" } }
        return path + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// Why a plain connect(2) to the socket fails, or nil if it succeeds (AsyncHTTPClient would
    /// retry a refused connection until its deadline instead of failing at once).
    static func connectFailure(_ path: String) -> String? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            return "the socket path is longer than \(MemoryLayout.size(ofValue: address.sun_path) - 1) bytes"
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in bytes.enumerated() { buffer[i] = byte }
        }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
        return connected ? nil : String(cString: strerror(errno)).lowercased()
    }

    static func unreachable(_ socket: String, _ reason: String) -> CLIError {
        CLIError(ExitStatus.unavailable, "cannot reach parleyd at \(socket): \(reason); is it running?")
    }

    static func reason(_ error: any Error) -> String {
        if let error = error as? HTTPClientError, error == .connectTimeout || error == .deadlineExceeded {
            return "no answer in time"
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return "no answer in time" }
        switch TransportErrorText.errnoCode(error) {
        case ECONNREFUSED: return "connection refused"
        case EACCES: return "permission denied (is your user in the parley group?)"
        default: break
        }
        let text = String(describing: error)
        return humanized(text.split(separator: "\n").first.map(String.init) ?? text)
    }

    /// An error text for an operator: a Swift name such as `HTTPClientError.remoteConnectionClosed`
    /// becomes "remote connection closed".
    static func humanized(_ text: String) -> String {
        let name = try! Regex(#"^[A-Z][A-Za-z]*Error\.([a-z][A-Za-z]*)"#)
        guard let match = text.firstMatch(of: name), let word = match.output[1].substring else { return text }
        var words = ""
        for character in word {
            if character.isUppercase { words += " " }
            words += character.lowercased()
        }
        return words + text[match.range.upperBound...]
    }

    /// The daemon's answer as the admin API's type for it (Sources/ParleyNode/Admin).
    static func decode<Answer: Decodable>(_ type: Answer.Type, _ bytes: [UInt8]) throws -> Answer {
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(bytes))
        } catch {
            throw CLIError(
                ExitStatus.software,
                "parleyd answered with something this parley cannot read (is it the same version as parleyd?)"
            )
        }
    }

    static func printRaw(_ bytes: [UInt8]) {
        print(String(decoding: bytes, as: UTF8.self))
    }
}

/// Paging options shared by the list commands (outbox, inbox, receipts).
struct PageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("At most this many items (1–10000). Example: --limit 500", valueName: "n"))
    var limit: Int = AdminLimits.defaultLimit

    @Option(
        help: ArgumentHelp(
            "Continue after this position: the one printed after a page that has more (\"next\" in --json).",
            valueName: "position"
        )
    )
    var after: String?

    func validate() throws {
        guard (1...AdminLimits.maximumLimit).contains(limit) else {
            throw ValidationError("--limit \(limit) must be between 1 and \(AdminLimits.maximumLimit)")
        }
        if let after, after.isEmpty { throw ValidationError("--after needs the position a previous page ended with") }
    }

    var parameters: [(String, String?)] { [("limit", "\(limit)"), ("after", after)] }

    /// After a page: when more items match, how many and the command that shows the next page.
    func reportMore(more: Int, next: String?, one: String, many: String) {
        guard more > 0, let next else { return }
        var arguments: [String] = []
        var words = CommandLine.arguments.dropFirst()[...]
        while let word = words.popFirst() {
            if word == "--after" {
                _ = words.popFirst()
                continue
            }
            if word.hasPrefix("--after=") { continue }
            arguments.append(shellQuoted(word))
        }
        let command = (["parley"] + arguments + ["--after", shellQuoted(next)]).joined(separator: " ")
        FileHandle.standardError.write(
            Data(
                "… \(more) more \(more == 1 ? one : many); next page: \(command) (or a larger --limit, up to \(AdminLimits.maximumLimit))\n"
                    .utf8
            )
        )
    }
}

/// The admin API's page sizes.
enum AdminLimits {
    static let defaultLimit = AdminAPI.defaultLimit
    static let maximumLimit = AdminAPI.maximumLimit
}

/// Fixed-width columns for a terminal.
func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }
        .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

/// What went wrong with a delivery, for a table: its rejection, or its last attempt's error while it
/// is undelivered (a delivered or cancelled delivery keeps an old error that no longer matters).
func deliveryError(_ delivery: AdminAPI.Delivery) -> String {
    if let rejection = delivery.rejection { return rejection }
    return ["delivered", "cancelled"].contains(delivery.state) ? "" : delivery.lastError ?? ""
}

/// `parley send`: the daemon validates, signs and queues a notification.
struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a notification to the local parleyd, which signs and delivers it.",
        discussion: """
            Takes a composition document (--document) or the same parts as `parley compose` (--type, \
            --to, --ref, --body, --field, --remarks/--lang), without key, certificate or sequence \
            numbers: the daemon signs with its own key and numbers each channel. Prints the message id.

            A --document holding a JSON array of 1 to 1000 composition documents (and no other draft \
            option) submits them in one request: each is queued or refused on its own, as if sent \
            alone; one line per draft, in order: its message id, or `refused` and why.

            Examples:
              parley send --document prelaunch.json
              parley send --type launch-cancellation --to RU-NRRC \\
                  --ref 0192f3a06c007a108b2c3d4e5f601001:cancels --field reason=technical
              parley send --document declarations.json      # an array of drafts

            Exit status: 0 queued (every draft of an array), 65 the daemon refused the draft (the \
            field is named; for an array: at least one draft, the others were queued), 69 the daemon \
            cannot be reached.

            \(ExitStatus.seeTable)
            """
    )

    @OptionGroup var daemon: DaemonOptions

    @OptionGroup var draft: DraftOptions

    func run() async throws {
        if let path = draft.document, case .array(let drafts) = try draft.parseJSON(path, what: "composition document")
        {
            return try await sendArray(drafts, from: path)
        }
        let document = try draft.documentFromOptions()
        let answer = try await AdminClient.request(daemon.socket, "/v1/drafts", post: Array(document.serialized.utf8))
        if daemon.json { return AdminClient.printRaw(answer) }
        let queued = try AdminClient.decode(AdminAPI.QueuedDraft.self, answer)
        print(queued.id)
        FileHandle.standardError.write(
            Data(
                "queued for \(Self.numbers(queued)); follow it with `parley show \(queued.id)\(daemon.socketOption)`\n"
                    .utf8
            )
        )
    }

    /// Submits an array of drafts in one request (`POST /v1/drafts` with a JSON array).
    private func sendArray(_ drafts: [JSONValue], from path: String) async throws {
        guard draft.type == nil, draft.recipients.isEmpty, draft.references.isEmpty, draft.body == nil,
            draft.fields.isEmpty,
            draft.remarks == nil
        else {
            throw CLIError(
                ExitStatus.usage,
                "\(path) holds an array of drafts: give each draft's parts in the file, not as --type, --to, --ref, --body, --field or --remarks"
            )
        }
        guard (1...1_000).contains(drafts.count) else {
            throw CLIError(
                ExitStatus.invalidData,
                "\(path) holds \(drafts.count) drafts; an array holds 1 to 1000 (split it)"
            )
        }
        for (index, item) in drafts.enumerated() {
            guard case .object = item else {
                throw CLIError(
                    ExitStatus.invalidData,
                    "\(path): draft \(index + 1) is not a JSON object (a composition document, NOTIFICATIONS.md §2.1)"
                )
            }
        }
        let answer = try await AdminClient.request(
            daemon.socket,
            "/v1/drafts",
            post: Array(JSONValue.array(drafts).serialized.utf8),
            timeout: .seconds(120)
        )
        let results = try AdminClient.decode(AdminAPI.DraftArrayAnswer.self, answer).results
        guard results.count == drafts.count else {
            throw CLIError(
                ExitStatus.software,
                "parleyd answered \(results.count) results for \(drafts.count) drafts; see `parley outbox` for what was queued"
            )
        }
        if daemon.json {
            AdminClient.printRaw(answer)
        } else {
            for result in results {
                switch result {
                case .refused(let problem): print("refused  \(problem.detail.isEmpty ? problem.title : problem.detail)")
                case .queued(let queued): print("\(queued.id)  \(Self.numbers(queued))")
                }
            }
        }
        let refused = results.filter { if case .refused = $0 { true } else { false } }.count
        guard refused == 0 else {
            throw CLIError(
                ExitStatus.invalidData,
                "parleyd refused \(refused) of \(drafts.count) drafts (the others were queued); fix those and send them again"
            )
        }
        FileHandle.standardError.write(
            Data("queued \(drafts.count) drafts; follow them with `parley outbox\(daemon.socketOption)`\n".utf8)
        )
    }

    /// "RU-NRRC #7, HCOC-CC #3" from a queued draft's `sequenceNumbers`.
    static func numbers(_ queued: AdminAPI.QueuedDraft) -> String {
        queued.sequenceNumbers.sorted { $0.key < $1.key }.map { "\($0.key) #\($0.value)" }.joined(separator: ", ")
    }
}

/// `parley outbox`: the daemon's deliveries.
struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the local parleyd's outgoing deliveries (one row per message and recipient).",
        discussion: """
            Most recently queued first (--oldest-first: queue order), a message's deliveries by \
            recipient; --limit rows (default 100). When more match, the last line (on standard error) \
            says how many and gives the command for the next page (--after).

            Examples:
              parley outbox
              parley outbox --state pending --to RU-NRRC --oldest-first
              parley outbox --limit 1000 --json

            \(ExitStatus.seeTable)
            """
    )

    @OptionGroup var daemon: DaemonOptions

    @Option(
        help: ArgumentHelp(
            "Only deliveries in this state: pending, inflight, delivered, rejected, expired, cancelled. Example: --state pending",
            valueName: "state"
        )
    )
    var state: String?

    @Option(
        name: .customLong("to"),
        help: ArgumentHelp("Only deliveries to this participant. Example: --to RU-NRRC", valueName: "id")
    )
    var recipient: String?

    @Flag(help: "Oldest queued first (the order in which they are delivered), instead of newest first.")
    var oldestFirst = false

    @OptionGroup var page: PageOptions

    func validate() throws {
        if let state, DeliveryState(rawValue: state) == nil {
            throw ValidationError(
                "--state \(state) is not a delivery state; use one of \(DeliveryState.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
    }

    func run() async throws {
        let uri = AdminClient.uri(
            "/v1/outbox",
            [("state", state), ("recipient", recipient), ("order", oldestFirst ? "oldest" : "newest")] + page.parameters
        )
        let answer = try await AdminClient.request(daemon.socket, uri)
        if daemon.json { return AdminClient.printRaw(answer) }
        let outbox = try AdminClient.decode(AdminAPI.OutboxPage.self, answer)
        guard !outbox.deliveries.isEmpty else { return print("no deliveries") }
        print(
            table(
                ["ID", "TYPE", "TO", "SEQ", "STATE", "ATTEMPTS", "QUEUED", "LAST ERROR"],
                outbox.deliveries.map { d in
                    [d.id, d.type, d.recipient, "\(d.seq)", d.state, "\(d.attempts)", d.queued, deliveryError(d)]
                }
            )
        )
        page.reportMore(more: outbox.more, next: outbox.next, one: "delivery", many: "deliveries")
    }
}

/// `parley inbox`: messages the daemon accepted.
struct Inbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the messages the local parleyd has received and accepted, newest first.",
        discussion: """
            Filters combine (all must match). Times are RFC 3339 UTC (2026-11-01T06:00:00Z), a date \
            (2026-11-01, midnight UTC), an age (30m, 24h, 7d: that long ago) or now. --since and --until \
            compare with the message's creation time; --until is exclusive. --grep finds messages whose \
            remarks contain all the given words (case and accents ignored). Shows --limit messages \
            (default 100); when more match, the last line (on standard error) says how many and gives \
            the command for the next page (--after; the JSON answer's "next").

            Examples:
              parley inbox
              parley inbox --from RU-NRRC --type pre-launch --since 7d
              parley inbox --since 2026-11-01 --until 2026-12-01 \\
                  --grep "range safety" --limit 20
              parley inbox --json --after 1795000000.42

            \(ExitStatus.seeTable)
            """
    )

    @OptionGroup var daemon: DaemonOptions

    @Option(
        name: .customLong("from"),
        help: ArgumentHelp("Only messages from this participant. Example: --from RU-NRRC", valueName: "id")
    )
    var sender: String?

    @Option(
        help: ArgumentHelp(
            "Only messages of this type (a catalogue name). Example: --type pre-launch",
            valueName: "type"
        )
    )
    var type: String?

    @Option(
        help: ArgumentHelp(
            "Only messages created at or after this time. Example: --since 2026-11-01T00:00:00Z, --since 24h",
            valueName: "time"
        )
    )
    var since: String?

    @Option(
        help: ArgumentHelp("Only messages created before this time. Example: --until 2026-12-01", valueName: "time")
    )
    var until: String?

    @Option(
        help: ArgumentHelp(
            "Only messages whose remarks contain all these words. Example: --grep \"range safety\"",
            valueName: "text"
        )
    )
    var grep: String?

    @OptionGroup var page: PageOptions

    func validate() throws {
        if let type, NotificationType(name: type) == nil {
            throw ValidationError(
                "--type \(type) is not a notification type; use one of \(NotificationType.allCases.map(\.name).joined(separator: ", "))"
            )
        }
        _ = try CLITime.parse(since, option: "--since")
        _ = try CLITime.parse(until, option: "--until")
    }

    func run() async throws {
        let uri = AdminClient.uri(
            "/v1/inbox",
            [
                ("sender", sender), ("type", type), ("since", try CLITime.parse(since, option: "--since")?.description),
                ("until", try CLITime.parse(until, option: "--until")?.description), ("text", grep),
            ] + page.parameters
        )
        let answer = try await AdminClient.request(daemon.socket, uri)
        if daemon.json { return AdminClient.printRaw(answer) }
        let inbox = try AdminClient.decode(AdminAPI.InboxPage.self, answer)
        guard !inbox.messages.isEmpty else { return print("no messages") }
        print(
            table(
                ["ID", "TYPE", "FROM", "SEQ", "CREATED", "STORED", "REMARKS"],
                inbox.messages.map { m in
                    [
                        m.id, m.type, m.sender, m.seq.map { "\($0)" } ?? "", m.created, m.stored,
                        shorten(m.remarks ?? "", 40),
                    ]
                }
            )
        )
        page.reportMore(more: inbox.more, next: inbox.next, one: "message", many: "messages")
    }
}

/// `parley show ID`: one message with its deliveries, receipts and reference chain.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one message of the local parleyd: its fields, deliveries, receipts and reference chain.",
        discussion: """
            The reference chain lists, oldest first, the messages this one references (up to the \
            original) and every message referencing those: extensions, corrections, cancellations, \
            responses, acknowledgements. For a message this node rejected (and so did not store), the \
            signed rejection receipts it issued are shown.

            Example:
              parley show 0192f3a06c007a108b2c3d4e5f601001

            Exit status 66 if the daemon holds no such message.

            \(ExitStatus.seeTable)
            """
    )

    @OptionGroup var daemon: DaemonOptions

    @Argument(
        help: ArgumentHelp("The message id (32 hex digits). Example: 0192f3a06c007a108b2c3d4e5f601001", valueName: "id")
    )
    var id: String

    func validate() throws {
        guard (try? MessageID(hex: id)) != nil else {
            throw ValidationError(
                "\(id) is not a message id: expected 32 hex digits, e.g. 0192f3a06c007a108b2c3d4e5f601001"
            )
        }
    }

    func run() async throws {
        let answer = try await AdminClient.request(daemon.socket, "/v1/messages/\(id.lowercased())")
        if daemon.json { return AdminClient.printRaw(answer) }
        print(Self.render(try AdminClient.decode(AdminAPI.MessageAnswer.self, answer)))
    }

    static func render(_ answer: AdminAPI.MessageAnswer) -> String {
        var lines: [String] = []
        let rejections: [AdminAPI.Rejection]
        switch answer {
        case .rejectedOnly(let rejected):
            lines.append("message \(rejected.id): not stored (this node rejected it)")
            rejections = rejected.rejections
        case .stored(let detail):
            let m = detail.message
            lines += [
                "message \(m.id)",
                "  type:      \(m.type)",
                "  direction: \(m.direction)",
                "  sender:    \(m.sender)",
                "  created:   \(m.created)",
                "  stored:    \(m.stored)",
                "  sha256:    \(m.sha256)",
            ]
            if let fields = detail.fields, !fields.isEmpty {
                lines.append("fields:")
                for (label, value) in fields.sorted(by: { $0.key < $1.key }) { lines.append("  \(label): \(value)") }
            }
            if !detail.deliveries.isEmpty {
                lines.append("deliveries:")
                lines.append(
                    table(
                        ["  TO", "SEQ", "STATE", "ATTEMPTS", "LAST ERROR"],
                        detail.deliveries.map { d in
                            ["  " + d.recipient, "\(d.seq)", d.state, "\(d.attempts)", deliveryError(d)]
                        }
                    )
                )
            }
            lines.append(detail.receipts.isEmpty ? "receipts: none yet" : "receipts:")
            for r in detail.receipts {
                lines.append(
                    "  \(r.direction) \(r.status) signed by \(r.signer), stored \(r.stored)"
                        + (r.reason.map { ": \($0)" } ?? "")
                )
            }
            rejections = detail.rejections ?? []
        }
        if !rejections.isEmpty {
            lines.append("rejections issued by this node:")
            for r in rejections {
                lines.append("  \(r.status) to \(r.peer), \(r.stored): \(r.reason) (message sha256 \(r.messageSha256))")
            }
        }
        if case .stored(let detail) = answer {
            if detail.chain.count > 1 {
                lines.append("reference chain (oldest first):")
                lines.append(
                    table(
                        ["  ID", "TYPE", "FROM", "CREATED", "REFERENCES"],
                        detail.chain.map { c in
                            let references = c.references.map { "\($0.relation) \($0.id)" }
                            let marker = c.message.id == detail.message.id ? "* " : "  "
                            return [
                                marker + c.message.id, c.message.type, c.message.sender, c.message.created,
                                references.joined(separator: "; "),
                            ]
                        }
                    )
                )
            } else if !detail.references.isEmpty {
                lines.append("references (not stored here):")
                for r in detail.references { lines.append("  \(r.relation) \(r.id)") }
            }
        }
        return lines.joined(separator: "\n")
    }
}

func shorten(_ text: String, _ length: Int) -> String {
    text.count <= length ? text : String(text.prefix(length - 1)) + "…"
}
