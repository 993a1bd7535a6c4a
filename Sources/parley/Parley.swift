import ArgumentParser
import Foundation
import ParleyNode

/// The `parley` command line: offline tools for notifications, and the node's admin client.
@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "Compose, sign, verify and inspect Parley notifications.",
        discussion: """
            Offline commands: compose, verify, inspect, keygen, pki test, archive verify; demo runs four \
            nodes in this process. Daemon commands (admin socket): send, outbox, inbox, show, receipts, status, retry, cancel, \
            reload, archive export. \
            Every command has --help with examples.

            \(ExitStatus.helpText)
            """,
        subcommands: [
            Compose.self, Verify.self, Inspect.self, Keygen.self, PKI.self, ArchiveCommand.self, Demo.self, Send.self,
            Outbox.self,
            Inbox.self, Show.self, Receipts.self, Status.self, Retry.self, Cancel.self, Reload.self,
        ]
    )

    /// Runs the command; a user error is one line on standard error and a documented exit status.
    static func main() async {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            // --help and --version exit 0 with their text; a usage error is one line.
            guard exitCode(for: error) != .success, let line = message(for: error).split(separator: "\n").first else {
                exit(withError: error)
            }
            let words = Array(CommandLine.arguments.dropFirst().prefix { !$0.hasPrefix("-") })
            let known = commandPath(words)
            if let unknown = words.dropFirst(known.count).first, let suggestion = suggestion(for: unknown, after: known)
            {
                let prefix = known.map { $0 + " " }.joined()
                printError(
                    "unknown command '\(prefix)\(unknown)'; did you mean '\(prefix)\(suggestion)'? (see `parley help\(known.map { " " + $0 }.joined())`)"
                )
            } else {
                printError("\(line) (see `parley help\(known.map { " " + $0 }.joined())`)")
            }
            exit(withError: ExitCode(ExitStatus.usage))
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError {
            printError(error.message)
            exit(withError: ExitCode(ExitStatus.usage))
        } catch let error as ExitCode {
            exit(withError: error)
        } catch  where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            exit(withError: error)  // --help of a command group, and ArgumentParser's own exits
        } catch {
            let failure = CLIError.describe(error)
            printError(failure.message)
            exit(withError: ExitCode(failure.status))
        }
    }

    /// The leading words of `words` that name a command and its subcommands (`["archive", "verify"]`).
    static func commandPath(_ words: [String]) -> [String] {
        var path: [String] = []
        var command: ParsableCommand.Type = Parley.self
        for word in words {
            guard let next = command.configuration.subcommands.first(where: { $0._commandName == word }) else { break }
            path.append(word)
            command = next
        }
        return path
    }

    /// The subcommand of `path` closest to a mistyped `word` (at most 2 edits, or a prefix), or nil.
    static func suggestion(for word: String, after path: [String]) -> String? {
        var command: ParsableCommand.Type = Parley.self
        for name in path { command = command.configuration.subcommands.first { $0._commandName == name } ?? command }
        let names = command.configuration.subcommands.map { $0._commandName } + (path.isEmpty ? ["help"] : [])
        guard !names.contains(word), !names.isEmpty else { return nil }
        let scored = names.map { (name: $0, distance: editDistance(word.lowercased(), $0)) }.sorted {
            $0.distance < $1.distance
        }
        if let best = scored.first, best.distance <= min(2, max(1, word.count / 3)) { return best.name }
        let prefixed = names.filter { $0.hasPrefix(word.lowercased()) }
        return word.count >= 3 && prefixed.count == 1 ? prefixed[0] : nil
    }
}
