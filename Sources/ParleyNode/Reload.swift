import Foundation
import Logging
import ParleyCrypto
import ServiceLifecycle
import UnixSignals

/// What a reload (`POST /v1/reload`, SIGHUP) did.
public struct ReloadReport: Sendable {
    /// The file read again, or nil when the configuration was built in code (then only trust is reloaded).
    public var configurationFile: String?
    /// Every problem of the file read; when not empty, the previous configuration stays in use.
    public var configurationProblems: [ConfigurationProblem] = []
    /// Keys whose changed values are now in use.
    public var applied: [String] = []
    /// Keys changed in the file that take effect only at the next start (the running value stays).
    public var restartRequired: [String] = []
    /// Why the trust anchors and CRLs could not be read again (the previous ones stay in use), or nil.
    public var trustError: String?
    /// Counts of the trust now in use.
    public var trustSummary = ""
    /// Health problems after the reload (e.g. an expired CRL).
    public var health: [String] = []

    /// Everything read again and in use.
    public var succeeded: Bool { configurationProblems.isEmpty && trustError == nil }

    /// One line per fact, for the log and the CLI.
    public var lines: [String] {
        var lines: [String] = []
        if let file = configurationFile {
            if configurationProblems.isEmpty {
                lines.append(
                    applied.isEmpty && restartRequired.isEmpty
                        ? "configuration \(file): unchanged"
                        : "configuration \(file): reloaded"
                            + (applied.isEmpty ? "" : ", applied \(applied.joined(separator: ", "))")
                )
            } else {
                lines.append(
                    "configuration \(file) NOT reloaded (\(configurationProblems.count) \(configurationProblems.count == 1 ? "problem" : "problems")); the previous configuration stays in use"
                )
                lines += configurationProblems.map { "  \(file): \($0.key): \($0.problem)" }
            }
        } else {
            lines.append("configuration: not read from a file; only trust reloaded")
        }
        if !restartRequired.isEmpty {
            lines.append(
                "changed but used only after a restart (systemctl restart parleyd): \(restartRequired.joined(separator: ", "))"
            )
        }
        if let trustError {
            lines.append("trust NOT reloaded; the previous anchors and CRLs stay in use: \(trustError)")
        } else {
            lines.append("trust reloaded: \(trustSummary)")
        }
        lines += health.map { "health: \($0)" }
        return lines
    }
}

extension NodeConfiguration {
    /// The keys that differ between two configurations, split into those the running node applies
    /// (trust paths, peers, retry policy, limits, clock skew, certificate and gap warning periods) and those that
    /// need a restart; and `self` with only the applicable changes of `new` taken over.
    func merging(_ new: NodeConfiguration) -> (merged: NodeConfiguration, applied: [String], restartRequired: [String])
    {
        var merged = self
        var applied: [String] = []
        var restart: [String] = []
        func check<T: Equatable>(_ key: String, _ path: WritableKeyPath<NodeConfiguration, T>, live: Bool) {
            guard self[keyPath: path] != new[keyPath: path] else { return }
            if live {
                merged[keyPath: path] = new[keyPath: path]
                applied.append(key)
            } else {
                restart.append(key)
            }
        }
        check("trust", \.signingTrust, live: true)
        check("transportTrust", \.transportTrust, live: true)
        check("peers", \.peers, live: true)
        check("retry.initialSeconds", \.retry.initialBackoff, live: true)
        check("retry.maximumIntervalSeconds", \.retry.maximumBackoff, live: true)
        check("retry.giveUpAfterSeconds", \.retry.expiry, live: true)
        check("certificateExpiryWarningDays", \.certificateExpiryWarningDays, live: true)
        check("gapWarningSeconds", \.gapWarning, live: true)
        check("participant", \.participant, live: false)
        check("signing.key", \.signingKeyPath, live: false)
        check("signing.chain", \.signingChainPath, live: false)
        check("tls.key", \.tlsKeyPath, live: false)
        check("tls.chain", \.tlsChainPath, live: false)
        check("listen.host", \.listenHost, live: false)
        check("listen.port", \.listenPort, live: false)
        check("admin.socket", \.adminSocketPath, live: false)
        check("admin.group", \.adminGroup, live: false)
        check("metrics.host", \.metricsHost, live: false)
        check("metrics.port", \.metricsPort, live: false)
        check("dataDirectory", \.dataDirectory, live: false)
        check("hub.enabled", \.hub, live: false)
        check("acceptForwardedFrom", \.acceptForwardedFrom, live: false)
        check("limits.maximumBodyBytes", \.limits.maximumBodyBytes, live: true)
        check("limits.requestTimeoutSeconds", \.limits.timeouts.request, live: true)
        check("limits.headerTimeoutSeconds", \.limits.timeouts.header, live: true)
        check("limits.maximumConcurrentRequestsPerPeer", \.limits.maximumConcurrentRequestsPerPeer, live: true)
        check("limits.deliveryWindow", \.limits.deliveryWindow, live: true)
        check("limits.deliveryBatch", \.limits.deliveryBatch, live: true)
        check("clockSkewSeconds", \.maximumClockSkew, live: true)
        // A hub's forwarding targets are fixed when its peer listener starts.
        if hub && applied.contains("peers") { restart.append("peers (hub forwarding)") }
        return (merged, applied, restart)
    }
}

extension Node {
    /// Reads the configuration file (with its `PARLEY_*` overrides) and the trust anchors and CRLs
    /// again. A file with problems changes nothing of the configuration (every problem is
    /// reported) and trust is reloaded from the paths in use. Keys that cannot change at run time
    /// keep their running value and are reported as needing a restart.
    public func reload(environment: [String: String] = ProcessInfo.processInfo.environment) async -> ReloadReport {
        var report = ReloadReport(configurationFile: configurationFile)
        if let file = configurationFile {
            do {
                let new = try await NodeConfiguration.load(file: file, environment: environment, checkResources: true)
                let (merged, applied, restart) = configuration.merging(new)
                report.applied = applied
                report.restartRequired = restart
                if !applied.isEmpty {
                    current.withLock { $0 = merged }
                    delivery.reconfigure(merged)
                }
            } catch let error as ConfigurationError {
                report.configurationProblems = error.problems
            } catch {
                report.configurationProblems = [ConfigurationProblem(key: "(file)", "\(error)")]
            }
        }
        do {
            try reloadTrust(log: false)
            let signing = signingTrust.current
            let transport = transportTrust.current
            report.trustSummary =
                "\(signing.anchors.count) signing anchors, \(signing.crls.count) CRLs; \(transport.anchors.count) transport anchors, \(transport.crls.count) CRLs"
        } catch {
            report.trustError = "\(error)"
            // δ lives in the trust stores, which were not replaced: the old value stays in force.
            if let index = report.applied.firstIndex(of: "clockSkewSeconds") {
                report.applied.remove(at: index)
                report.restartRequired.append(
                    "clockSkewSeconds (trust not reloaded; reload again once the trust files read)"
                )
                current.withLock { $0.maximumClockSkew = .seconds(Int(signingTrust.current.maximumClockSkew)) }
            }
        }
        report.health = healthProblems()
        lastReload.withLock { $0 = (Date(), report) }
        // What went wrong (a refused file and its problems, trust not reloaded, health) at error,
        // what was done at notice.
        for line in report.lines {
            let failed = line.hasPrefix("  ") || line.contains("NOT reloaded") || line.hasPrefix("health:")
            logger.log(level: failed ? .error : .notice, "reload: \(line)")
        }
        return report
    }
}

/// Reloads configuration and trust on SIGHUP (as `POST /v1/reload`).
struct ReloadService: Service {
    let node: Node

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            for await _ in signals.cancelOnGracefulShutdown() {
                _ = await node.reload()
            }
        } onGracefulShutdown: {
        }
    }
}
