import Foundation
import ParleyCrypto
import ParleyProtocol

/// Everything `parleyd` needs to run, read from one JSON file with `PARLEY_*` environment overrides
/// (`load(file:environment:checkResources:)`). Times are `Duration`s; the file gives them in seconds.
///
/// Keys (JSON path → environment variable): `participant` → `PARLEY_PARTICIPANT`,
/// `signing.key` → `PARLEY_SIGNING_KEY`, `listen.port` → `PARLEY_LISTEN_PORT`, and so on (dots and
/// camel case become underscores). `peers` is an object keyed by participant id,
/// `{"RU-NRRC": {"url": "https://…"}}` (swift-configuration 1.4 reads no arrays of objects); one URL is
/// overridden by `PARLEY_PEERS_RU_NRRC_URL`, the whole list by `PARLEY_PEERS=ID=URL,ID=URL`.
/// See Sources/ParleyNode/README.md.
public struct NodeConfiguration: Sendable, Hashable {
    public struct Peer: Sendable, Hashable {
        public var id: ParticipantID
        /// Base URL (`https://host:port`) to post to; `/v1/messages` is appended. For a peer reached
        /// through a hub, the hub's URL.
        public var url: URL
        /// The hub that forwards to this peer (SPEC.md §12.7), or nil for a direct peer.
        public var via: ParticipantID?
        public init(id: ParticipantID, url: URL, via: ParticipantID? = nil) {
            self.id = id
            self.url = url
            self.via = via
        }
    }

    /// Retrying deliveries without a receipt (`retry.*`).
    public struct RetryPolicy: Sendable, Hashable {
        /// First backoff interval (`retry.initialSeconds`), doubled after each failed attempt.
        public var initialBackoff: Duration = .seconds(5)
        /// Backoff cap (`retry.maximumIntervalSeconds`).
        public var maximumBackoff: Duration = .seconds(900)
        /// A delivery still without a receipt this long after it was queued is marked expired
        /// (`retry.giveUpAfterSeconds`).
        public var expiry: Duration = .seconds(7 * 86_400)
        public init() {}

        /// `initialBackoff` in seconds, the file's unit.
        public var initialInterval: Double {
            get { initialBackoff.seconds }
            set { initialBackoff = .seconds(newValue) }
        }
        /// `maximumBackoff` in seconds, the file's unit.
        public var maximumInterval: Double {
            get { maximumBackoff.seconds }
            set { maximumBackoff = .seconds(newValue) }
        }
        /// `expiry` in seconds, the file's unit.
        public var giveUpAfter: Double {
            get { expiry.seconds }
            set { expiry = .seconds(newValue) }
        }
    }

    /// Limits on requests and delivery (`limits.*`).
    public struct Limits: Sendable, Hashable {
        /// Request timeouts (`limits.requestTimeoutSeconds`, `limits.headerTimeoutSeconds`).
        public struct Timeouts: Sendable, Hashable {
            /// Whole-request timeout (server: reading the body, and the idle time of a kept-alive
            /// connection; client: the exchange).
            public var request: Duration = .seconds(30)
            /// A request head must be complete this long after its first bytes arrive (server).
            public var header: Duration = .seconds(10)
            public init() {}
        }

        public var maximumBodyBytes: Int = MessageVerifier.maximumSize
        public var timeouts = Timeouts()
        public var maximumConcurrentRequestsPerPeer: Int = 32
        /// Messages in flight at once to each peer (in requests of up to `deliveryBatch` messages; keep
        /// the requests at or below the peers' `maximumConcurrentRequestsPerPeer`, or they answer 429).
        public var deliveryWindow: Int = 256
        /// Messages sent together in one `POST /v1/messages/batch` (SPEC.md §12.8); 1 sends each
        /// message in its own `POST /v1/messages`.
        public var deliveryBatch: Int = 64
        public init() {}

        /// `timeouts.request` in seconds, the file's unit.
        public var requestTimeout: Double {
            get { timeouts.request.seconds }
            set { timeouts.request = .seconds(newValue) }
        }
        /// `timeouts.header` in seconds, the file's unit.
        public var headerTimeout: Double {
            get { timeouts.header.seconds }
            set { timeouts.header = .seconds(newValue) }
        }
    }

    public struct TrustPaths: Sendable, Hashable {
        public var anchors: String
        public var crls: [String]
        public init(anchors: String, crls: [String]) {
            self.anchors = anchors
            self.crls = crls
        }
    }

    /// The defaults of the optional keys that are not in a nested structure, shared by the
    /// properties below and the reader.
    enum Defaults {
        static let listenHost = "0.0.0.0"
        static let listenPort = 8443
        static let adminSocket = "/run/parley/admin.sock"
        static let metricsHost = "127.0.0.1"
        static let maximumClockSkew = Duration.seconds(300)
        static let certificateExpiryWarningDays = 30
        static let gapWarning = Duration.seconds(60)
    }

    public var participant: ParticipantID
    public var signingKeyPath: String
    public var signingChainPath: String
    public var tlsKeyPath: String
    public var tlsChainPath: String
    /// Anchors and CRLs for message and receipt signatures.
    public var signingTrust: TrustPaths
    /// Anchors and CRLs for the TLS peers (defaults to `signingTrust`).
    public var transportTrust: TrustPaths
    public var listenHost: String = Defaults.listenHost
    public var listenPort: Int = Defaults.listenPort
    public var adminSocketPath: String = Defaults.adminSocket
    /// The admin socket's group. nil: `parley` when that group exists, else the daemon's own group;
    /// a name given here must exist.
    public var adminGroup: String?
    /// Prometheus metrics listener (plain HTTP, keep it on loopback or a management network); nil: off.
    public var metricsHost: String = Defaults.metricsHost
    public var metricsPort: Int?
    public var dataDirectory: String
    public var peers: [Peer] = []
    /// Hub mode: forward messages whose `Parley-Recipient` names a direct peer (SPEC.md §12.7).
    public var hub = false
    /// Hubs whose TLS connections may deliver other participants' messages to this node.
    public var acceptForwardedFrom: [ParticipantID] = []
    public var retry = RetryPolicy()
    public var limits = Limits()
    /// Allowed clock difference (SPEC.md §8.6 δ, `clockSkewSeconds`): whole seconds, 0–3600.
    public var maximumClockSkew: Duration = Defaults.maximumClockSkew
    /// Own certificates expiring within this many days are logged as warnings.
    public var certificateExpiryWarningDays: Int = Defaults.certificateExpiryWarningDays
    /// A gap in an incoming channel still open after this long is logged as a warning
    /// (several messages in flight make short-lived gaps normal).
    public var gapWarning: Duration = Defaults.gapWarning

    /// `maximumClockSkew` in whole seconds, the file's unit.
    public var clockSkew: Int {
        get { Int(maximumClockSkew.components.seconds) }
        set { maximumClockSkew = .seconds(newValue) }
    }
    /// `gapWarning` in seconds, the file's unit.
    public var gapWarningSeconds: Double {
        get { gapWarning.seconds }
        set { gapWarning = .seconds(newValue) }
    }

    public init(
        participant: ParticipantID,
        signingKeyPath: String,
        signingChainPath: String,
        tlsKeyPath: String,
        tlsChainPath: String,
        signingTrust: TrustPaths,
        transportTrust: TrustPaths? = nil,
        dataDirectory: String
    ) {
        self.participant = participant
        self.signingKeyPath = signingKeyPath
        self.signingChainPath = signingChainPath
        self.tlsKeyPath = tlsKeyPath
        self.tlsChainPath = tlsChainPath
        self.signingTrust = signingTrust
        self.transportTrust = transportTrust ?? signingTrust
        self.dataDirectory = dataDirectory
    }

    /// The SQLite store inside the data directory.
    public var storePath: String { (dataDirectory as NSString).appendingPathComponent("parley.sqlite") }
}
