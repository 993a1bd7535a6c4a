import Foundation
import Logging
import Metrics
import ParleyNode
import ServiceLifecycle

/// parleyd: the Parley node daemon.
///
///     parleyd --config /etc/parley/parleyd.json [--check-config]
///
/// Exit codes: 0 stopped cleanly (or configuration valid), 64 usage, 78 configuration error, 1 other failure.
let exitUsage: Int32 = 64
let exitConfig: Int32 = 78

func usage() -> Never {
    FileHandle.standardError.write(Data("usage: parleyd --config FILE [--check-config]\n".utf8))
    exit(exitUsage)
}

var arguments = Array(CommandLine.arguments.dropFirst())
var configPath: String?
var checkOnly = false
while let argument = arguments.first {
    arguments.removeFirst()
    switch argument {
    case "--config":
        guard let path = arguments.first else { usage() }
        arguments.removeFirst()
        configPath = path
    case "--check-config": checkOnly = true
    case "-h", "--help": usage()
    default:
        FileHandle.standardError.write(Data("parleyd: unknown argument \(argument)\n".utf8))
        usage()
    }
}

// Under systemd, each line carries its priority for the journal; elsewhere, timestamped lines.
let logLevel = ProcessInfo.processInfo.environment["PARLEY_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
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
let logger = Logger(label: "parleyd")

/// Under systemd the lines carry the error priority, so that `journalctl -p warning` shows why a
/// start (or `ExecStartPre=… --check-config`) failed.
let problemPrefix = JournalLogHandler.isJournal(STDOUT_FILENO) ? "<3>" : ""

@MainActor func fail(_ error: ConfigurationError) -> Never {
    for problem in error.problems {
        print("\(problemPrefix)\(configPath ?? "(environment)"): \(problem.key): \(problem.problem)")
    }
    exit(exitConfig)
}

/// One daemon per store: a second parleyd on the same data directory would number channels and
/// sign from the same store as the first. The lock (flock on `parleyd.lock`, holding the pid) lasts
/// as long as the process; the kernel releases it however the process ends.
@MainActor func lockDataDirectory(_ directory: String) {
    let path = (directory as NSString).appendingPathComponent("parleyd.lock")
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
        logger.critical("dataDirectory: cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        exit(1)
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
        let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        logger.critical("dataDirectory: another parleyd\(holder.map { " (pid \($0))" } ?? "") is running on \(directory); stop it, or give this one its own dataDirectory")
        exit(1)
    }
    let pid = Array("\(getpid())\n".utf8)
    _ = ftruncate(fd, 0)
    _ = pwrite(fd, pid, pid.count, 0)
}

let configuration: NodeConfiguration
do {
    configuration = try await NodeConfiguration.load(file: configPath, checkResources: true)
} catch let error as ConfigurationError {
    fail(error)
} catch {
    print("\(problemPrefix)\(configPath ?? "(environment)"): \(error)")
    exit(exitConfig)
}

if checkOnly {
    print("\(configPath ?? "(environment)"): configuration is valid for \(configuration.participant)")
    exit(0)
}

lockDataDirectory(configuration.dataDirectory)

do {
    let node: Node
    do {
        node = try Node(configuration: configuration, logger: logger, configurationFile: configPath)
    } catch let error as ConfigurationError {
        fail(error)
    }
    // swift-metrics instrumentation (e.g. Hummingbird's request metrics) goes into the node's registry.
    MetricsSystem.bootstrap(node.metrics.factory)
    let group = ServiceGroup(configuration: .init(
        services: try node.services().map { .init(service: $0) },
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
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
