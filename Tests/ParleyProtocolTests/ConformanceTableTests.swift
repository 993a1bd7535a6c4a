import Foundation
import Testing

/// Keeps Protocol/CONFORMANCE.md from drifting away from SPEC.md, NOTIFICATIONS.md and the tests:
/// every counted requirement has a row, every row's quote is in its section, every cited test
/// exists, every MISSING cell is listed under Gaps (and only those), and every row has a test.
/// The counting rule is the one written at the top of CONFORMANCE.md; `ConformanceChecker` is it.
@Suite struct ConformanceTableTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func read(_ relative: String) throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent(relative), encoding: .utf8)
    }

    /// Every Swift file under Tests/, by path relative to the package root.
    static func testSources() throws -> [String: String] {
        let tests = packageRoot.appendingPathComponent("Tests")
        var sources: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            sources[String(url.path.dropFirst(packageRoot.path.count + 1))] = try String(
                contentsOf: url,
                encoding: .utf8
            )
        }
        return sources
    }

    /// The check of the real documents, made once, on a thread of its own: it takes minutes of CPU,
    /// and on the cooperative pool it starved the nodes that other suites run in this process.
    static let checked = Result { try problems() }

    static func problemsOffPool() async throws -> [String] {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: checked) }
        }
    }

    static func problems() throws -> [String] {
        let checker = ConformanceChecker(
            spec: try read("Protocol/SPEC.md"),
            notifications: try read("Protocol/NOTIFICATIONS.md"),
            testSources: try testSources(),
            catalogue: try read("Tests/Hostile/CATALOGUE.md"),
            fileExists: { FileManager.default.fileExists(atPath: packageRoot.appendingPathComponent($0).path) }
        )
        return checker.problems(conformance: try read("Protocol/CONFORMANCE.md"))
    }

    /// Rows for every counted requirement, quotes in their sections, real tests, Gaps in step.
    @Test func tableMatchesTheSpecificationAndTheTests() async throws {
        let problems = try await Self.problemsOffPool().filter { !$0.contains(ConformanceChecker.untested) }
        #expect(problems.isEmpty, "Protocol/CONFORMANCE.md:\n\(problems.joined(separator: "\n"))")
    }

    /// Every row has a test on some path, unless CONFORMANCE.md lists it as not testable by software
    /// or as a known gap (⚠ under Gaps, with the work that closes it). The known gaps only shrink:
    /// `knownGapCeiling` is lowered as each one gets its test, and a ⚠ row that has a test fails.
    @Test func everyRequirementHasATest() async throws {
        let untested = try await Self.problemsOffPool().filter {
            $0.contains(ConformanceChecker.untested) || $0.contains("has a test now")
        }
        #expect(untested.isEmpty, "Protocol/CONFORMANCE.md:\n\(untested.joined(separator: "\n"))")
        let known = ConformanceChecker.knownUntested(try Self.read("Protocol/CONFORMANCE.md"))
        #expect(known.count <= Self.knownGapCeiling, "known untested requirements may only shrink: \(known.sorted())")
    }

    /// The number of requirements without any test (⚠ under Gaps) when the table was written.
    static let knownGapCeiling = 12

    // MARK: The checker on synthetic documents: each defect it exists for makes it fail.

    static let spec = """
        # Title

        ## 1. Introduction

        ### 1.1. Requirements language

        The key words "MUST" and "SHOULD" are defined here.

        ### 4.2. Limits

        A receiver MUST reject bytes (e.g. `0x18 0x05`) that are not shortest. It MAY
        log them. A sender SHOULD NOT send them; see below.

        | limit | value |
        |---|---|
        | depth | MUST be ≤ 16 |

        ```
        code MUST NOT count
        ```

        ## 9. Procedures

        ### 9.1. Receiving

        A recipient MUST process a body as follows.

        1. Decode it.
        2. Check it: reject with `malformed`.
           It MUST be a map.

        Steps 1 and 2 MUST be atomic.
        """

    static let notifications = """
        # Catalogue

        ## 3. Types

        ### 3.1. one (1)

        1. The body MUST be the empty map.
        """

    static let table = """
        | ID | § | quote | compose | verify | node | other |
        |---|---|---|---|---|---|---|
        | S4.2-1 | 4.2 | "A receiver MUST reject bytes" | n/a (receiver rule) | Suite.checksBytes | H001 | n/a (none) |
        | S4.2-2 | 4.2 | "A sender SHOULD NOT send them" | Suite.checksBytes (the sender side) | n/a (sender rule) | n/a (sender rule) | n/a (none) |
        | S4.2-3 | 4.2 | "MUST be ≤ 16" | n/a (receiver rule) | MISSING | H001 | Protocol/tools/check.py |
        | S9.1-1 | 9.1 | "1. Decode it." | n/a (receiver rule) | Suite.checksBytes | H001 | n/a (none) |
        | S9.1-2 | 9.1 | "It MUST be a map." | n/a (receiver rule) | Suite.checksBytes | H001 | n/a (none) |
        | S9.1-3 | 9.1 | "MUST process a body as follows" | n/a (receiver rule) | Suite.checksBytes | H001 | n/a (none) |
        | S9.1-4 | 9.1 | "MUST be atomic" | n/a (receiver rule) | n/a (state) | Suite.checksBytes | n/a (none) |
        | N3.1-1 | 3.1 | "The body MUST be the empty map." | Suite.checksBytes | Suite.checksBytes | H001 | n/a (none) |

        ## Gaps

        - S4.2-3 verify: no test decodes a 17-deep item.
        """

    static func checker(spec: String = spec) -> ConformanceChecker {
        ConformanceChecker(
            spec: spec,
            notifications: notifications,
            testSources: ["Tests/X/SuiteTests.swift": "@Suite struct Suite {\n    @Test func checksBytes() {}\n}"],
            catalogue: "| H001 | empty | … |",
            fileExists: { $0 == "Protocol/tools/check.py" }
        )
    }

    @Test func countingRuleFindsKeyWordSentencesAndSteps() {
        let counted = ConformanceChecker.requirements(in: Self.spec, stepSections: ["9.1"])
        #expect(counted["1.1"] == nil, "§1.1 defines the key words; it states no requirement")
        #expect(
            counted["4.2"] == [
                "A receiver MUST reject bytes (e.g. `0x18 0x05`) that are not shortest.",
                "A sender SHOULD NOT send them; see below.",
                "| depth | MUST be ≤ 16 |",
            ]
        )
        #expect(
            counted["9.1"]?.count == 4,
            "two steps (one of them with a MUST inside, counted once) and two key-word sentences"
        )
        #expect(ConformanceChecker.requirements(in: Self.notifications, stepSections: [])["3.1"]?.count == 1)
    }

    @Test func syntheticTableIsClean() {
        #expect(Self.checker().problems(conformance: Self.table) == [])
    }

    @Test func anAddedMustWithoutARowFails() {
        let grown = Self.spec.replacingOccurrences(of: "It MAY\n    log them.", with: "It MUST\n    log them.")
            .replacingOccurrences(of: "It MAY\nlog them.", with: "It MUST\nlog them.")
        #expect(grown != Self.spec)
        let problems = Self.checker(spec: grown).problems(conformance: Self.table)
        #expect(
            problems.contains { $0.contains("SPEC.md §4.2") && $0.contains("4 requirements") && $0.contains("3 rows") },
            "\(problems)"
        )
        let newStep = Self.spec.replacingOccurrences(of: "Steps 1 and 2", with: "3. Store it.\n\nSteps 1 and 2")
        #expect(Self.checker(spec: newStep).problems(conformance: Self.table).contains { $0.contains("SPEC.md §9.1") })
    }

    @Test func aQuoteNotInItsSectionFails() {
        let moved = Self.table.replacingOccurrences(of: "| S4.2-2 | 4.2 |", with: "| S4.2-2 | 9.1 |")
        #expect(Self.checker().problems(conformance: moved).contains { $0.contains("S4.2-2") })
        let changed = Self.table.replacingOccurrences(
            of: "\"A receiver MUST reject bytes\"",
            with: "\"A receiver MUST refuse bytes\""
        )
        #expect(
            Self.checker().problems(conformance: changed).contains { $0.contains("S4.2-1") && $0.contains("quote") }
        )
    }

    @Test func aCitedTestThatDoesNotExistFails() {
        for (bad, what) in [
            ("Suite.checksBites", "Suite.checksBites"), ("H002", "H002"), ("Protocol/tools/gone.py", "gone.py"),
            ("Other.checksBytes", "Other.checksBytes"), ("whatever", "whatever"),
        ] {
            let table = Self.table.replacingOccurrences(
                of: "| n/a (receiver rule) | Suite.checksBytes | H001 | n/a (none) |\n| S9.1-2",
                with: "| n/a (receiver rule) | \(bad) | H001 | n/a (none) |\n| S9.1-2"
            )
            #expect(table != Self.table)
            #expect(
                Self.checker().problems(conformance: table).contains { $0.contains("S9.1-1") && $0.contains(what) },
                "\(bad)"
            )
        }
    }

    @Test func aCaseNamedInANoteMustExist() {
        let named = Self.table.replacingOccurrences(
            of: "| Suite.checksBytes (the sender side) |",
            with: "| Suite.checksBytes (S4.2-2 a case) |"
        )
        #expect(named != Self.table)
        #expect(
            Self.checker().problems(conformance: named).contains { $0.contains("S4.2-2") && $0.contains("no case") }
        )
        let checker = ConformanceChecker(
            spec: Self.spec,
            notifications: Self.notifications,
            testSources: [
                "Tests/X/SuiteTests.swift":
                    "@Suite struct Suite {\n    static let cases = [\"S4.2-2\"]\n    @Test func checksBytes() {}\n}"
            ],
            catalogue: "| H001 | empty | … |",
            fileExists: { $0 == "Protocol/tools/check.py" }
        )
        #expect(checker.problems(conformance: named) == [])
    }

    @Test func missingCellsAndGapsMustAgree() {
        let unlisted = Self.table.replacingOccurrences(of: "- S4.2-3 verify: no test decodes a 17-deep item.", with: "")
        #expect(unlisted != Self.table)
        #expect(
            Self.checker().problems(conformance: unlisted).contains { $0.contains("S4.2-3") && $0.contains("Gaps") }
        )
        let stale = Self.table + "\n- S4.2-1 node: listed but not MISSING.\n"
        #expect(Self.checker().problems(conformance: stale).contains { $0.contains("S4.2-1") && $0.contains("Gaps") })
    }

    @Test func aRowWithoutAnyTestFailsUnlessListedAsNotTestable() {
        let untested = Self.table.replacingOccurrences(
            of: "| S4.2-2 | 4.2 | \"A sender SHOULD NOT send them\" | Suite.checksBytes (the sender side) |",
            with: "| S4.2-2 | 4.2 | \"A sender SHOULD NOT send them\" | n/a (a habit) |"
        )
        #expect(untested != Self.table)
        #expect(
            Self.checker().problems(conformance: untested).contains {
                $0.contains("S4.2-2") && $0.contains(ConformanceChecker.untested)
            }
        )
        let listed = untested + "\n## Not testable by software\n\n- S4.2-2: a habit of people.\n"
        #expect(Self.checker().problems(conformance: listed) == [])
        let tested = Self.table + "\n## Not testable by software\n\n- S4.2-1: but it has a test.\n"
        #expect(
            Self.checker().problems(conformance: tested).contains {
                $0.contains("S4.2-1") && $0.contains("not testable")
            }
        )
    }

    @Test func aRowWithoutAnyTestFails() {
        let untested = Self.table.replacingOccurrences(
            of:
                "| S9.1-4 | 9.1 | \"MUST be atomic\" | n/a (receiver rule) | n/a (state) | Suite.checksBytes | n/a (none) |",
            with: "| S9.1-4 | 9.1 | \"MUST be atomic\" | n/a (receiver rule) | n/a (state) | MISSING | n/a (none) |"
        )
        .replacingOccurrences(of: "## Gaps\n", with: "## Gaps\n\n- S9.1-4 node: none.\n")
        #expect(
            Self.checker().problems(conformance: untested).contains { $0.contains("S9.1-4") && $0.contains("no test") }
        )
        let duplicate = Self.table.replacingOccurrences(of: "| S9.1-4 |", with: "| S9.1-3 |")
        #expect(
            Self.checker().problems(conformance: duplicate).contains { $0.contains("S9.1-3") && $0.contains("twice") }
        )
    }
}

/// The counting rule of Protocol/CONFORMANCE.md and the checks made on its table.
struct ConformanceChecker {
    let spec: String
    let notifications: String
    /// Test sources by path; a cited `Suite.function` must be declared in a file that declares `Suite`.
    let testSources: [String: String]
    /// Tests/Hostile/CATALOGUE.md; a cited `H012` must be a row of its table.
    let catalogue: String
    /// Whether a cited path (a script, relative to the package root) exists.
    let fileExists: (String) -> Bool

    static let paths = ["compose", "verify", "node", "other"]

    /// Section number ("4.2", "11", "A") → its lines: from its heading to the next heading, fenced
    /// code blocks left out. Headings other than numbered ones and appendices end a section.
    static func sections(of markdown: String) -> [(number: String, lines: [String])] {
        var sections: [(number: String, lines: [String])] = []
        var inSection = false
        var fenced = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                fenced.toggle()
                continue
            }
            if fenced { continue }
            if line.hasPrefix("#") {
                inSection = false
                if let number = sectionNumber(ofHeading: line) {
                    sections.append((number, []))
                    inSection = true
                }
                continue
            }
            if inSection { sections[sections.count - 1].lines.append(line) }
        }
        return sections
    }

    static func sectionNumber(ofHeading line: String) -> String? {
        if let match = line.wholeMatch(of: /#{2,3} (\d+(?:\.\d+)?)\. .*/) { return String(match.1) }
        if let match = line.wholeMatch(of: /#{2,3} Appendix ([A-Z])\. .*/) { return String(match.1) }
        return nil
    }

    /// A section's text with every run of white space made one space, for finding quotes.
    static func flattened(_ lines: [String]) -> String {
        lines.joined(separator: " ").split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Blocks: paragraphs; each list item ("- ", "* ", "1. ") with its continuation lines; each table row.
    static func blocks(_ lines: [String]) -> [String] {
        var blocks: [String] = []
        var current: [String] = []
        func close() {
            if !current.isEmpty {
                blocks.append(current.joined(separator: " "))
                current = []
            }
        }
        for raw in lines {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("<!--") {
                close()
                continue
            }
            if line.hasPrefix("|") {
                close()
                if line.wholeMatch(of: /\|[\s\-:|]+\|/) == nil { blocks.append(line) }
                continue
            }
            if line.hasPrefix("- ") || line.hasPrefix("* ") || line.prefixMatch(of: #/\d+\. /#) != nil { close() }
            current.append(line)
        }
        close()
        return blocks
    }

    /// Sentences of a block: it is cut after `.`, `!` or `?` followed by white space and then an
    /// uppercase letter, `*`, `(`, `` ` `` or `"`, except after "e.g." and "i.e.".
    static func sentences(_ block: String) -> [String] {
        let characters = Array(block)
        var sentences: [String] = []
        var start = 0
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if ".!?".contains(character), index + 2 < characters.count, characters[index + 1] == " " {
                let next = characters[index + 2]
                let opens = (next.isUppercase && next.isASCII) || "*(`\"".contains(next)
                let abbreviation =
                    String(characters[max(0, index - 3)...index]).hasSuffix("e.g.")
                    || String(characters[max(0, index - 3)...index]).hasSuffix("i.e.")
                if opens && !abbreviation {
                    sentences.append(String(characters[start...index]))
                    start = index + 2
                    index += 2
                    continue
                }
            }
            index += 1
        }
        if start < characters.count { sentences.append(String(characters[start...])) }
        return sentences
    }

    static func hasKeyWord(_ sentence: String) -> Bool {
        sentence.contains(/\b(MUST|REQUIRED|SHALL|SHOULD|RECOMMENDED)\b/)
    }

    /// The counted requirements of a document, by section: every sentence with a key word, except
    /// in §1.1; in `stepSections`, every numbered step counts once (with or without key words) and
    /// the key-word sentences outside the steps count as elsewhere.
    static func requirements(in markdown: String, stepSections: Set<String>) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for (number, lines) in sections(of: markdown) where number != "1.1" {
            var counted: [String] = []
            for block in blocks(lines) {
                if stepSections.contains(number), block.prefixMatch(of: #/\d+\. /#) != nil {
                    counted.append(block)
                    continue
                }
                counted += sentences(block).filter(hasKeyWord)
            }
            if !counted.isEmpty { result[number] = counted }
        }
        return result
    }

    struct Row {
        var id: String
        var section: String
        var quote: String
        var cells: [String]
        var line: Int
        var document: String { id.hasPrefix("N") ? "NOTIFICATIONS.md" : "SPEC.md" }
    }

    /// Table rows whose first cell is an id (`S4.2-3`, `N3.1-2`, `SA-1`).
    static func rows(of conformance: String) -> [Row] {
        var rows: [Row] = []
        for (offset, line) in conformance.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard line.hasPrefix("| S") || line.hasPrefix("| N") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 7, cells[0].wholeMatch(of: /[SN][0-9A-Z.]+-\d+/) != nil else { continue }
            var quote = cells[2]
            if quote.hasPrefix("\""), quote.hasSuffix("\""), quote.count >= 2 {
                quote = String(quote.dropFirst().dropLast())
            }
            rows.append(
                Row(id: cells[0], section: cells[1], quote: quote, cells: Array(cells[3...6]), line: offset + 1)
            )
        }
        return rows
    }

    /// "ID path" pairs listed under "## Gaps" as `- S4.4-2 verify: …`.
    static func gaps(of conformance: String) -> Set<String> {
        var gaps: Set<String> = []
        for line in lines(under: "## Gaps", in: conformance) {
            if let match = line.prefixMatch(of: /- ([SN][0-9A-Z.]+-\d+) (compose|verify|node|other)\b/) {
                gaps.insert("\(match.1) \(match.2)")
            }
        }
        return gaps
    }

    /// The lines of the section that `heading` opens, up to the next `## ` heading.
    static func lines(under heading: String, in conformance: String) -> [Substring] {
        guard let range = conformance.range(of: "\n" + heading) else { return [] }
        return Array(conformance[range.upperBound...].split(separator: "\n").prefix { !$0.hasPrefix("## ") })
    }

    static let untested = "no test on any path"

    /// Ids of the rows listed under "## Gaps" with ⚠: known to have no test on any path yet.
    static func knownUntested(_ conformance: String) -> Set<String> {
        var ids: Set<String> = []
        for line in lines(under: "## Gaps", in: conformance) {
            if line.contains("⚠"), let match = line.prefixMatch(of: /- ([SN][0-9A-Z.]+-\d+)\s/) {
                ids.insert(String(match.1))
            }
        }
        return ids
    }

    /// Ids listed under "## Not testable by software" as `- S7.3-1: …`.
    static func notTestable(_ conformance: String) -> Set<String> {
        var ids: Set<String> = []
        for line in lines(under: "## Not testable by software", in: conformance) {
            if let match = line.prefixMatch(of: /- ([SN][0-9A-Z.]+-\d+):/) { ids.insert(String(match.1)) }
        }
        return ids
    }

    /// The items of a cell, split at commas outside parentheses, each without a trailing "(note)".
    static func citations(_ cell: String) -> [(citation: String, note: String?)] {
        var items: [String] = []
        var current = ""
        var depth = 0
        for character in cell {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if character == ",", depth == 0 {
                items.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        items.append(current)
        return items.map { item -> (citation: String, note: String?) in
            let item = item.trimmingCharacters(in: .whitespaces)
            if let match = item.firstMatch(of: /\s*\(([^()]*(\([^()]*\)[^()]*)*)\)$/), !item.hasPrefix("n/a") {
                return (String(item[..<match.range.lowerBound]), String(match.1))
            }
            return (item, nil)
        }.filter { !$0.citation.isEmpty }
    }

    /// A note that starts with a row id (`(S4.4-2)`, `(N3.1-2 latitude …)`) names a case of a
    /// data-driven test: the files declaring the suite must contain a string literal that is the id
    /// or starts with it and a space.
    func unresolved(_ citation: String, note: String?) -> String? {
        guard let note, let id = note.prefixMatch(of: /[SN][0-9A-Z.]+-\d+/).map({ String($0.0) }),
            let match = citation.wholeMatch(of: /([A-Za-z_]\w*)\.([A-Za-z_]\w*)/),
            let declaration = try? Regex("(struct|class|enum|extension)\\s+\(match.1)\\b")
        else { return nil }
        let declaring = testSources.values.filter { $0.contains(declaration) }
        return declaring.contains { $0.contains("\"\(id)\"") || $0.contains("\"\(id) ") }
            ? nil : "\(citation) has no case \"\(id)\""
    }

    /// Why a citation does not name a real test, or nil when it does.
    func unresolved(_ citation: String) -> String? {
        if citation.wholeMatch(of: /H\d{3}/) != nil {
            return catalogue.contains("| \(citation) |") ? nil : "\(citation) is not in Tests/Hostile/CATALOGUE.md"
        }
        if let match = citation.wholeMatch(of: /([A-Za-z_]\w*)\.([A-Za-z_]\w*)/) {
            let suite = String(match.1)
            let function = String(match.2)
            guard let declaration = try? Regex("(struct|class|enum|extension)\\s+\(suite)\\b") else {
                return "\(citation): not a suite name"
            }
            let declaring = testSources.values.filter { $0.contains(declaration) }
            if declaring.isEmpty { return "\(citation): no suite \(suite) under Tests/" }
            return declaring.contains { $0.contains("func \(function)(") }
                ? nil : "\(citation): no func \(function)( in the files declaring \(suite)"
        }
        if citation.contains("/") {
            return fileExists(citation) ? nil : "\(citation) does not exist"
        }
        return "\(citation) is neither Suite.function, an H-id, a path, n/a (reason) nor MISSING"
    }

    /// Every defect of the table, one line each; empty when the table is in order.
    func problems(conformance: String) -> [String] {
        var problems: [String] = []
        let rows = Self.rows(of: conformance)
        if rows.isEmpty { problems.append("no rows found") }
        let documents: [(prefix: String, name: String, text: String, steps: Set<String>)] = [
            ("S", "SPEC.md", spec, ["9.1", "9.2"]), ("N", "NOTIFICATIONS.md", notifications, []),
        ]
        for document in documents {
            let texts = Dictionary(
                Self.sections(of: document.text).map { ($0.number, Self.flattened($0.lines)) },
                uniquingKeysWith: { first, _ in first }
            )
            for (section, counted) in Self.requirements(in: document.text, stepSections: document.steps).sorted(by: {
                $0.key < $1.key
            }) {
                let covering = rows.filter { $0.id.hasPrefix(document.prefix) && $0.section == section }.count
                if covering < counted.count {
                    problems.append(
                        "\(document.name) §\(section) has \(counted.count) requirements but CONFORMANCE.md has \(covering) rows for it"
                    )
                }
            }
            for row in rows where row.id.hasPrefix(document.prefix) {
                if !row.id.hasPrefix("\(document.prefix)\(row.section)-") {
                    problems.append("\(row.id) (line \(row.line)): its id does not name its section \(row.section)")
                }
                guard let text = texts[row.section] else {
                    problems.append("\(row.id) (line \(row.line)): \(document.name) has no section \(row.section)")
                    continue
                }
                let quote = row.quote.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                if quote.isEmpty || !text.contains(quote) {
                    problems.append(
                        "\(row.id) (line \(row.line)): quote \"\(row.quote)\" is not in \(document.name) §\(row.section)"
                    )
                }
            }
        }
        var seen: Set<String> = []
        for row in rows where !seen.insert(row.id).inserted { problems.append("\(row.id) appears twice") }

        var missing: Set<String> = []
        let knownUntested = Self.knownUntested(conformance)
        let notTestable = Self.notTestable(conformance)
        for id in notTestable where !rows.contains(where: { $0.id == id }) {
            problems.append("\(id) is listed as not testable but has no row")
        }
        for row in rows {
            if notTestable.contains(row.id) {
                if !row.cells.allSatisfy({ $0.hasPrefix("n/a (") }) {
                    problems.append("\(row.id) is listed as not testable but names a test or MISSING")
                }
                continue
            }
            var tested = false
            for (path, cell) in zip(Self.paths, row.cells) {
                if cell == "MISSING" {
                    missing.insert("\(row.id) \(path)")
                    continue
                }
                if cell.hasPrefix("n/a (") && cell.hasSuffix(")") { continue }
                for (citation, note) in Self.citations(cell) {
                    if let problem = unresolved(citation) ?? unresolved(citation, note: note) {
                        problems.append("\(row.id) \(path): \(problem)")
                    } else {
                        tested = true
                    }
                }
            }
            if !tested && !knownUntested.contains(row.id) {
                problems.append("\(row.id) (line \(row.line)): \(Self.untested)")
            }
            if tested && knownUntested.contains(row.id) {
                problems.append("\(row.id) has a test now: remove its ⚠ under Gaps")
            }
        }
        let gaps = Self.gaps(of: conformance)
        for cell in missing.subtracting(gaps).sorted() {
            problems.append("\(cell) is MISSING but not listed under Gaps")
        }
        for cell in gaps.subtracting(missing).sorted() {
            problems.append("\(cell) is listed under Gaps but its cell is not MISSING")
        }
        return problems
    }
}
