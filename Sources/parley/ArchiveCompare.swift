import ArgumentParser
import Foundation
import ParleyStore

/// `parley archive compare A B …`: archives of different participants side by side (ARCHIVE.md §6).
struct ArchiveCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare archives exported by different participants: bytes, receipts and channel numbers.",
        discussion: """
            Reads each archive (structure and trailer, as archive verify does first) and reports where \
            two of them disagree: the same message id with different bytes; a message or a receipt \
            that one side holds and the other, a party to it, does not; a channel number that the \
            recipient's archive lists as missing while the sender's holds the message sent with it; \
            a channel number used for different messages. Signatures are not checked here: run \
            `parley archive verify` on each archive as well.

            Exit status: 0 if the archives agree, 1 if there are findings, 65 if a file is not a \
            readable archive.

            Example:
              parley archive compare us-2026.parley ru-2026.parley

            \(ExitStatus.seeTable)
            """
    )

    @Argument(help: ArgumentHelp("Two or more archive files.", valueName: "file"))
    var files: [String]

    @Flag(help: "A JSON report on standard output.")
    var json = false

    func validate() throws {
        guard files.count >= 2 else {
            throw ValidationError("give at least two archives to compare (got \(files.count))")
        }
    }

    func run() throws {
        for file in files where !FileManager.default.isReadableFile(atPath: file) {
            throw CLIError(ExitStatus.noInput, "cannot read archive \(file): no such file, or no permission to read it")
        }
        let comparison = try ArchiveComparison.compare(paths: files)
        if json {
            let object: [String: Any] = [
                "archives": comparison.sides.map { ["file": $0.path, "exporter": $0.header.exporter] },
                "messages-in-common": comparison.messagesInCommon,
                "agree": comparison.findings.isEmpty,
                "findings": comparison.findings.map(\.description),
            ]
            let data = try JSONSerialization.data(
                withJSONObject: object,
                options: [.sortedKeys, .withoutEscapingSlashes]
            )
            print(String(decoding: data, as: UTF8.self))
        } else {
            for (index, side) in comparison.sides.enumerated() {
                print(
                    "#\(index + 1) \(side.path): exported by \(side.header.exporter), "
                        + "\(side.header.from.formatted(.iso8601)) – \(side.header.to.formatted(.iso8601))"
                )
            }
            let verdict =
                comparison.findings.isEmpty ? "✔ the archives agree" : "✘ \(comparison.findings.count) findings"
            print("\(verdict) (\(comparison.messagesInCommon) messages in common)")
            for finding in comparison.findings { print("  - \(finding)") }
        }
        if !comparison.findings.isEmpty { throw ExitCode(ExitStatus.verificationFailed) }
    }
}
