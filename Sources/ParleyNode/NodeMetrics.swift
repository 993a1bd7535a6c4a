import Foundation
import Synchronization

/// Counters and a latency histogram, exported in the Prometheus text format (version 0.0.4) by the
/// optional metrics listener (`metrics.listen`).
public final class NodeMetrics: Sendable {
    /// Upper bounds (seconds) of the submit-to-receipt latency buckets.
    static let latencyBuckets: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3_600]

    private struct State {
        var sent: [String: Int] = [:]  // receipt status → count
        var received = 0
        var duplicatesAnswered = 0
        var rejectedByCode: [String: Int] = [:]
        var problems: [String: Int] = [:]
        var latencyCounts = [Int](repeating: 0, count: NodeMetrics.latencyBuckets.count)
        var latencySum = 0.0
        var latencyCount = 0
    }
    private let state = Mutex(State())

    public init() {}

    func receiptRecorded(status: String, latency: TimeInterval) {
        state.withLock { state in
            state.sent[status, default: 0] += 1
            guard status != "rejected" else { return }
            state.latencySum += latency
            state.latencyCount += 1
            for (index, bound) in Self.latencyBuckets.enumerated() where latency <= bound { state.latencyCounts[index] += 1 }
        }
    }

    func problem(_ name: String) {
        state.withLock { $0.problems[name, default: 0] += 1 }
    }

    func answered(_ answer: MessageReceiver.Answer) {
        state.withLock { state in
            switch answer {
            case .receipt(_, .accepted, _, _): state.received += 1
            case .receipt(_, .duplicate, _, _): state.duplicatesAnswered += 1
            case .receipt(_, .rejected(let code, _), _, _): state.rejectedByCode[code.name, default: 0] += 1
            case .problem(let problem): state.problems[problem.name, default: 0] += 1
            }
        }
    }

    /// The exposition text; `queueDepths`, `oldestUndeliveredAge` and `certificateDays` are read at scrape time.
    func render(queueDepths: [String: Int], oldestUndeliveredAge: TimeInterval?, certificateDays: [(String, Int)]) -> String {
        let s = state.withLock { $0 }
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        metric("parley_messages_sent_total", "counter", "Deliveries settled by a verified receipt, by receipt status.",
               s.sent.sorted { $0.key < $1.key }.map { ("{status=\"\($0.key)\"}", "\($0.value)") })
        metric("parley_messages_received_total", "counter", "Messages accepted from peers.", [("", "\(s.received)")])
        metric("parley_duplicates_answered_total", "counter", "Deliveries answered with a duplicate receipt.", [("", "\(s.duplicatesAnswered)")])
        metric("parley_messages_rejected_total", "counter", "Signed rejection receipts issued, by code.",
               s.rejectedByCode.sorted { $0.key < $1.key }.map { ("{code=\"\($0.key)\"}", "\($0.value)") })
        metric("parley_http_problems_total", "counter", "Requests answered with a problem instead of a receipt.",
               s.problems.sorted { $0.key < $1.key }.map { ("{problem=\"\($0.key)\"}", "\($0.value)") })
        metric("parley_queue_depth", "gauge", "Deliveries not yet settled, per peer.",
               queueDepths.sorted { $0.key < $1.key }.map { ("{peer=\"\($0.key)\"}", "\($0.value)") })
        metric("parley_oldest_undelivered_age_seconds", "gauge", "Age of the oldest unsettled delivery (0 if none).",
               [("", String(format: "%.0f", oldestUndeliveredAge ?? 0))])
        metric("parley_certificate_expiry_days", "gauge", "Days until this node's certificates expire.",
               certificateDays.map { ("{certificate=\"\($0.0)\"}", "\($0.1)") })
        var buckets: [(String, String)] = Self.latencyBuckets.enumerated().map { ("_bucket{le=\"\($1)\"}", "\(s.latencyCounts[$0])") }
        buckets.append(("_bucket{le=\"+Inf\"}", "\(s.latencyCount)"))
        buckets.append(("_sum", String(format: "%.6f", s.latencySum)))
        buckets.append(("_count", "\(s.latencyCount)"))
        metric("parley_delivery_latency_seconds", "histogram", "Time from queueing to a verified accepted or duplicate receipt.", buckets)
        return out
    }
}
