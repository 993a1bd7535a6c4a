import ArgumentParser
import Foundation

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
        subcommands: [Compose.self, Verify.self, Inspect.self, Keygen.self, PKI.self, ArchiveCommand.self, Demo.self, Send.self, Outbox.self,
                      Inbox.self, Show.self, Receipts.self, Status.self, Retry.self, Cancel.self, Reload.self, Bench.self]
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
            let groups = ["pki", "archive", "bench"], commands = ["compose", "verify", "inspect", "keygen", "demo", "send", "outbox", "inbox", "show", "receipts", "status", "retry",
                                                 "cancel", "reload"] + groups
            let subcommand = words.first.map { commands.contains($0) ? (groups.contains($0) ? words.prefix(2) : words.prefix(1)).joined(separator: " ") : "" } ?? ""
            printError("\(line) (see `parley help\(subcommand.isEmpty ? "" : " " + subcommand)`)")
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
        } catch {
            if let failure = CLIError.describe(error) {
                printError(failure.message)
                exit(withError: ExitCode(failure.status))
            }
            exit(withError: error)
        }
    }
}

/// `parley bench ...`: throughput measured against a reference taken in the same run.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Parley's throughput against a reference measured in the same run.",
        subcommands: [BenchCodec.self, BenchStore.self, BenchCrypto.self, BenchE2E.self]
    )
}
