import Foundation
import ParleyCodec
import ParleyProtocol
import Testing
import ParleyTestSupport

/// `parley compose`: NOTIFICATIONS.md's examples compose to exactly their envelope bytes, every
/// type round-trips through `parley verify`, and errors name the field.
@Suite struct ComposeTests {
    let dir = TemporaryDirectory()
    let pki: TestPKI

    init() throws { pki = try CLITestPKI.shared.get() }

    /// An example of NOTIFICATIONS.md: its composition document, sender and sequence numbers, and
    /// the vector extracted from the cbor-diag block that follows it.
    struct Example: Sendable, CustomTestStringConvertible {
        var number: Int
        var json: String
        var sender: String
        var sequences: [(String, UInt64)]
        var testDescription: String { "example \(number)" }
    }

    static var examples: [Example] {
        guard
            let text = try? String(
                contentsOf: SourceTree.root.appendingPathComponent("Protocol/NOTIFICATIONS.md"),
                encoding: .utf8
            )
        else { return [] }
        var result: [Example] = []
        var diagBlocks = 0
        var pending: (sender: String, sequences: [(String, UInt64)])?
        var json: String?
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).makeIterator()
        while let line = lines.next() {
            if line.hasPrefix("<!-- compose:") {
                let words = line.split(separator: " ")
                let sender = words.first { $0.hasPrefix("sender=") }!.dropFirst("sender=".count)
                var sequences: [(String, UInt64)] = []
                var inSeq = false
                for word in words {
                    var w = word
                    if w.hasPrefix("seq=") {
                        inSeq = true
                        w = w.dropFirst(4)
                    }
                    guard inSeq, w != "-->", let colon = w.lastIndex(of: ":") else { continue }
                    sequences.append((String(w[..<colon]), UInt64(w[w.index(after: colon)...])!))
                }
                pending = (String(sender), sequences)
            } else if line == "```json", pending != nil {
                var block: [Substring] = []
                while let l = lines.next(), l != "```" { block.append(l) }
                json = block.joined(separator: "\n")
            } else if line == "```cbor-diag" {
                diagBlocks += 1
                if let p = pending, let j = json {
                    result.append(Example(number: diagBlocks, json: j, sender: p.sender, sequences: p.sequences))
                }
                pending = nil
                json = nil
            }
        }
        return result
    }

    @Test func everyExampleIsFound() {
        #expect(Self.examples.count == 11)
    }

    func vector(_ n: Int) throws -> [UInt8] {
        let name = "Protocol/vectors/catalogue/envelope-example-\(n < 10 ? "0" : "")\(n).cbor"
        return Array(try Data(contentsOf: SourceTree.root.appendingPathComponent(name)))
    }

    func payload(_ path: String) throws -> [UInt8] {
        try COSESign1(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: path)))).payload
    }

    /// The whole document with --document, sequence numbers from a --state file (which advances).
    @Test(arguments: examples)
    func exampleDocumentComposesToTheVector(_ example: Example) throws {
        let document = dir.write("doc-\(example.number).json", example.json)
        let next = example.sequences.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ")
        let state = dir.write(
            "state-\(example.number).json",
            "{\"sender\": \"\(example.sender)\", \"next\": {\(next)}}"
        )
        let out = dir.path("doc-\(example.number).cose")
        let output = try CLI.run([
            "compose", "--document", document, "--key", pki.key(example.sender), "--cert", pki.chain(example.sender),
            "--state", state, "--out", out,
        ])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(try payload(out) == vector(example.number))
        let advanced = try #require(
            String(contentsOfFile: state, encoding: .utf8).jsonObject?["next"] as? [String: Int]
        )
        for (recipient, sequence) in example.sequences { #expect(advanced[recipient] == Int(sequence) + 1) }
    }

    /// The same documents taken apart into options (--type, --to, --ref, --remarks/--lang, --body,
    /// --id, --created), with --seq when every recipient has the same number.
    @Test(arguments: examples)
    func exampleOptionsComposeToTheVector(_ example: Example) throws {
        let doc = try #require(example.json.jsonObject)
        var arguments = [
            "compose", "--type", doc["type"] as! String, "--from", example.sender,
            "--id", doc["id"] as! String, "--created", doc["created"] as! String,
            "--key", pki.key(example.sender), "--cert", pki.chain(example.sender),
        ]
        for recipient in doc["recipients"] as! [String] { arguments += ["--to", recipient] }
        for ref in doc["refs"] as? [[String: String]] ?? [] {
            arguments += ["--ref", "\(ref["id"]!):\(ref["relation"]!)"]
        }
        if let remarks = doc["remarks"] as? [String: String] {
            arguments += ["--remarks", remarks["text"]!, "--lang", remarks["lang"]!]
        }
        if let body = doc["body"] {
            // Re-serialising would lose the numerals as written; cut the body's text out of the document instead.
            let bodyText = try #require(Self.memberText(of: "body", in: example.json))
            _ = body
            arguments += ["--body", dir.write("body-\(example.number).json", bodyText)]
        }
        if Set(example.sequences.map(\.1)).count == 1 {
            arguments += ["--seq", "\(example.sequences[0].1)"]
        } else {
            let next = example.sequences.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ")
            arguments += [
                "--state",
                dir.write(
                    "opt-state-\(example.number).json",
                    "{\"sender\": \"\(example.sender)\", \"next\": {\(next)}}"
                ),
            ]
        }
        let out = dir.path("opt-\(example.number).cose")
        let output = try CLI.run(arguments + ["--out", out])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(try payload(out) == vector(example.number))
    }

    /// The JSON text of a top-level member's value (balanced braces; the examples hold no braces in strings).
    static func memberText(of key: String, in json: String) -> String? {
        guard let range = json.range(of: "\"\(key)\": {") else { return nil }
        var depth = 0
        var index = json.index(before: range.upperBound)
        let start = index
        while index < json.endIndex {
            if json[index] == "{" { depth += 1 }
            if json[index] == "}" {
                depth -= 1
                if depth == 0 { return String(json[start...index]) }
            }
            index = json.index(after: index)
        }
        return nil
    }

    static func time(_ offset: Int64) -> String { "\(UTCTime.now + offset)" }

    /// A valid body and the references each type needs, with times relative to now.
    static func bodyAndReferences(_ type: NotificationType) -> (body: String?, refs: [String]) {
        let original = "019ad8a0c5c07000a000000000000001"
        let circle = #"{"circle": {"center": {"lat": 28.573469, "lon": -80.65107}, "radius-m": 5000}}"#
        let polygon = #"{"polygon": [{"lat": 30, "lon": -60}, {"lat": 30, "lon": -58}, {"lat": 28, "lon": -58}]}"#
        let generalCommunication = #"{"subject": "Link test", "text": {"lang": "en", "text": "Please acknowledge."}}"#
        switch type {
        case .preLaunch:
            return (
                #"{"class": "space-launch-vehicle", "window-start": "\#(time(2 * 86_400))", "window-end": "\#(time(2 * 86_400 + 14_400))", "launch-area": \#(circle), "impact-areas": [\#(polygon)], "azimuth": 90.5, "designator": "SLV-7"}"#,
                []
            )
        case .launchWindowExtension:
            return (#"{"new-window-end": "\#(time(3 * 86_400))", "reason": "range-safety"}"#, ["\(original):extends"])
        case .launchCancellation: return (#"{"reason": "programmatic"}"#, ["\(original):cancels"])
        case .postLaunchReport:
            return (
                #"{"class": "ballistic-missile", "launch-time": "\#(time(-3600))", "launch-area": \#(circle), "outcome": "partial", "impact-area": \#(polygon)}"#,
                ["\(original):responds-to"]
            )
        case .annualDeclaration:
            return (
                #"{"year": 2025, "policy": {"lang": "en", "text": "Peaceful uses only."}, "launches": [{"class": "space-launch-vehicle", "count": 4}, {"class": "ballistic-missile", "count": 0}]}"#,
                []
            )
        case .exportDenial:
            return (
                #"{"item-category": "9.A.1", "destination": "ZZ", "end-user": "Example Trading", "reason": "end-use", "denial-date": "2026-11-20", "national-reference": "X-1"}"#,
                []
            )
        case .exportDenialWithdrawal: return (#"{"withdrawal-date": "2026-11-21"}"#, ["\(original):cancels"])
        case .treatyEvent:
            return (
                #"{"kind": "inspection", "item-type": "launcher", "quantity": 3, "location": {"lat": 51.5, "lon": 46}, "event-time": "\#(time(86_400))", "destination": {"lat": -12.3456785, "lon": 1e-6}}"#,
                []
            )
        case .acknowledgement: return (nil, ["\(original):acknowledges"])
        case .correction:
            return (
                #"{"corrected-type": "general-communication", "corrected-body": \#(generalCommunication)}"#,
                ["\(original):corrects"]
            )
        case .generalCommunication: return (generalCommunication, [])
        }
    }

    /// Every type composes (created now) and verifies with `parley verify`, which shows the type.
    @Test(arguments: NotificationType.allCases)
    func composedMessageVerifies(_ type: NotificationType) throws {
        let (body, refs) = Self.bodyAndReferences(type)
        let out = dir.path("\(type.name).cose")
        var arguments = [
            "compose", "--type", type.name, "--to", "RU-NRRC,HCOC-CC", "--key", pki.key("US-NRRC"),
            "--cert", pki.chain("US-NRRC"), "--state", dir.path("state.json"), "--out", out,
            "--remarks", "round trip", "--lang", "en",
        ]
        if let body { arguments += ["--body", dir.write("\(type.name).json", body)] }
        for ref in refs { arguments += ["--ref", ref] }
        let composed = try CLI.run(arguments)
        #expect(composed.status == 0, "\(composed.stderr)")
        let verified = try CLI.run([
            "verify", out, "--trust", pki.anchors, "--crl", pki.crls, "--recipient", "HCOC-CC", "--json",
        ])
        #expect(verified.status == 0, "\(verified.stdout)")
        let result = try #require(
            verified.stdout.split(separator: "\n").first.map(String.init)?.jsonObject,
            "one JSON object per file: \(verified.stdout)"
        )
        #expect(result["kind"] as? String == "\(type.name) message")
        #expect(result["signer"] as? String == "US-NRRC")
    }

    func composeError(_ body: String, type: String = "pre-launch", extra: [String] = []) throws -> CLI.Output {
        let out = dir.path("error-\(UUID().uuidString).cose")
        let output = try CLI.run(
            [
                "compose", "--type", type, "--to", "RU-NRRC", "--body", dir.write("error.json", body),
                "--key", pki.key("US-NRRC"), "--cert", pki.chain("US-NRRC"), "--seq", "1", "--out", out,
            ] + extra
        )
        #expect(!FileManager.default.fileExists(atPath: out), "nothing may be written on error")
        #expect(output.stderr.split(separator: "\n").count == 1, "one line: \(output.stderr)")
        #expect(!output.stderr.contains("Fatal error"))
        return output
    }

    static func preLaunch(
        launchArea: String = #"{"circle": {"center": {"lat": 34.742, "lon": -120.5724}, "radius-m": 10000}}"#,
        azimuth: String = "247.5",
        extra: String = ""
    ) -> String {
        #"{"class": "ballistic-missile", "window-start": "\#(time(2 * 86_400))", "window-end": "\#(time(2 * 86_400 + 3600))", "launch-area": \#(launchArea), "impact-areas": [{"polygon": [{"lat": 9.5, "lon": 167}, {"lat": 9.5, "lon": 168}, {"lat": 8.5, "lon": 168}]}], "azimuth": \#(azimuth)\#(extra)}"#
    }

    @Test func latitudeOutOfRangeIsNamedWithItsUnit() throws {
        let output = try composeError(
            Self.preLaunch(launchArea: #"{"circle": {"center": {"lat": 90.0000005, "lon": 0}, "radius-m": 1}}"#)
        )
        #expect(output.status == 65)
        #expect(output.stderr.contains("body.launch-area.circle.center.lat"))
        #expect(output.stderr.contains("°"))
    }

    @Test func azimuthWithThreeDecimalsIsNamed() throws {
        let output = try composeError(Self.preLaunch(azimuth: "247.555"))
        #expect(output.status == 65)
        #expect(output.stderr.contains("body.azimuth"))
        #expect(output.stderr.contains("2 decimals"))
    }

    @Test func radiusOutOfRangeIsNamedInMetres() throws {
        let output = try composeError(
            Self.preLaunch(launchArea: #"{"circle": {"center": {"lat": 1, "lon": 1}, "radius-m": 0}}"#)
        )
        #expect(output.status == 65)
        #expect(output.stderr.contains("body.launch-area.circle.radius-m"))
        #expect(output.stderr.contains("metres"))
    }

    @Test func missingAndUnknownFieldsAreNamed() throws {
        let missing = try composeError(
            #"{"reason": "weather"}"#,
            type: "launch-window-extension",
            extra: ["--ref", "019ad8a0c5c07000a000000000000001:extends"]
        )
        #expect(missing.status == 65)
        #expect(missing.stderr.contains("body.new-window-end"))
        let unknown = try composeError(Self.preLaunch(extra: #", "colour": "red""#))
        #expect(unknown.status == 65)
        #expect(unknown.stderr.contains("body.colour"))
    }

    @Test func wrongLateFlagIsNamed() throws {
        let output = try composeError(Self.preLaunch(extra: #", "late": true"#))
        #expect(output.status == 65)
        #expect(output.stderr.contains("body.late"))
    }

    @Test func windowEndBeforeStartIsNamed() throws {
        let body = Self.preLaunch().replacingOccurrences(
            of: "\"window-end\": \"\(Self.time(2 * 86_400 + 3600))\"",
            with: "\"window-end\": \"\(Self.time(86_400 + 3600))\""
        )
        let output = try composeError(body)
        #expect(output.status == 65)
        #expect(output.stderr.contains("window-end"))
    }

    @Test func badJSONSaysWhere() throws {
        let output = try composeError("{\"reason\": }", type: "launch-cancellation")
        #expect(output.status == 65)
        #expect(output.stderr.contains("line 1"))
        #expect(output.stderr.contains("JSON"))
    }

    @Test func usageErrors() throws {
        let both = try CLI.run([
            "compose", "--type", "acknowledgement", "--to", "RU-NRRC", "--key", pki.key("US-NRRC"), "--cert",
            pki.chain("US-NRRC"),
            "--seq", "1", "--state", dir.path("s.json"), "--out", dir.path("x.cose"),
        ])
        #expect(both.status == 64)
        let wrongSender = try CLI.run([
            "compose", "--type", "acknowledgement", "--from", "FR-MFA", "--to", "RU-NRRC",
            "--ref", "019ad8a0c5c07000a000000000000001:acknowledges",
            "--key", pki.key("US-NRRC"), "--cert", pki.chain("US-NRRC"), "--seq", "1", "--out", dir.path("y.cose"),
        ])
        #expect(wrongSender.status == 64)
        #expect(wrongSender.stderr.contains("FR-MFA"))
        let missingKey = try CLI.run([
            "compose", "--type", "acknowledgement", "--to", "RU-NRRC", "--key", dir.path("none.key"),
            "--cert", pki.chain("US-NRRC"), "--seq", "1", "--out", dir.path("z.cose"),
        ])
        #expect(missingKey.status == 66, "\(missingKey.stderr)")
        #expect(missingKey.stderr.contains("none.key"))
    }

    @Test func bodyFieldsAsOptions() throws {
        let out = dir.path("fields.cose")
        let output = try CLI.run([
            "compose", "--type", "general-communication", "--to", "RU-NRRC",
            "--field", "subject=Link test 2", "--field", #"text={"lang": "fr", "text": "Merci."}"#,
            "--key", pki.key("US-NRRC"), "--cert", pki.chain("US-NRRC"), "--seq", "5", "--out", out,
        ])
        #expect(output.status == 0, "\(output.stderr)")
        let envelope = try Envelope(decoding: try payload(out))
        #expect(
            envelope.body
                == .generalCommunication(
                    GeneralCommunication(
                        subject: "Link test 2",
                        text: try LocalizedText(language: "fr", text: "Merci.")
                    )
                )
        )
        let extensionBody = dir.write("ext.json", #"{"new-window-end": "\#(Self.time(86_400))"}"#)
        let twice = try CLI.run([
            "compose", "--type", "launch-window-extension", "--to", "RU-NRRC", "--body", extensionBody,
            "--field", "new-window-end=\(Self.time(7200))", "--ref", "019ad8a0c5c07000a000000000000001:extends",
            "--key", pki.key("US-NRRC"), "--cert", pki.chain("US-NRRC"), "--seq", "5", "--out", dir.path("twice.cose"),
        ])
        #expect(twice.status == 64)
        #expect(twice.stderr.contains("new-window-end"))
    }

    @Test func looseKeyPermissionsAreRefused() throws {
        let key = dir.path("loose.key")
        try FileManager.default.copyItem(atPath: pki.key("US-NRRC"), toPath: key)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
        let output = try CLI.run([
            "compose", "--type", "acknowledgement", "--to", "RU-NRRC", "--ref",
            "019ad8a0c5c07000a000000000000001:acknowledges",
            "--key", key, "--cert", pki.chain("US-NRRC"), "--seq", "1", "--out", dir.path("loose.cose"),
        ])
        #expect(output.status == 77, "\(output.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("loose.cose")))
    }

    @Test func stateFileNumbersEachChannel() throws {
        let state = dir.path("channels.json")
        for n in 1...2 {
            let out = dir.path("ack-\(n).cose")
            let output = try CLI.run([
                "compose", "--type", "acknowledgement", "--to", "RU-NRRC", "--ref",
                "019ad8a0c5c07000a000000000000001:acknowledges",
                "--key", pki.key("US-NRRC"), "--cert", pki.chain("US-NRRC"), "--state", state, "--out", out,
            ])
            #expect(output.status == 0, "\(output.stderr)")
            let envelope = try Envelope(decoding: try payload(out))
            #expect(envelope.recipients.map(\.sequence) == [UInt64(n)])
        }
        let other = try CLI.run([
            "compose", "--type", "acknowledgement", "--to", "HCOC-CC", "--ref",
            "019ad8a0c5c07000a000000000000001:acknowledges",
            "--key", pki.key("RU-NRRC"), "--cert", pki.chain("RU-NRRC"), "--state", state, "--out", dir.path("ru.cose"),
        ])
        #expect(other.status == 65, "a state file belongs to one sender")
    }

    @Test func concurrentComposesTakeDistinctNumbers() async throws {
        let state = dir.path("shared-state.json")
        let arguments = [
            "compose", "--type", "acknowledgement", "--to", "RU-NRRC", "--ref",
            "019ad8a0c5c07000a000000000000001:acknowledges",
            "--key", pki.key("US-NRRC"), "--cert", pki.chain("US-NRRC"), "--state", state,
        ]
        let outputs = (1...6).map { dir.path("parallel-\($0).cose") }
        let statuses = await withTaskGroup(of: Int32.self) { group in
            for out in outputs { group.addTask { (try? CLI.run(arguments + ["--out", out]))?.status ?? -1 } }
            return await group.reduce(into: [Int32]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 0, count: 6))
        let numbers = try outputs.map { try Envelope(decoding: try payload($0)).recipients[0].sequence }
        #expect(Set(numbers) == Set(1...6))
    }

    @Test func outputIsNeverOverwritten() throws {
        let out = dir.write("existing.cose", "keep")
        let output = try CLI.run([
            "compose", "--type", "acknowledgement", "--to", "RU-NRRC", "--ref",
            "019ad8a0c5c07000a000000000000001:acknowledges",
            "--key", pki.key("US-NRRC"), "--cert", pki.chain("US-NRRC"), "--seq", "1", "--out", out,
        ])
        #expect(output.status == 73)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "keep")
    }

    /// `parley compose` refuses each document with the code a receiver gives the same defect on the
    /// wire (the hostile catalogue's H114–H129 send such bytes to a node and to `parley verify`).
    @Test func refusalNamesTheReceiversCode() throws {
        let other = "019ad8a0c5c07000a000000000000051"
        func refs(_ items: [(String, String)]) -> String {
            "[" + items.map { #"{"id": "\#($0.0)", "relation": "\#($0.1)"}"# }.joined(separator: ", ") + "]"
        }
        let polygon =
            #"{"polygon": [{"lat": 0, "lon": 0}, {"lat": 0, "lon": 1}, {"lat": 1, "lon": 0}, {"lat": 0, "lon": 0}]}"#
        let seventeen = (1...17).map { (String(format: "019ad8a0c5c07000a0000000000000%02x", $0), "responds-to") }
        let cases: [(String, String, String)] = [
            (
                "polygon repeating its first vertex",
                #"{"type": "pre-launch", "recipients": ["RU-NRRC"], "body": \#(Self.preLaunch(launchArea: polygon))}"#,
                "invalid-body"
            ),
            (
                "unknown relation",
                #"{"type": "general-communication", "recipients": ["RU-NRRC"], "refs": \#(refs([(other, "likes")])), "body": {"subject": "s", "text": {"lang": "en", "text": "t"}}}"#,
                "malformed"
            ),
            (
                "17 references",
                #"{"type": "general-communication", "recipients": ["RU-NRRC"], "refs": \#(refs(seventeen)), "body": {"subject": "s", "text": {"lang": "en", "text": "t"}}}"#,
                "malformed"
            ),
            (
                "a reference twice",
                #"{"type": "general-communication", "recipients": ["RU-NRRC"], "refs": \#(refs([(other, "responds-to"), (other, "responds-to")])), "body": {"subject": "s", "text": {"lang": "en", "text": "t"}}}"#,
                "malformed"
            ),
            (
                "no references in refs",
                #"{"type": "general-communication", "recipients": ["RU-NRRC"], "refs": [], "body": {"subject": "s", "text": {"lang": "en", "text": "t"}}}"#,
                "malformed"
            ),
            (
                "body not an object", #"{"type": "general-communication", "recipients": ["RU-NRRC"], "body": []}"#,
                "malformed"
            ),
            (
                "null in the body",
                #"{"type": "pre-launch", "recipients": ["RU-NRRC"], "body": \#(Self.preLaunch(extra: #", "designator": null"#))}"#,
                "invalid-body"
            ),
            (
                "unknown body field",
                #"{"type": "pre-launch", "recipients": ["RU-NRRC"], "body": \#(Self.preLaunch(extra: #", "colour": "red""#))}"#,
                "invalid-body"
            ),
            (
                "a recipient twice",
                #"{"type": "acknowledgement", "recipients": ["RU-NRRC", "RU-NRRC"], "refs": \#(refs([(other, "acknowledges")]))}"#,
                "malformed"
            ),
            ("unknown type", #"{"type": "launch", "recipients": ["RU-NRRC"]}"#, "unknown-type"),
            (
                "message over 262 144 bytes",
                #"{"type": "general-communication", "recipients": ["RU-NRRC"], "body": {"subject": "s", "text": {"lang": "en", "text": "\#(String(repeating: "\u{1F600}", count: 65_536))"}}}"#,
                "too-large"
            ),
        ]
        for (name, json, code) in cases {
            let out = dir.path("refused-\(UUID().uuidString).cose")
            let output = try CLI.run([
                "compose", "--document", dir.write("doc.json", json), "--key", pki.key("US-NRRC"),
                "--cert", pki.chain("US-NRRC"), "--seq", "1", "--out", out,
            ])
            #expect(output.status == 65, "\(name): \(output.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(name): nothing may be written")
            #expect(
                output.stderr.contains("receivers reject it as \(code)"),
                "\(name): expected \(code); got \(output.stderr)"
            )
        }
    }
}

/// The JSON composition API of ParleyProtocol, in process: exact decimal conversion (NOTIFICATIONS.md §2.2).
@Suite struct JSONCompositionTests {
    static let microdegrees: [(String, Int32?)] = [
        ("48.8566", 48_856_600), ("2.3522", 2_352_200), ("-120.5724", -120_572_400), ("12.3456785", 12_345_679),
        ("-12.3456785", -12_345_679), ("0.0000004999", 0), ("-0.0000005", -1), ("1e-6", 1), ("90.0000004", 90_000_000),
        ("90.0000005", nil), ("4.88566e1", 48_856_600),
    ]

    @Test(arguments: microdegrees.map(\.0))
    func latitudeConvertsExactly(_ numeral: String) throws {
        let expected = Self.microdegrees.first { $0.0 == numeral }!.1
        // -120.5724 is the table's longitude; the others are tried as latitudes.
        let isLongitude = numeral == "-120.5724"
        let location = isLongitude ? #"{"lat": 0, "lon": \#(numeral)}"# : #"{"lat": \#(numeral), "lon": 0}"#
        let body =
            #"{"kind": "movement", "item-type": "x", "quantity": 1, "location": \#(location), "event-time": "2026-12-01T00:00:00Z"}"#
        if let expected {
            let parsed = try NotificationBody(
                type: .treatyEvent,
                json: Array(body.utf8),
                created: UTCTime(secondsSince1970: 0)
            )
            guard case .treatyEvent(let event) = parsed else {
                Issue.record("not a treaty event")
                return
            }
            #expect(
                (isLongitude ? event.location.longitudeMicrodegrees : event.location.latitudeMicrodegrees) == expected
            )
        } else {
            #expect {
                try NotificationBody(type: .treatyEvent, json: Array(body.utf8), created: UTCTime(secondsSince1970: 0))
            } throws: { error in
                (error as? ProtocolError)?.field == "body.location.lat"
            }
        }
    }

    @Test(arguments: [
        ("247.5", UInt16?(24_750)), ("247.50", 24_750), ("247.55", 24_755), ("247.555", nil), ("360", nil), ("0", 0),
        ("-1", nil), ("359.99", 35_999),
    ])
    func azimuthConvertsExactly(_ numeral: String, _ expected: UInt16?) throws {
        let body =
            #"{"class": "ballistic-missile", "window-start": "2026-12-03T00:00:00Z", "window-end": "2026-12-03T01:00:00Z", "launch-area": {"circle": {"center": {"lat": 1, "lon": 1}, "radius-m": 1}}, "impact-areas": [{"circle": {"center": {"lat": 2, "lon": 2}, "radius-m": 1}}], "azimuth": \#(numeral)}"#
        let created = try UTCTime(rfc3339: "2026-12-01T00:00:00Z")
        if let expected {
            guard
                case .preLaunch(let p) = try NotificationBody(
                    type: .preLaunch,
                    json: Array(body.utf8),
                    created: created
                )
            else { return }
            #expect(p.azimuthCentidegrees == expected)
            #expect(p.late == false)
        } else {
            #expect { try NotificationBody(type: .preLaunch, json: Array(body.utf8), created: created) } throws: {
                error in
                (error as? ProtocolError)?.field == "body.azimuth"
            }
        }
    }

    @Test func documentRulesAreEnforced() throws {
        let cases: [(String, String)] = [
            (#"{"type": "acknowledgement", "recipients": ["RU-NRRC", "RU-NRRC"]}"#, "recipients"),
            (#"{"type": "acknowledgement", "recipients": ["RU-NRRC"], "sender": "US-NRRC"}"#, "sender"),
            (#"{"type": "pre-launch", "recipients": ["RU-NRRC"]}"#, "body"),
            (#"{"type": "launch", "recipients": ["RU-NRRC"]}"#, "type"),
            (#"{"type": "acknowledgement", "recipients": ["ru-nrrc"]}"#, "recipients[0]"),
            (
                #"{"type": "acknowledgement", "recipients": ["RU-NRRC"], "id": "0192f3a0-6c007a10-8b2c-3d4e5f601001"}"#,
                "id"
            ),
            (
                #"{"type": "acknowledgement", "recipients": ["RU-NRRC"], "created": "2026-12-01T06:00:00+00:00"}"#,
                "created"
            ),
            (
                #"{"type": "acknowledgement", "recipients": ["RU-NRRC"], "refs": [{"id": "019ad8a0c5c07000a000000000000001", "relation": "likes"}]}"#,
                "refs[0].relation"
            ),
        ]
        for (json, field) in cases {
            #expect(throws: ProtocolError.self) { try Composition(json: Array(json.utf8)) }
            do { _ = try Composition(json: Array(json.utf8)) } catch let error as ProtocolError {
                #expect(error.field == field, "\(json): \(error)")
            }
        }
        let duplicateKey = #"{"type": "acknowledgement", "type": "acknowledgement", "recipients": ["RU-NRRC"]}"#
        #expect(throws: ProtocolError.self) { try Composition(json: Array(duplicateKey.utf8)) }
    }

    @Test func polygonMustNotRepeatItsFirstVertex() throws {
        let body =
            #"{"class": "ballistic-missile", "launch-time": "2026-12-01T00:00:00Z", "launch-area": {"polygon": [{"lat": 1, "lon": 1}, {"lat": 2, "lon": 1}, {"lat": 2, "lon": 2}, {"lat": 1.0000000001, "lon": 1}]}, "outcome": "nominal"}"#
        #expect {
            try NotificationBody(
                type: .postLaunchReport,
                json: Array(body.utf8),
                created: UTCTime(secondsSince1970: 1_900_000_000)
            )
        } throws: { error in
            (error as? ProtocolError)?.field == "body.launch-area.polygon"
        }
    }
}
