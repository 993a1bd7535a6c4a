import Logging
import Synchronization

/// Log lines ("level message") a node wrote, for tests that check what an operator would read.
public final class LogCapture: Sendable {
    private let storage = Mutex<[String]>([])

    public init() {}

    public var lines: [String] { storage.withLock { $0 } }
    /// The same lines with their metadata: `level message [key=value …]`, keys sorted.
    public var linesWithMetadata: [String] { detailed.withLock { $0 } }
    private let detailed = Mutex<[String]>([])

    public func handler() -> some LogHandler { Handler(capture: self) }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.storage.withLock { $0.append("\(event.level) \(event.message)") }
            let fields = metadata.merging(event.metadata ?? [:]) { $1 }.map { "\($0.key)=\($0.value)" }.sorted()
            capture.detailed.withLock {
                $0.append("\(event.level) \(event.message) [\(fields.joined(separator: " "))]")
            }
        }
    }
}
