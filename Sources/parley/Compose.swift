import ArgumentParser
import Foundation
import ParleyCodec
import ParleyCrypto
import ParleyProtocol

/// `parley compose`: a notification from its JSON composition (NOTIFICATIONS.md §2), validated and signed.
struct Compose: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compose, validate and sign a notification of any catalogue type.",
        discussion: """
            The notification is built from a JSON composition document (Protocol/NOTIFICATIONS.md §2): \
            either a whole document with --document, or its parts as options (--type, --to, --ref, \
            --remarks/--lang) and the body object with --body. A field given both in the document and \
            as an option is an error. Body fields come from the --body file and/or --field NAME=VALUE \
            for top-level fields (nested values such as areas are JSON: pre-launch and other types \
            with areas are easiest written as a --body file). Field names are in \
            lower-kebab-case as in NOTIFICATIONS.md §3 (times RFC 3339 UTC, dates YYYY-MM-DD, positions \
            {"lat": 48.8566, "lon": 2.3522} in decimal degrees, areas {"polygon": [...]} or \
            {"circle": {"center": ..., "radius-m": 5000}}, azimuth in degrees with at most 2 decimals, \
            localised text {"lang": "en", "text": "..."}, enumerations by name). \
            JSON only: YAML is not supported by this build (convert it to JSON first).

            The message is validated before signing; a missing or out-of-range field is named with its \
            path and unit (e.g. body.impact-areas[0].polygon[2].lat) and nothing is written.

            Sequence numbers: --seq N gives every recipient's channel the number N; --state FILE keeps \
            the next number per recipient in a small JSON file (created if missing, starting at 1) and \
            advances it atomically once the message is signed, before the output is written.

            Examples:
              parley compose --type pre-launch --to RU-NRRC \\
                  --body prelaunch.json --key signing.key \\
                  --cert signing-chain.pem --state channels.json --out msg.cose
              parley compose --type launch-window-extension --to RU-NRRC \\
                  --ref 0192f3a06c007a108b2c3d4e5f601001:extends \\
                  --field new-window-end=2026-12-01T14:00:00Z --field reason=weather \\
                  --key signing.key --cert signing-chain.pem --seq 43 --out ext.cose
              parley compose --document notification.json --seq 1 \\
                  --key signing.key --cert signing-chain.pem --out msg.cose
              parley compose --type launch-cancellation --to RU-NRRC,HCOC-CC \\
                  --ref 0192f3a06c007a108b2c3d4e5f601001:cancels \\
                  --body cancel.json --remarks "Technical hold." --lang en \\
                  --key k.pem --cert chain.pem --seq 44 --out cancel.cose

            Exit status: 0 signed and written, 64 a usage error, 65 a field, the key or the \
            certificate is not valid (nothing is written), 66 an input file cannot be read, 73 --out \
            exists already, 77 the key file is readable by others or the passphrase is wrong. \
            \(ExitStatus.seeTable)
            """
    )

    @Option(
        help: ArgumentHelp(
            "Sender participant id; must be the one bound in --cert (default: taken from --cert). Example: --from US-NRRC",
            valueName: "id"
        )
    )
    var from: String?

    @OptionGroup var draft: DraftOptions

    @Option(
        help: ArgumentHelp(
            "Signing private key (PKCS#8 PEM, mode 0600). Example: --key /etc/parley/signing.key",
            valueName: "key"
        )
    )
    var key: String

    @Option(
        help: ArgumentHelp(
            "Signing certificate chain (PEM, leaf first, then the issuing CA). Example: --cert signing-chain.pem",
            valueName: "chain"
        )
    )
    var cert: String

    @Option(help: ArgumentHelp("File holding the passphrase of an encrypted key (first line).", valueName: "file"))
    var passphraseFile: String?

    @Option(
        help: ArgumentHelp("Sequence number for every recipient's channel (≥ 1). Example: --seq 42", valueName: "n")
    )
    var seq: UInt64?

    @Option(
        help: ArgumentHelp(
            "JSON file with the next sequence number per recipient, updated after signing. Example: --state channels.json",
            valueName: "file"
        )
    )
    var state: String?

    @Option(
        help: ArgumentHelp(
            "Creation time (RFC 3339 UTC) instead of now; for test vectors and re-composition. Example: --created 2026-11-24T06:00:00Z",
            valueName: "time"
        )
    )
    var created: String?

    @Option(
        help: ArgumentHelp(
            "Message id (32 hex digits) instead of a new UUIDv7; for test vectors and re-composition only.",
            valueName: "hex"
        )
    )
    var id: String?

    @Option(
        help: ArgumentHelp(
            "Where to write the signed message (COSE_Sign1); an existing file is never overwritten. Example: --out msg.cose",
            valueName: "file"
        )
    )
    var out: String

    func validate() throws {
        guard (seq == nil) != (state == nil) else {
            throw ValidationError(
                "give exactly one of --seq N (same number for every recipient) or --state FILE (next number per recipient)"
            )
        }
        if let seq, seq == 0 { throw ValidationError("--seq must be 1 or more: channel sequence numbers start at 1") }
    }

    func run() throws {
        let composition = try refusing {
            try Composition(document: try draft.documentFromOptions(id: id, created: created))
        }
        let passphrase = try passphraseFile.map { file -> String in
            let text = String(decoding: try readInputFile(file, what: "passphrase file", limit: 4096), as: UTF8.self)
            return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        }
        let identity = try SigningIdentity(
            key: try PrivateKey.load(path: key, passphrase: passphrase),
            chain: try Certificate.load(path: cert)
        )
        if let from {
            let sender = try ParticipantID(from)
            guard sender == identity.participantID else {
                throw CLIError(
                    ExitStatus.usage,
                    "--from \(from) does not match the certificate in \(cert), which is bound to \(identity.participantID); sign with that participant's key and certificate"
                )
            }
        }
        guard !FileManager.default.fileExists(atPath: out) else {
            throw CLIError(ExitStatus.cannotCreate, "\(out) exists already; choose another --out or remove it first")
        }
        // Held until the message is written, so that two composes never take the same numbers.
        let lock = try state.map { path in
            do throws(FileLockError) { return try FileLock(path: path + ".lock") } catch {
                throw CLIError(error.step == .open ? ExitStatus.cannotCreate : ExitStatus.ioError, error.description)
            }
        }
        defer { lock?.release() }
        let channels = try state.map { try ChannelState.load(path: $0, sender: identity.participantID) }
        var sequences: [ParticipantID: UInt64] = [:]
        for recipient in composition.recipients { sequences[recipient] = seq ?? channels!.next(for: recipient) }
        let envelope = try refusing {
            try composition.envelope(
                sender: identity.participantID,
                sequences: sequences,
                now: .now,
                newID: MessageID.generate()
            )
        }
        let signed = try refusing { try identity.sign(envelope) }
        if let state, var updated = channels {
            for recipient in envelope.recipients { updated.advance(recipient.participant, past: recipient.sequence) }
            try updated.save(path: state)
        }
        do {
            try writeNewFile(out, signed)
        } catch let error as CLIError where state != nil {
            let numbers = envelope.recipients.map { "\($0.participant) \($0.sequence)" }.joined(separator: ", ")
            throw CLIError(
                error.status,
                "\(error.message); the sequence numbers \(numbers) are now used in \(state!): compose again (receivers will see a gap)"
            )
        }
        let to = envelope.recipients.map { "\($0.participant) (seq \($0.sequence))" }.joined(separator: ", ")
        print(
            "composed \(envelope.type) \(envelope.id) from \(envelope.sender) to \(to), created \(envelope.created): \(signed.count) bytes written to \(out)"
        )
    }
}

/// Runs `body`; a refusal names the code a receiver gives the same fault in a message (SPEC.md
/// §7.3), so that compose, `parley verify` and a node give one verdict.
func refusing<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ProtocolError {
        guard let code = error.rejectionCode else { throw error }
        let text = error.field.isEmpty ? error.reason : "\(error.field): \(error.reason)"
        throw CLIError(ExitStatus.invalidData, "\(text) (receivers reject it as \(code.name))")
    }
}

/// The options that make a composition document, shared by `compose` and `send`.
struct DraftOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Notification type, e.g. pre-launch, launch-window-extension, launch-cancellation, post-launch-report, annual-declaration, export-denial, export-denial-withdrawal, treaty-event, acknowledgement, correction, general-communication.",
            valueName: "type"
        )
    )
    var type: String?

    @Option(
        name: .customLong("to"),
        help: ArgumentHelp(
            "Recipient participant id; repeat or separate with commas. Example: --to RU-NRRC,HCOC-CC",
            valueName: "id"
        )
    )
    var recipients: [String] = []

    @Option(
        help: ArgumentHelp(
            "A whole composition document (JSON, NOTIFICATIONS.md §2.1). Example: --document note.json",
            valueName: "file"
        )
    )
    var document: String?

    @Option(
        help: ArgumentHelp(
            "The body object as JSON (the fields of the type, NOTIFICATIONS.md §3). Example: --body prelaunch.json",
            valueName: "file"
        )
    )
    var body: String?

    @Option(
        name: .customLong("field"),
        help: ArgumentHelp(
            "A top-level body field NAME=VALUE; repeatable, combined with --body (a field may be given once). VALUE is taken as JSON if it parses (numbers, true/false, objects, quoted strings), else as text. Example: --field reason=weather --field new-window-end=2026-12-01T14:00:00Z",
            valueName: "name=value"
        )
    )
    var fields: [String] = []

    @Option(
        name: .customLong("ref"),
        help: ArgumentHelp(
            "A reference ID:RELATION, relation one of corrects, cancels, extends, responds-to, acknowledges; repeatable. Example: --ref 0192f3a06c007a108b2c3d4e5f601001:extends",
            valueName: "id:relation"
        )
    )
    var references: [String] = []

    @Option(
        help: ArgumentHelp(
            "Free-text remarks (1–4096 characters); needs --lang. Example: --remarks \"Weather hold.\"",
            valueName: "text"
        )
    )
    var remarks: String?

    @Option(help: ArgumentHelp("Language tag of --remarks (BCP 47). Example: --lang en", valueName: "tag"))
    var lang: String?

    func validate() throws {
        if (remarks == nil) != (lang == nil) {
            throw ValidationError(
                "--remarks and --lang go together: give the text and its language tag, e.g. --remarks \"...\" --lang en"
            )
        }
        if document == nil && type == nil {
            throw ValidationError("give --type (e.g. --type pre-launch) or a --document that names its type")
        }
    }

    /// The composition document: --document (if any) plus the parts given as options.
    /// `id` and `created` are `compose`'s test options; `send` leaves them to the daemon.
    func documentFromOptions(id: String? = nil, created: String? = nil) throws -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        if let document {
            guard case .object(let list) = try parseJSON(document, what: "composition document") else {
                throw CLIError(
                    ExitStatus.invalidData,
                    "\(document) must hold a JSON object (a composition document, NOTIFICATIONS.md §2.1)"
                )
            }
            members = list
        }
        func add(_ key: String, _ value: JSONValue, option: String) throws {
            guard !members.contains(where: { $0.key == key }) else {
                throw CLIError(
                    ExitStatus.usage,
                    "\(key) is given both in \(document ?? "the document") and as \(option); give it once"
                )
            }
            members.append((key, value))
        }
        if let type { try add("type", .string(type), option: "--type") }
        let to = recipients.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if !to.isEmpty { try add("recipients", .array(to.map { .string($0) }), option: "--to") }
        if !references.isEmpty {
            let refs = try references.map { text -> JSONValue in
                guard let colon = text.lastIndex(of: ":") else {
                    throw CLIError(
                        ExitStatus.usage,
                        "--ref \(text): expected ID:RELATION, e.g. --ref 0192f3a06c007a108b2c3d4e5f601001:extends"
                    )
                }
                return .object([
                    ("id", .string(String(text[..<colon]))),
                    ("relation", .string(String(text[text.index(after: colon)...]))),
                ])
            }
            try add("refs", .array(refs), option: "--ref")
        }
        if let remarks, let lang {
            try add("remarks", .object([("lang", .string(lang)), ("text", .string(remarks))]), option: "--remarks")
        }
        if body != nil || !fields.isEmpty { try add("body", try bodyFromOptions(), option: "--body/--field") }
        if let id { try add("id", .string(id), option: "--id") }
        if let created { try add("created", .string(created), option: "--created") }
        guard members.contains(where: { $0.key == "recipients" }) else {
            throw CLIError(
                ExitStatus.usage,
                "no recipients: give --to ID (repeatable) or \"recipients\" in the --document"
            )
        }
        return .object(members)
    }

    /// The body object: --body (if any) plus each --field.
    func bodyFromOptions() throws -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        if let body {
            guard case .object(let list) = try parseJSON(body, what: "body file") else {
                throw CLIError(
                    ExitStatus.invalidData,
                    "body file \(body) must hold a JSON object with the fields of the type (NOTIFICATIONS.md §3)"
                )
            }
            members = list
        }
        for field in fields {
            guard let equals = field.firstIndex(of: "="), equals != field.startIndex else {
                throw CLIError(ExitStatus.usage, "--field \(field): expected NAME=VALUE, e.g. --field reason=weather")
            }
            let name = String(field[..<equals])
            let text = String(field[field.index(after: equals)...])
            guard !members.contains(where: { $0.key == name }) else {
                throw CLIError(
                    ExitStatus.usage,
                    "body field \(name) is given twice (in --body or --field); give it once"
                )
            }
            members.append((name, (try? JSONValue(parsing: Array(text.utf8))) ?? .string(text)))
        }
        return .object(members)
    }

    func parseJSON(_ path: String, what: String) throws -> JSONValue {
        let bytes = try readInputFile(path, what: what, limit: JSONValue.maximumInputBytes)
        do {
            return try JSONValue(parsing: bytes)
        } catch let error as ProtocolError {
            throw CLIError(
                ExitStatus.invalidData,
                "\(what) \(path): \(error.reason) (JSON only; YAML is not supported)"
            )
        }
    }
}

/// The next sequence number of each channel from this sender, kept in a JSON file:
/// `{"sender": "US-NRRC", "next": {"RU-NRRC": 43}}`.
struct ChannelState {
    var sender: ParticipantID
    var next: [String: UInt64]

    static func load(path: String, sender: ParticipantID) throws -> ChannelState {
        guard FileManager.default.fileExists(atPath: path) else { return ChannelState(sender: sender, next: [:]) }
        let bytes = try readInputFile(path, what: "sequence state file", limit: 1_048_576)
        let problem =
            "sequence state file \(path) is not of the form {\"sender\": \"ID\", \"next\": {\"RECIPIENT\": N, ...}}; fix or remove it"
        guard case .object(let members) = try? JSONValue(parsing: bytes),
            let senderValue = members.first(where: { $0.key == "sender" })?.value,
            case .string(let recorded) = senderValue,
            let nextValue = members.first(where: { $0.key == "next" })?.value, case .object(let entries) = nextValue
        else {
            throw CLIError(ExitStatus.invalidData, problem)
        }
        guard recorded == sender.rawValue else {
            throw CLIError(
                ExitStatus.invalidData,
                "sequence state file \(path) belongs to sender \(recorded), but --cert signs as \(sender); use that participant's state file"
            )
        }
        var next: [String: UInt64] = [:]
        for entry in entries {
            guard case .number(let numeral) = entry.value, let n = UInt64(numeral), n >= 1 else {
                throw CLIError(ExitStatus.invalidData, problem)
            }
            next[entry.key] = n
        }
        return ChannelState(sender: sender, next: next)
    }

    func next(for recipient: ParticipantID) -> UInt64 { next[recipient.rawValue] ?? 1 }

    mutating func advance(_ recipient: ParticipantID, past used: UInt64) {
        next[recipient.rawValue] = max(next[recipient.rawValue] ?? 1, used + 1)
    }

    func save(path: String) throws {
        let object: [String: Any] = ["sender": sender.rawValue, "next": next]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        try replaceFileAtomically(path, Array(data) + [0x0A])
    }
}
