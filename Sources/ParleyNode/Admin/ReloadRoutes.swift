import Foundation
import Hummingbird

extension AdminAPI {
    /// `POST /v1/reload`: always 200; `status` says whether everything was read again and is in use.
    public struct ReloadAnswer: Codable, Sendable, Equatable, ResponseEncodable {
        /// `reloaded` or `failed`.
        public var status: String
        public var configuration: ConfigurationReload
        public var trust: TrustReload
        /// Health problems after the reload.
        public var health: [String]
        /// One line per fact, as logged.
        public var lines: [String]

        public struct ConfigurationReload: Codable, Sendable, Equatable {
            /// `reloaded`, `invalid` (the file has problems; nothing changed) or `not-from-file`.
            public var status: String
            public var file: String?
            /// Keys whose new values are in use.
            public var applied: [String]
            /// Keys that changed but wait for a restart.
            public var restartRequired: [String]
            public var problems: [KeyProblem]
        }

        public struct KeyProblem: Codable, Sendable, Equatable {
            public var key: String
            public var problem: String
        }

        public struct TrustReload: Codable, Sendable, Equatable {
            /// `reloaded` or `failed`.
            public var status: String
            /// Why the trust was not read again (the previous stays in use).
            public var error: String?
            /// Counts of the trust now in use.
            public var summary: String?
        }

        init(_ report: ReloadReport) {
            status = report.succeeded ? "reloaded" : "failed"
            configuration = .init(
                status: report.configurationFile == nil
                    ? "not-from-file" : report.configurationProblems.isEmpty ? "reloaded" : "invalid",
                file: report.configurationFile,
                applied: report.applied,
                restartRequired: report.restartRequired,
                problems: report.configurationProblems.map { .init(key: $0.key, problem: $0.problem) }
            )
            trust = .init(
                status: report.trustError == nil ? "reloaded" : "failed",
                error: report.trustError,
                summary: report.trustError == nil ? report.trustSummary : nil
            )
            health = report.health
            lines = report.lines
        }
    }

    /// `POST /v1/reload-trust`.
    public struct TrustReloadAnswer: Codable, Sendable, Equatable, ResponseEncodable {
        /// Always `reloaded` (a failure is a 500 `reload-failed` problem).
        public var status: String
        public var health: [String]
    }
}

/// `POST /v1/reload` (configuration and trust, as SIGHUP) and `POST /v1/reload-trust`.
struct ReloadRoutes {
    let node: Node

    var routes: RouteCollection<AdminRequestContext> {
        let routes = RouteCollection(context: AdminRequestContext.self)
        routes.post("reload") { _, _ in AdminAPI.ReloadAnswer(await node.reload()) }
        routes.post("reload-trust", use: reloadTrust)
        return routes
    }

    @Sendable func reloadTrust(
        _ request: Request,
        context: AdminRequestContext
    ) async throws -> AdminAPI.TrustReloadAnswer {
        do {
            try node.reloadTrust()
        } catch {
            throw Problem(
                status: 500,
                name: "reload-failed",
                title: "Trust not reloaded",
                detail: "the previous anchors and CRLs stay in use: \(error)"
            )
        }
        return .init(status: "reloaded", health: node.healthProblems())
    }
}
