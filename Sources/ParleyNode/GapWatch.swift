import Foundation
import Logging
import ParleyProtocol
import ParleyStore
import ServiceLifecycle

/// Warns once about every gap in an incoming channel that is still open `gapWarningSeconds` after
/// it was detected (SPEC.md §10.2: a persistent gap means a message was lost or rejected). Gaps
/// that close sooner, as they do when several messages are in flight, are only logged at info.
final class GapWatch: Service, Sendable {
    private let node: Node
    private let logger: Logger

    init(node: Node, logger: Logger) {
        self.node = node
        self.logger = logger
    }

    func run() async throws {
        var warned = Set<GapKey>()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let threshold = node.configuration.gapWarningSeconds
            do {
                let gaps = try await node.store.gaps(recipient: node.participant)
                let now = Date()
                let open = Set(gaps.map(GapKey.init))
                warned.formIntersection(open)
                for gap in gaps
                where now.timeIntervalSince(gap.detected) >= threshold && warned.insert(GapKey(gap)).inserted {
                    var log = logger
                    log[metadataKey: "peer"] = "\(gap.sender)"
                    log.warning(
                        "gap \(gap.missing.lowerBound)…\(gap.missing.upperBound) from \(gap.sender) still open after \(Int(now.timeIntervalSince(gap.detected))) s (since \(UTCTime(gap.detected))): those messages were lost or rejected; ask \(gap.sender)'s operators (`parley status` lists open gaps, `parley receipts` the rejections)"
                    )
                }
            } catch {
                logger.error("cannot read the open gaps of incoming channels: \(error)")
            }
            try? await cancelWhenGracefulShutdown {
                try await Task.sleep(for: .seconds(min(5, max(0.2, threshold / 4))))
            }
        }
    }

    private struct GapKey: Hashable {
        let sender: String
        let first: UInt64
        let detected: Date

        init(_ gap: ChannelGap) {
            sender = gap.sender
            first = gap.missing.lowerBound
            detected = gap.detected
        }
    }
}
