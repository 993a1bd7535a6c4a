import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import ParleyProtocol
import ParleyStore
#if canImport(Glibc)
import Glibc
#endif

/// The admin socket of the local `parleyd`, shared by the daemon commands.
struct DaemonOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The daemon's admin socket (admin.socket in parleyd.json). Example: --socket /run/parley/admin.sock", valueName: "path"))
    var socket: String = "/run/parley/admin.sock"

    @Flag(help: "Print the daemon's JSON answer unchanged instead of a table.")
    var json = false
}

/// A JSON request to parleyd's admin API over its Unix socket (AsyncHTTPClient, `http+unix://`).
enum AdminClient {
    static func request(_ socket: String, _ uri: String, post body: [UInt8]? = nil) async throws -> [UInt8] {
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
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            bytes = try await response.body.collect(upTo: 16 << 20)
        } catch {
            throw unreachable(socket, reason(error))
        }
        let data = Array(buffer: bytes)
        guard (200..<300).contains(response.status.code) else {
            let problem = (try? JSONSerialization.jsonObject(with: Data(data))) as? [String: Any]
            let text = [problem?["title"] as? String, problem?["detail"] as? String].compactMap { $0 }.joined(separator: ": ")
            let what = text.isEmpty ? "HTTP \(response.status.code)" : text
            switch response.status.code {
            case 404: throw CLIError(ExitStatus.noInput, "parleyd: \(what)")
            case 400..<500: throw CLIError(ExitStatus.invalidData, "parleyd refused the request: \(what)")
            default: throw CLIError(ExitStatus.unavailable, "parleyd failed (HTTP \(response.status.code)): \(what); see its log (journalctl -u parleyd)")
            }
        }
        return data
    }

    /// Why a plain connect(2) to the socket fails, or nil if it succeeds (AsyncHTTPClient would
    /// retry a refused connection until its deadline instead of failing at once).
    static func connectFailure(_ path: String) -> String? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return "the socket path is longer than \(MemoryLayout.size(ofValue: address.sun_path) - 1) bytes" }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in bytes.enumerated() { buffer[i] = byte }
        }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        return connected ? nil : String(cString: strerror(errno)).lowercased()
    }

    static func unreachable(_ socket: String, _ reason: String) -> CLIError {
        CLIError(ExitStatus.unavailable, "cannot reach parleyd at \(socket): \(reason); is it running?")
    }

    static func reason(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectTimeout") || text.contains("deadlineExceeded") { return "no answer in time" }
        if text.contains("ECONNREFUSED") || text.contains("Connection refused") || text.contains("errno: 111") { return "connection refused" }
        if text.contains("EACCES") || text.contains("Permission denied") || text.contains("errno: 13") { return "permission denied (is your user in the parley group?)" }
        return text.split(separator: "\n").first.map(String.init) ?? text
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw CLIError(ExitStatus.software, "parleyd answered with something that is not a JSON object")
        }
        return object
    }

    static func printRaw(_ bytes: [UInt8]) {
        print(String(decoding: bytes, as: UTF8.self))
    }
}

/// Fixed-width columns for a terminal.
func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

func text(_ value: Any?) -> String {
    switch value {
    case nil, is NSNull: return ""
    case let string as String: return string
    case let number as NSNumber: return number.stringValue
    case let some?: return "\(some)"
    }
}

/// `parley send`: the daemon validates, signs and queues a notification.
struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a notification to the local parleyd, which signs and delivers it.",
        discussion: """
        Takes a composition document (--document) or the same parts as `parley compose` (--type, \
        --to, --ref, --body, --field, --remarks/--lang), without key, certificate or sequence \
        numbers: the daemon signs with its own key and numbers each channel. Prints the message id.

        Examples:
          parley send --document prelaunch.json
          parley send --type launch-cancellation --to RU-NRRC \\
              --ref 0192f3a06c007a108b2c3d4e5f601001:cancels --field reason=technical

        Exit status: 0 queued, 65 the daemon refused the draft (the field is named), \
        69 the daemon cannot be reached.

        \(ExitStatus.helpText)
        """
    )

    @OptionGroup var daemon: DaemonOptions

    @OptionGroup var draft: DraftOptions

    func run() async throws {
        let document = try draft.documentFromOptions()
        let answer = try await AdminClient.request(daemon.socket, "/v1/drafts", post: Array(Self.serialize(document).utf8))
        if daemon.json { return AdminClient.printRaw(answer) }
        let object = try AdminClient.object(answer)
        let numbers = (object["sequenceNumbers"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) #\(text($0.value))" }
        print(text(object["id"]))
        FileHandle.standardError.write(Data("queued for \(numbers.joined(separator: ", ")); follow it with `parley show \(text(object["id"]))`\n".utf8))
    }

    static func serialize(_ value: JSONValue) -> String {
        switch value {
        case .object(let members): return "{" + members.map { quote($0.key) + ":" + serialize($0.value) }.joined(separator: ",") + "}"
        case .array(let items): return "[" + items.map(serialize).joined(separator: ",") + "]"
        case .string(let string): return quote(string)
        case .number(let numeral): return numeral
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        }
    }

    static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// `parley outbox`: the daemon's deliveries.
struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the local parleyd's outgoing deliveries (one row per message and recipient).",
        discussion: """
        Examples:
          parley outbox
          parley outbox --state pending --to RU-NRRC
          parley outbox --json

        \(ExitStatus.helpText)
        """
    )

    @OptionGroup var daemon: DaemonOptions

    @Option(help: ArgumentHelp("Only deliveries in this state: pending, inflight, delivered, rejected, expired, cancelled. Example: --state pending", valueName: "state"))
    var state: String?

    @Option(name: .customLong("to"), help: ArgumentHelp("Only deliveries to this participant. Example: --to RU-NRRC", valueName: "id"))
    var recipient: String?

    func validate() throws {
        if let state, DeliveryState(rawValue: state) == nil {
            throw ValidationError("--state \(state) is not a delivery state; use one of \(DeliveryState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        var query: [String] = []
        if let state { query.append("state=\(state)") }
        if let recipient { query.append("recipient=\(recipient.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? recipient)") }
        let answer = try await AdminClient.request(daemon.socket, "/v1/outbox" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
        if daemon.json { return AdminClient.printRaw(answer) }
        let deliveries = try AdminClient.object(answer)["deliveries"] as? [[String: Any]] ?? []
        guard !deliveries.isEmpty else { return print("no deliveries") }
        // Messages queued in the same second in channel order.
        let ordered = deliveries.sorted { (text($0["queued"]), $0["seq"] as? Int ?? 0, text($0["recipient"])) < (text($1["queued"]), $1["seq"] as? Int ?? 0, text($1["recipient"])) }
        print(table(["ID", "TYPE", "TO", "SEQ", "STATE", "ATTEMPTS", "QUEUED", "LAST ERROR"], ordered.map { d in
            [text(d["id"]), text(d["type"]), text(d["recipient"]), text(d["seq"]), text(d["state"]), text(d["attempts"]), text(d["queued"]),
             text(d["rejection"] ?? d["lastError"])]
        }))
    }
}

/// `parley inbox`: messages the daemon accepted.
struct Inbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the messages the local parleyd has received and accepted, newest first.",
        discussion: """
        Examples:
          parley inbox
          parley inbox --from RU-NRRC --type pre-launch

        \(ExitStatus.helpText)
        """
    )

    @OptionGroup var daemon: DaemonOptions

    @Option(name: .customLong("from"), help: ArgumentHelp("Only messages from this participant. Example: --from RU-NRRC", valueName: "id"))
    var sender: String?

    @Option(help: ArgumentHelp("Only messages of this type. Example: --type pre-launch", valueName: "type"))
    var type: String?

    func run() async throws {
        let query = sender.map { "?sender=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } ?? ""
        let answer = try await AdminClient.request(daemon.socket, "/v1/inbox" + query)
        var messages = try AdminClient.object(answer)["messages"] as? [[String: Any]] ?? []
        if let type { messages = messages.filter { text($0["type"]) == type } }
        if daemon.json {
            let data = try JSONSerialization.data(withJSONObject: ["messages": messages], options: [.sortedKeys])
            return print(String(decoding: data, as: UTF8.self))
        }
        guard !messages.isEmpty else { return print("no messages") }
        print(table(["ID", "TYPE", "FROM", "SEQ", "CREATED", "STORED"], messages.map { m in
            [text(m["id"]), text(m["type"]), text(m["sender"]), text(m["seq"]), text(m["created"]), text(m["stored"])]
        }))
    }
}

/// `parley show ID`: one message with its deliveries and receipts.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one message of the local parleyd: its fields, deliveries and receipts.",
        discussion: """
        Example:
          parley show 0192f3a06c007a108b2c3d4e5f601001

        Exit status 66 if the daemon holds no such message.

        \(ExitStatus.helpText)
        """
    )

    @OptionGroup var daemon: DaemonOptions

    @Argument(help: ArgumentHelp("The message id (32 hex digits).", valueName: "id"))
    var id: String

    func validate() throws {
        guard (try? MessageID(hex: id)) != nil else { throw ValidationError("\(id) is not a message id: expected 32 hex digits, e.g. 0192f3a06c007a108b2c3d4e5f601001") }
    }

    func run() async throws {
        let answer = try await AdminClient.request(daemon.socket, "/v1/messages/\(id.lowercased())")
        if daemon.json { return AdminClient.printRaw(answer) }
        let m = try AdminClient.object(answer)
        var lines = ["message \(text(m["id"]))",
                     "  type:      \(text(m["type"]))",
                     "  direction: \(text(m["direction"]))",
                     "  sender:    \(text(m["sender"]))",
                     "  created:   \(text(m["created"]))",
                     "  stored:    \(text(m["stored"]))",
                     "  sha256:    \(text(m["sha256"]))"]
        if let fields = m["fields"] as? [String: Any], !fields.isEmpty {
            lines.append("fields:")
            for (label, value) in fields.sorted(by: { $0.key < $1.key }) { lines.append("  \(label): \(text(value))") }
        }
        let deliveries = m["deliveries"] as? [[String: Any]] ?? []
        if !deliveries.isEmpty {
            lines.append("deliveries:")
            lines.append(table(["  TO", "SEQ", "STATE", "ATTEMPTS", "LAST ERROR"], deliveries.map { d in
                ["  " + text(d["recipient"]), text(d["seq"]), text(d["state"]), text(d["attempts"]), text(d["rejection"] ?? d["lastError"])]
            }))
        }
        let receipts = m["receipts"] as? [[String: Any]] ?? []
        lines.append(receipts.isEmpty ? "receipts: none yet" : "receipts:")
        for r in receipts {
            lines.append("  \(text(r["direction"])) \(text(r["status"])) signed by \(text(r["signer"])), stored \(text(r["stored"]))")
        }
        print(lines.joined(separator: "\n"))
    }
}
