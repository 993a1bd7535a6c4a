import ArgumentParser
import Foundation
import Logging
import Metrics
import ParleyCrypto
import ParleyNode
import ServiceLifecycle

/// parleyd: the Parley node daemon.
///
///     parleyd --config /etc/parley/parleyd.json [--check-config]
///
/// Exit codes: 0 stopped cleanly (or configuration valid), 64 usage, 78 configuration error, 1 other failure.
@main
struct Parleyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parleyd",
        abstract: "The Parley node daemon: the peer listener, delivery to the peers, and the admin socket.",
        discussion: """
            SIGTERM or SIGINT drain and stop; SIGHUP reloads the configuration file and the trust anchors and CRLs.
            Exit codes: 0 stopped cleanly (or configuration valid), 64 usage, 78 configuration error, 1 other failure.
            """
    )

    @Option(
        help: ArgumentHelp(
            "The configuration file (JSON); PARLEY_* environment variables override its keys. Example: --config /etc/parley/parleyd.json",
            valueName: "file"
        )
    )
    var config: String?

    @Flag(
        help:
            "Check the configuration and the files it names, print every problem (one line each), and exit: 0 valid, 78 not."
    )
    var checkConfig = false

    func run() async throws {
        await runDaemon(configPath: config, checkOnly: checkConfig)
    }
}

let exitConfig: Int32 = 78

/// Under systemd the lines carry the error priority, so that `journalctl -p warning` shows why a
/// start (or `ExecStartPre=… --check-config`) failed.
let problemPrefix = JournalLogHandler.isJournal(STDOUT_FILENO) ? "<3>" : ""

/// Under systemd, each line carries its priority for the journal; elsewhere, timestamped lines.
func bootstrapLogging() -> Logger {
    let logLevel =
        ProcessInfo.processInfo.environment["PARLEY_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    if JournalLogHandler.standardErrorIsJournal() {
        LoggingSystem.bootstrap { _ in
            var handler = JournalLogHandler()
            handler.logLevel = logLevel
            return handler
        }
    } else {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
    }
    return Logger(label: "parleyd")
}

func fail(_ error: ConfigurationError, configPath: String?) -> Never {
    for problem in error.problems {
        print("\(problemPrefix)\(configPath ?? "(environment)"): \(problem.key): \(problem.problem)")
    }
    exit(exitConfig)
}

/// One daemon per store: a second parleyd on the same data directory would number channels and
/// sign from the same store as the first. The lock (`FileLock` on `parleyd.lock`, holding the pid)
/// lasts until it is released; the kernel releases it however the process ends.
func lockDataDirectory(_ directory: String, logger: Logger) -> FileLock {
    let path = (directory as NSString).appendingPathComponent("parleyd.lock")
    do throws(FileLockError) {
        let lock = try FileLock(path: path, mode: 0o600, wait: false)
        lock.record("\(getpid())\n")
        return lock
    } catch {
        if error.step == .held {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines
            )
            logger.critical(
                "dataDirectory: another parleyd\(holder.map { " (pid \($0))" } ?? "") is running on \(directory); stop it, or give this one its own dataDirectory"
            )
        } else {
            logger.critical("dataDirectory: cannot open the lock file \(path): \(error.reason)")
        }
        exit(1)
    }
}

/// Loads the configuration (or checks it and exits), then runs the node until SIGTERM or SIGINT.
func runDaemon(configPath: String?, checkOnly: Bool) async {
    let logger = bootstrapLogging()
    let configuration: NodeConfiguration
    do {
        configuration = try await NodeConfiguration.load(file: configPath, checkResources: true)
    } catch let error as ConfigurationError {
        fail(error, configPath: configPath)
    } catch {
        print("\(problemPrefix)\(configPath ?? "(environment)"): \(error)")
        exit(exitConfig)
    }

    if checkOnly {
        print("\(configPath ?? "(environment)"): configuration is valid for \(configuration.participant)")
        exit(0)
    }

    let lock = lockDataDirectory(configuration.dataDirectory, logger: logger)
    defer { lock.release() }

    do {
        let node: Node
        do {
            node = try Node(configuration: configuration, logger: logger, configurationFile: configPath)
        } catch let error as ConfigurationError {
            fail(error, configPath: configPath)
        }
        // swift-metrics instrumentation (e.g. Hummingbird's request metrics) goes into the node's registry.
        MetricsSystem.bootstrap(node.metrics.factory)
        let group = ServiceGroup(
            configuration: .init(
                services: try node.services().map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        logger.info("parleyd starting as \(configuration.participant) with \(configuration.peers.count) peers")
        do {
            try await group.run()
        } catch {
            node.removeAdminSocket()
            throw error
        }
        node.removeAdminSocket()
        logger.info("parleyd stopped")
    } catch {
        logger.critical("parleyd failed: \(Node.startFailureText(error, configuration: configuration))")
        exit(1)
    }
}
