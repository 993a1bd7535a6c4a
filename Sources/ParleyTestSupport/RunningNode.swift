import Foundation
import Logging
import ParleyNode
import ParleyProtocol

extension TestPKI {
    /// `NodeConfiguration.loopback` for `participant` of this PKI on `port`, with `peers` (id → port
    /// on 127.0.0.1), its data directory `directory/<ID>` and admin socket `directory/<ID>.sock`.
    public func nodeConfiguration(
        _ participant: String,
        port: Int,
        peers: [String: Int],
        directory: URL,
        requestTimeout: Double = 5
    ) throws -> NodeConfiguration {
        try NodeConfiguration.loopback(
            try ParticipantID(participant),
            testPKI: self.directory,
            port: port,
            dataDirectory: directory.appendingPathComponent(participant).path,
            adminSocket: directory.appendingPathComponent("\(participant).sock").path,
            peers: try peers.map { .loopback(try ParticipantID($0.key), port: $0.value) },
            requestTimeout: requestTimeout
        )
    }
}

/// A node under test, running in this process (`InProcessNode`), silent unless its lines are
/// captured or PARLEY_TEST_LOG is set.
public final class RunningNode: Sendable {
    public let running: InProcessNode
    public var node: Node { running.node }

    /// With `logs`, the node's log lines at info and above are kept there; `configurationFile` is
    /// the file a reload reads.
    public init(
        _ configuration: NodeConfiguration,
        logs: LogCapture? = nil,
        configurationFile: String? = nil
    ) async throws {
        var logger =
            logs.map { logs in Logger(label: "test.\(configuration.participant)") { _ in logs.handler() } }
            ?? testLogger("test.\(configuration.participant)")
        if logs != nil { logger.logLevel = .info }
        running = try await InProcessNode(
            try Node(configuration: configuration, logger: logger, configurationFile: configurationFile),
            logger: logger
        )
    }

    /// Stops the node; an error it stops with is the business of the test that provoked it.
    public func stop() async {
        try? await running.stop()
    }
}

/// A logger for a node or service under test: silent, so that a passing run prints nothing (a
/// test that expects a log line captures it with `LogCapture` and asserts on it); with
/// PARLEY_TEST_LOG set, everything at debug and above on standard error.
public func testLogger(_ label: String) -> Logger {
    guard ProcessInfo.processInfo.environment["PARLEY_TEST_LOG"] != nil else {
        return Logger(label: label) { _ in SwiftLogNoOpLogHandler() }
    }
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .debug
    return logger
}
