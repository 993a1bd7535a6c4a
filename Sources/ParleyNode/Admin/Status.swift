import Foundation
import Hummingbird
import ParleyCrypto
import ParleyProtocol
import ParleyStore

extension AdminAPI {
    /// `GET /v1/status`: the node, its certificates, trust, store and peers.
    public struct NodeStatus: Codable, Sendable, Equatable, ResponseEncodable {
        public var participant: String
        public var version: String
        public var started: String
        public var uptimeSeconds: Int
        /// `ok`, `warning` (only `warnings`) or `degraded` (some `problems`).
        public var status: String
        /// What stops the node from working (an expired CRL, an expired signing certificate).
        public var problems: [String]
        /// What needs an operator soon, though the node still works.
        public var warnings: [String]
        public var certificates: [Certificate]
        public var trust: Trust
        public var store: Store
        public var peers: [Peer]
        /// Whether the node runs as a hub (`hub.enabled`).
        public var hub: Bool
        public var configurationFile: String?
        public var lastReload: LastReload?

        /// One of the node's own certificates.
        public struct Certificate: Codable, Sendable, Equatable {
            /// `signing` or `tls`.
            public var certificate: String
            public var subject: String
            public var notAfter: String
            public var daysLeft: Int
            /// Expires within `certificateExpiryWarningDays`.
            public var warning: Bool
        }

        /// The signing and transport trust in use.
        public struct Trust: Codable, Sendable, Equatable {
            public var signing: TrustStoreStatus
            public var transport: TrustStoreStatus
        }

        public struct TrustStoreStatus: Codable, Sendable, Equatable {
            /// The anchors' subjects.
            public var anchors: [String]
            public var crls: [CRL]
        }

        public struct CRL: Codable, Sendable, Equatable {
            public var issuer: String
            public var nextUpdate: String
            public var expired: Bool
        }

        public struct Store: Codable, Sendable, Equatable {
            public var sent: Int
            public var received: Int
            /// Deliveries waiting.
            public var queued: Int
            /// Equivocation and replay alerts.
            public var alerts: Int
            public var oldestUndelivered: String?
            public var oldestUndeliveredAgeSeconds: Int?
        }

        public struct LastReload: Codable, Sendable, Equatable {
            public var at: String
            public var succeeded: Bool
            public var lines: [String]
        }
    }
}

/// `GET /v1/status`.
struct StatusRoutes {
    let node: Node

    var routes: RouteCollection<AdminRequestContext> {
        let routes = RouteCollection(context: AdminRequestContext.self)
        routes.get(use: status)
        return routes
    }

    @Sendable func status(_ request: Request, context: AdminRequestContext) async throws -> AdminAPI.NodeStatus {
        let now = Date()
        let configuration = node.configuration
        let certificates = [("signing", node.identity.chain.first), ("tls", node.tlsCertificate)].compactMap {
            what,
            certificate -> AdminAPI.NodeStatus.Certificate? in
            guard let certificate else { return nil }
            let days = certificate.daysLeft(at: now)
            return .init(
                certificate: what,
                subject: certificate.subject,
                notAfter: AdminAPI.time(certificate.notValidAfter),
                daysLeft: days,
                warning: days < configuration.certificateExpiryWarningDays
            )
        }
        func trust(_ trust: TrustStore) -> AdminAPI.NodeStatus.TrustStoreStatus {
            .init(
                anchors: trust.anchors.map(\.subject),
                crls: trust.crls.map {
                    .init(issuer: $0.issuer, nextUpdate: AdminAPI.time($0.nextUpdate), expired: $0.nextUpdate < now)
                }
            )
        }
        let store = node.store
        let counts = try await store.messageCounts()
        let oldest = try await store.oldestUndelivered()
        let queued = try await store.queueDepths().values.reduce(0, +)
        let alerts = try await store.alertCount()
        let peers = try await PeerRoutes(node: node).peers()
        let problems = node.healthProblems()
        var warnings: [String] = []
        for certificate in certificates where certificate.warning && certificate.daysLeft >= 0 {
            warnings.append(
                "the \(certificate.certificate) certificate expires in \(certificate.daysLeft) days (\(certificate.notAfter)): renew it"
            )
        }
        let expired = peers.reduce(0) { $0 + $1.expired }
        if expired > 0 {
            warnings.append(
                "\(expired) \(expired == 1 ? "delivery" : "deliveries") expired without a receipt: contact the recipients (parley outbox --state expired)"
            )
        }
        let last = node.lastReload.withLock { $0 }
        if let last {
            if !last.report.succeeded {
                warnings.append(
                    "the last reload (\(AdminAPI.time(last.at))) failed: the configuration file on disk would not start the daemon; run parleyd --check-config"
                )
            } else if !last.report.restartRequired.isEmpty {
                warnings.append(
                    "changed keys wait for a restart (systemctl restart parleyd): \(last.report.restartRequired.joined(separator: ", "))"
                )
            }
        }
        return AdminAPI.NodeStatus(
            participant: node.participant.rawValue,
            version: ParleyVersion.current,
            started: AdminAPI.time(node.started),
            uptimeSeconds: Int(now.timeIntervalSince(node.started)),
            status: !problems.isEmpty ? "degraded" : !warnings.isEmpty ? "warning" : "ok",
            problems: problems,
            warnings: warnings,
            certificates: certificates,
            trust: .init(signing: trust(node.signingTrust.current), transport: trust(node.transportTrust.current)),
            store: .init(
                sent: counts.sent,
                received: counts.received,
                queued: queued,
                alerts: alerts,
                oldestUndelivered: oldest.map(AdminAPI.time),
                oldestUndeliveredAgeSeconds: oldest.map { Int(now.timeIntervalSince($0)) }
            ),
            peers: peers,
            hub: configuration.hub,
            configurationFile: node.configurationFile,
            lastReload: last.map {
                .init(at: AdminAPI.time($0.at), succeeded: $0.report.succeeded, lines: $0.report.lines)
            }
        )
    }
}
