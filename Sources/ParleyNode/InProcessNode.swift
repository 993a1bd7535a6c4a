import Logging
import ServiceLifecycle
import Synchronization

/// A node running its services in a `ServiceGroup` inside the calling process: `parley demo`'s nodes
/// and the tests' (parleyd runs its own group, with signal handling and systemd notification).
public final class InProcessNode: Sendable {
    public let node: Node
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// Why a node did not come up: it stopped (with its error), or was not listening in time.
    public struct StartFailure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `node`'s services and returns once its peer and admin listeners are up. Throws
    /// `StartFailure` when a service stops first or `timeout` passes, stopping what did start.
    public init(_ node: Node, logger: Logger, timeout: Duration = .seconds(90)) async throws {
        self.node = node
        let group = ServiceGroup(
            configuration: .init(services: try node.services().map { .init(service: $0) }, logger: logger)
        )
        self.group = group
        let failure = Mutex<String?>(nil)
        task = Task {
            do { try await group.run() } catch {
                failure.withLock { $0 = "\(error)" }
                throw error
            }
        }
        let participant = node.configuration.participant
        let deadline = ContinuousClock.now + timeout
        while !(node.peerPort != nil && node.adminListening) {
            var problem = failure.withLock { $0 }.map { "\(participant) stopped before listening: \($0)" }
            if problem == nil, ContinuousClock.now >= deadline {
                problem = "\(participant) is not listening after \(timeout.components.seconds) s"
            }
            if let problem {
                await group.triggerGracefulShutdown()
                _ = try? await task.value
                throw StartFailure(description: problem)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Stops the services and waits for them; rethrows the error a service ended with, if any.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}
