import Foundation
import ParleyProtocol

/// The rules of delivery, without I/O: when a failed message is tried again, how many messages to
/// take from the outbox, and how they are grouped into requests. Made from the configuration in use
/// at each step, so a reload applies from the next one.
struct DeliveryPolicy: Sendable, Hashable {
    /// First backoff interval (`retry.initialSeconds`), doubled after each failed attempt.
    var initialInterval: Duration
    /// Backoff cap (`retry.maximumIntervalSeconds`); also caps a peer's Retry-After.
    var maximumInterval: Duration
    /// Messages in flight at once to one peer (`limits.deliveryWindow`, SPEC.md §12.4), at least 1.
    var window: Int
    /// Messages per request (`limits.deliveryBatch`, SPEC.md §12.8), 1–64; 1: one `POST /v1/messages` each.
    var batchSize: Int

    /// The backoff is multiplied by a factor drawn from this range, so that peers that failed together
    /// do not retry together.
    static let jitter: ClosedRange<Double> = 0.8...1.2
    /// The CBOR head of a batch's array: 2 bytes for up to 64 messages (at most 9 for any count);
    /// 16 leaves room to spare.
    static let batchFramingBytes = 16
    /// The CBOR head of each message's byte string: 5 bytes (one initial byte, four length bytes)
    /// for any length below 2³², and a message is at most 262 144 bytes.
    static let messageFramingBytes = 5

    init(initialInterval: Duration, maximumInterval: Duration, window: Int, batchSize: Int) {
        self.initialInterval = initialInterval
        self.maximumInterval = maximumInterval
        self.window = max(1, window)
        self.batchSize = min(MessageBatch.maximumCount, max(1, batchSize))
    }

    init(_ configuration: NodeConfiguration) {
        self.init(
            initialInterval: configuration.retry.initialBackoff,
            maximumInterval: configuration.retry.maximumBackoff,
            window: configuration.limits.deliveryWindow,
            batchSize: configuration.limits.deliveryBatch
        )
    }

    /// The wait after `attempts` failed attempts: `initialInterval` doubled for each attempt after
    /// the first, capped at `maximumInterval`, times `jitter` (itself capped).
    func backoff(attempts: Int, jitter: Double = .random(in: Self.jitter)) -> Duration {
        let exponential = initialInterval.seconds * pow(2, Double(min(62, max(0, attempts - 1))))
        let capped = min(maximumInterval.seconds, exponential)
        return min(maximumInterval, .seconds(capped * jitter))
    }

    /// The wait until the next attempt after `attempts` failed ones: the backoff, or the peer's
    /// Retry-After when that is longer (capped at `maximumInterval`). Retry-After is a floor, not a
    /// replacement: a hub answering 502 with `Retry-After: 30` for a recipient that is down for hours
    /// does not hold its senders at one attempt every 30 s.
    func retryDelay(attempts: Int, retryAfter: Duration?, jitter: Double = .random(in: Self.jitter)) -> Duration {
        let floor = retryAfter.map { max(.zero, $0) } ?? .zero
        return max(min(floor, maximumInterval), backoff(attempts: attempts, jitter: jitter))
    }

    /// A peer's Retry-After of `seconds` as a wait: nil unless it is a finite positive number (a
    /// peer's answer cannot make a delay that is not a number).
    static func retryAfter(seconds: Double) -> Duration? {
        guard seconds.isFinite, seconds > 0 else { return nil }
        return .seconds(min(seconds, 1e9))
    }

    /// How many messages to take from the outbox while `inFlight` are in flight: every free place
    /// when none is, else nothing until half the window is free, so that marking messages in flight
    /// costs one commit per group rather than one per answer.
    func refill(inFlight: Int) -> Int {
        let free = window - inFlight
        guard free > 0, inFlight == 0 || free >= (window + 1) / 2 else { return 0 }
        return free
    }

    /// Splits messages (in channel order) into requests of up to `batchSize` messages (1 for a peer
    /// without the batch endpoint) and `MessageBatch.maximumSize` bytes with their CBOR framing;
    /// `size` is a message's length in bytes. Order is kept, within and across requests.
    func requests<Item>(_ items: [Item], singleOnly: Bool = false, size: (Item) -> Int) -> [[Item]] {
        let limit = singleOnly ? 1 : batchSize
        var requests: [[Item]] = []
        var current: [Item] = []
        var bytes = Self.batchFramingBytes
        for item in items {
            let framed = size(item) + Self.messageFramingBytes
            if !current.isEmpty && (current.count == limit || bytes + framed > MessageBatch.maximumSize) {
                requests.append(current)
                current = []
                bytes = Self.batchFramingBytes
            }
            current.append(item)
            bytes += framed
        }
        if !current.isEmpty { requests.append(current) }
        return requests
    }
}
