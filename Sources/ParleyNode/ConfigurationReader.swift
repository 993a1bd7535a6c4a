import Configuration
import Foundation
import ParleyProtocol
import Synchronization

/// Whether the last key looked up is set in any provider, read from the lookup itself rather than
/// from the error's text: a required key that is not set and one set to a value of the wrong type
/// throw the same error type (internal to swift-configuration), and only the first may take its default.
final class KeyPresence: AccessReporter, Sendable {
    private let lastKeyIsSet = Mutex(false)

    func report(_ event: AccessEvent) {
        let set =
            event.conversionError != nil
            || event.providerResults.contains { provider in
                switch provider.result {
                case .success(let lookup): lookup.value != nil
                case .failure: true  // a value the provider could not read as the type asked for
                }
            }
        lastKeyIsSet.withLock { $0 = set }
    }

    /// Whether the key of the last lookup is set (possibly to a wrong value).
    var lastKeyWasSet: Bool { lastKeyIsSet.withLock { $0 } }
}

/// Reads keys one by one and collects a problem for each missing or wrong value.
struct ConfigurationReader {
    let config: ConfigReader
    let presence: KeyPresence
    var problems: [ConfigurationProblem] = []
    /// Every key read, whether or not it was set.
    private(set) var asked: Set<String> = []

    init(providers: [any ConfigProvider]) {
        presence = KeyPresence()
        config = ConfigReader(providers: providers, accessReporter: presence)
    }

    private mutating func report(_ key: String, _ error: any Error, expected: String) {
        if isMissing(error) {
            problems.append(.init(key: key, "is required (\(expected))"))
        } else {
            problems.append(.init(key: key, "must be \(expected)"))
        }
    }

    /// After a lookup threw: the key is not set at all (rather than set to a wrong value).
    private func isMissing(_ error: any Error) -> Bool { !presence.lastKeyWasSet }

    mutating func string(_ key: String, required: Bool = true) -> String? {
        asked.insert(key)
        do {
            let value = try config.requiredString(forKey: ConfigKey(key))
            if value.isEmpty {
                problems.append(.init(key: key, "must not be empty"))
                return nil
            }
            return value
        } catch {
            if !required && isMissing(error) { return nil }
            report(key, error, expected: "a string")
            return nil
        }
    }

    mutating func int(_ key: String, default value: Int, range: ClosedRange<Int>) -> Int {
        asked.insert(key)
        do {
            let read = try config.requiredInt(forKey: ConfigKey(key))
            guard range.contains(read) else {
                problems.append(
                    .init(key: key, "must be between \(range.lowerBound) and \(range.upperBound), found \(read)")
                )
                return value
            }
            return read
        } catch {
            if isMissing(error) { return value }
            report(key, error, expected: "an integer")
            return value
        }
    }

    /// A time, given in seconds in the file and the environment.
    mutating func duration(_ key: String, default value: Duration, minimum: Duration) -> Duration {
        asked.insert(key)
        do {
            let read = try config.requiredDouble(forKey: ConfigKey(key))
            guard read.isFinite, read >= minimum.seconds, read <= 1e12 else {
                problems.append(.init(key: key, "must be a number of seconds ≥ \(minimum.seconds), found \(read)"))
                return value
            }
            return .seconds(read)
        } catch {
            if isMissing(error) { return value }
            report(key, error, expected: "a number of seconds")
            return value
        }
    }

    mutating func bool(_ key: String, default value: Bool) -> Bool {
        asked.insert(key)
        do {
            return try config.requiredBool(forKey: ConfigKey(key))
        } catch {
            if isMissing(error) { return value }
            report(key, error, expected: "true or false")
            return value
        }
    }

    mutating func strings(_ key: String) -> [String]? {
        asked.insert(key)
        do {
            return try config.requiredStringArray(forKey: ConfigKey(key))
        } catch {
            if isMissing(error) { return nil }
            report(key, error, expected: "an array of strings")
            return nil
        }
    }

    mutating func read(peerIDs: [String]?, environment: [String: String]) -> NodeConfiguration? {
        var participant: ParticipantID?
        if let text = string("participant") {
            do { participant = try ParticipantID(text) } catch {
                problems.append(.init(key: "participant", "\"\(text)\" is not a participant id (1–64 of A–Z 0–9 -)"))
            }
        }
        let signingKey = string("signing.key")
        let signingChain = string("signing.chain")
        let tlsKey = string("tls.key")
        let tlsChain = string("tls.chain")
        let anchors = string("trust.anchors")
        let crls = strings("trust.crls")
        if crls?.isEmpty ?? true {
            problems.append(
                .init(key: "trust.crls", "is required: at least one CRL file (a missing CRL is an error, never a pass)")
            )
        }
        let transportAnchors = string("transportTrust.anchors", required: false)
        let transportCRLs = strings("transportTrust.crls")
        if transportAnchors != nil, transportCRLs?.isEmpty ?? true {
            problems.append(.init(key: "transportTrust.crls", "is required when transportTrust.anchors is set"))
        }
        let dataDirectory = string("dataDirectory")
        let host = string("listen.host", required: false) ?? NodeConfiguration.Defaults.listenHost
        let port = int("listen.port", default: NodeConfiguration.Defaults.listenPort, range: 0...65_535)
        let socket = string("admin.socket", required: false) ?? NodeConfiguration.Defaults.adminSocket
        let adminGroup = string("admin.group", required: false)
        let metricsHost = string("metrics.host", required: false) ?? NodeConfiguration.Defaults.metricsHost
        let metricsPort = int("metrics.port", default: -1, range: 0...65_535)

        var retry = NodeConfiguration.RetryPolicy()
        retry.initialBackoff = duration(
            "retry.initialSeconds",
            default: retry.initialBackoff,
            minimum: .milliseconds(10)
        )
        retry.maximumBackoff = duration(
            "retry.maximumIntervalSeconds",
            default: retry.maximumBackoff,
            minimum: .milliseconds(10)
        )
        retry.expiry = duration("retry.giveUpAfterSeconds", default: retry.expiry, minimum: .seconds(1))
        if retry.maximumBackoff < retry.initialBackoff {
            problems.append(
                .init(
                    key: "retry.maximumIntervalSeconds",
                    "must be ≥ retry.initialSeconds (\(retry.initialBackoff.seconds))"
                )
            )
        }
        var limits = NodeConfiguration.Limits()
        limits.maximumBodyBytes = int(
            "limits.maximumBodyBytes",
            default: limits.maximumBodyBytes,
            range: 1_024...MessageVerifier.maximumSize
        )
        limits.timeouts.request = duration(
            "limits.requestTimeoutSeconds",
            default: limits.timeouts.request,
            minimum: .milliseconds(100)
        )
        limits.timeouts.header = duration(
            "limits.headerTimeoutSeconds",
            default: limits.timeouts.header,
            minimum: .milliseconds(100)
        )
        limits.maximumConcurrentRequestsPerPeer = int(
            "limits.maximumConcurrentRequestsPerPeer",
            default: limits.maximumConcurrentRequestsPerPeer,
            range: 1...1_024
        )
        limits.deliveryWindow = int("limits.deliveryWindow", default: limits.deliveryWindow, range: 1...256)
        limits.deliveryBatch = int(
            "limits.deliveryBatch",
            default: limits.deliveryBatch,
            range: 1...MessageBatch.maximumCount
        )
        let skew = int(
            "clockSkewSeconds",
            default: Int(NodeConfiguration.Defaults.maximumClockSkew.components.seconds),
            range: 0...3_600
        )
        let expiryDays = int(
            "certificateExpiryWarningDays",
            default: NodeConfiguration.Defaults.certificateExpiryWarningDays,
            range: 0...3_650
        )
        let gapWarning = duration(
            "gapWarningSeconds",
            default: NodeConfiguration.Defaults.gapWarning,
            minimum: .seconds(1)
        )

        var peers: [NodeConfiguration.Peer] = []
        var peerPairs: [(String, String, String)] = []  // (key, id, url)
        var viaPairs: [(String, String, String)] = []  // (key, id, hub id)
        if let env = environment["PARLEY_PEERS"] {
            for (index, item) in env.split(separator: ",").enumerated() {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else {
                    problems.append(.init(key: "PARLEY_PEERS", "item \(index + 1) \"\(item)\" must be ID=URL"))
                    continue
                }
                peerPairs.append(("PARLEY_PEERS[\(index)]", parts[0], parts[1]))
            }
        } else {
            for id in peerIDs ?? [] {
                if let via = string("peers.\(id).via", required: false) {
                    viaPairs.append(("peers.\(id)", id, via))
                } else if let url = string("peers.\(id).url") {
                    peerPairs.append(("peers.\(id)", id, url))
                }
            }
        }
        for (key, id, urlText) in peerPairs {
            guard let peerID = try? ParticipantID(id) else {
                problems.append(.init(key: key, "\"\(id)\" is not a participant id"))
                continue
            }
            guard let url = URL(string: urlText), url.scheme == "https", url.host != nil else {
                problems.append(.init(key: "\(key).url", "\"\(urlText)\" must be an https:// URL with a host"))
                continue
            }
            if peerID == participant {
                problems.append(.init(key: "\(key).id", "\(id) is this node itself"))
                continue
            }
            if peers.contains(where: { $0.id == peerID }) {
                problems.append(.init(key: "\(key).id", "\(id) is listed twice"))
                continue
            }
            peers.append(.init(id: peerID, url: url))
        }
        for (key, id, hubID) in viaPairs {
            guard let peerID = try? ParticipantID(id) else {
                problems.append(.init(key: key, "\"\(id)\" is not a participant id"))
                continue
            }
            guard let hub = peers.first(where: { $0.id.rawValue == hubID && $0.via == nil }) else {
                problems.append(
                    .init(key: "\(key).via", "\"\(hubID)\" must be another peer of this configuration with a url")
                )
                continue
            }
            peers.append(.init(id: peerID, url: hub.url, via: hub.id))
        }
        let isHub = bool("hub.enabled", default: false)
        var acceptForwardedFrom: [ParticipantID] = []
        for id in strings("acceptForwardedFrom") ?? [] {
            guard let hub = try? ParticipantID(id) else {
                problems.append(.init(key: "acceptForwardedFrom", "\"\(id)\" is not a participant id"))
                continue
            }
            acceptForwardedFrom.append(hub)
        }

        guard let participant, let signingKey, let signingChain, let tlsKey, let tlsChain, let anchors, let crls,
            let dataDirectory
        else { return nil }
        var configuration = NodeConfiguration(
            participant: participant,
            signingKeyPath: signingKey,
            signingChainPath: signingChain,
            tlsKeyPath: tlsKey,
            tlsChainPath: tlsChain,
            signingTrust: .init(anchors: anchors, crls: crls),
            transportTrust: transportAnchors.map { .init(anchors: $0, crls: transportCRLs ?? []) },
            dataDirectory: dataDirectory
        )
        configuration.listenHost = host
        configuration.listenPort = port
        configuration.adminSocketPath = socket
        configuration.adminGroup = adminGroup
        configuration.metricsHost = metricsHost
        configuration.metricsPort = metricsPort >= 0 ? metricsPort : nil
        configuration.peers = peers
        configuration.hub = isHub
        configuration.acceptForwardedFrom = acceptForwardedFrom
        configuration.retry = retry
        configuration.limits = limits
        configuration.maximumClockSkew = .seconds(skew)
        configuration.certificateExpiryWarningDays = expiryDays
        configuration.gapWarning = gapWarning
        return configuration
    }
}
