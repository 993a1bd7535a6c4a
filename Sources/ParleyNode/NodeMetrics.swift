import Foundation
import Prometheus
import Synchronization

/// This node's metrics in a swift-prometheus registry, exported in the Prometheus text format by the
/// optional metrics listener (`metrics.listen`).
///
/// Each node has its own registry (tests run several nodes in one process); `parleyd` also bootstraps
/// swift-metrics with `factory`, so instrumentation in the libraries it uses lands in the same export.
public final class NodeMetrics: Sendable {
    /// Upper bounds of the submit-to-receipt latency buckets.
    static let latencyBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2_500), .seconds(5), .seconds(10), .seconds(30),
        .seconds(60), .seconds(300), .seconds(900), .seconds(3_600),
    ]

    public let registry: PrometheusCollectorRegistry
    private let received: Counter
    private let duplicatesAnswered: Counter
    private let latency: DurationHistogram
    /// Peers whose queue depth was ever exported: a peer missing from a later scrape is set to 0.
    private let exportedPeers = Mutex<Set<String>>([])

    public init() {
        registry = PrometheusCollectorRegistry()
        received = registry.makeCounter(descriptor: Self.received)
        duplicatesAnswered = registry.makeCounter(descriptor: Self.duplicatesAnswered)
        latency = registry.makeDurationHistogram(descriptor: Self.latency, buckets: Self.latencyBuckets)
    }

    /// A swift-metrics factory writing into this node's registry.
    public var factory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    static var sent: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "messages_sent",
            unitName: "total",
            helpText: "Deliveries settled by a verified receipt, by receipt status."
        )
    }
    static var received: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "messages_received",
            unitName: "total",
            helpText: "Messages accepted from peers."
        )
    }
    static var duplicatesAnswered: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "duplicates_answered",
            unitName: "total",
            helpText: "Deliveries answered with a duplicate receipt."
        )
    }
    static var rejected: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "messages_rejected",
            unitName: "total",
            helpText: "Signed rejection receipts issued, by code."
        )
    }
    static var problems: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "http_problems",
            unitName: "total",
            helpText: "Requests answered with a problem instead of a receipt."
        )
    }
    static var queueDepth: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "queue_depth",
            unitName: "",
            helpText: "Deliveries not yet settled, per peer."
        )
    }
    static var oldestUndelivered: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "oldest_undelivered_age",
            unitName: "seconds",
            helpText: "Age of the oldest unsettled delivery (0 if none)."
        )
    }
    static var certificateExpiry: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "certificate_expiry",
            unitName: "days",
            helpText: "Days until this node's certificates expire."
        )
    }
    static var openGaps: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "open_gaps",
            unitName: "",
            helpText: "Gaps open in incoming channels, per sending peer."
        )
    }
    static var oldestGap: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "oldest_open_gap_age",
            unitName: "seconds",
            helpText: "Age of the oldest gap open in an incoming channel (0 if none)."
        )
    }
    static var latency: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "parley",
            metricName: "delivery_latency",
            unitName: "seconds",
            helpText: "Time from queueing to a verified accepted or duplicate receipt."
        )
    }

    func receiptRecorded(status: String, latency seconds: TimeInterval) {
        registry.makeCounter(descriptor: Self.sent, labels: [("status", status)]).increment()
        guard status != "rejected" else { return }
        latency.record(.nanoseconds(Int64((max(0, seconds) * 1e9).rounded())))
    }

    func problem(_ name: String) {
        registry.makeCounter(descriptor: Self.problems, labels: [("problem", name)]).increment()
    }

    func answered(_ answer: MessageReceiver.Answer) {
        switch answer {
        case .receipt(_, .accepted, _, _): received.increment()
        case .receipt(_, .duplicate, _, _): duplicatesAnswered.increment()
        case .receipt(_, .rejected(let code, _), _, _):
            registry.makeCounter(descriptor: Self.rejected, labels: [("code", code.name)]).increment()
        case .problem(let problem): self.problem(problem.name)
        }
    }

    /// The exposition text; `queueDepths`, `oldestUndeliveredAge` and `certificateDays` are read at scrape
    /// time and set on their gauges first.
    func render(
        queueDepths: [String: Int],
        oldestUndeliveredAge: TimeInterval?,
        certificateDays: [(String, Int)],
        openGaps: [String: Int] = [:],
        oldestGapAge: TimeInterval? = nil
    ) -> String {
        let peers = exportedPeers.withLock { peers in
            peers.formUnion(queueDepths.keys)
            peers.formUnion(openGaps.keys)
            return peers
        }
        for peer in peers {
            registry.makeGauge(descriptor: Self.queueDepth, labels: [("peer", peer)]).set(
                Double(queueDepths[peer] ?? 0)
            )
            registry.makeGauge(descriptor: Self.openGaps, labels: [("peer", peer)]).set(Double(openGaps[peer] ?? 0))
        }
        registry.makeGauge(descriptor: Self.oldestGap).set((oldestGapAge ?? 0).rounded())
        registry.makeGauge(descriptor: Self.oldestUndelivered).set((oldestUndeliveredAge ?? 0).rounded())
        for (certificate, days) in certificateDays {
            registry.makeGauge(descriptor: Self.certificateExpiry, labels: [("certificate", certificate)]).set(
                Double(days)
            )
        }
        return registry.emitToString()
    }
}
