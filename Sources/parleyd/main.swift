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

@MainActor func fail(_ error: ConfigurationError) -> Never {
    for problem in error.problems {
        print("\(configPath ?? "(environment)"): \(problem.key): \(problem.problem)")
    }
    exit(exitConfig)
}

let configuration: NodeConfiguration
do {
    configuration = try await NodeConfiguration.load(file: configPath, checkResources: true)
} catch let error as ConfigurationError {
    fail(error)
} catch {
    print("\(configPath ?? "(environment)"): \(error)")
    exit(exitConfig)
}

if checkOnly {
    print("\(configPath ?? "(environment)"): configuration is valid for \(configuration.participant)")
    exit(0)
}

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
    try await group.run()
    logger.info("parleyd stopped")
} catch {
    logger.critical("parleyd failed: \(error)")
    exit(1)
}
