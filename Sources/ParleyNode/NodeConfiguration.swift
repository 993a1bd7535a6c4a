import Configuration
import Foundation
import ParleyCrypto
import ParleyProtocol

/// Everything `parleyd` needs to run, read from one JSON file with `PARLEY_*` environment overrides.
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
        public init(id: ParticipantID, url: URL, via: ParticipantID? = nil) { self.id = id; self.url = url; self.via = via }
    }

    public struct RetryPolicy: Sendable, Hashable {
        /// First backoff interval, seconds.
        public var initialInterval: Double = 5
        /// Backoff cap, seconds.
        public var maximumInterval: Double = 900
        /// A delivery still without a receipt this long after it was queued is marked expired, seconds.
        public var giveUpAfter: Double = 7 * 86_400
        public init() {}
    }

    public struct Limits: Sendable, Hashable {
        public var maximumBodyBytes: Int = MessageVerifier.maximumSize
        /// Whole-request timeout (server: reading the body; client: the exchange), seconds.
        public var requestTimeout: Double = 30
        /// A request head must be complete this long after its first bytes arrive, seconds (server).
        public var headerTimeout: Double = 10
        public var maximumConcurrentRequestsPerPeer: Int = 32
        /// Messages in flight at once to each peer (in requests of up to `deliveryBatch` messages; keep
        /// the requests at or below the peers' `maximumConcurrentRequestsPerPeer`, or they answer 429).
        public var deliveryWindow: Int = 256
        /// Messages sent together in one `POST /v1/messages/batch` (SPEC.md §12.8); 1 sends each
        /// message in its own `POST /v1/messages`.
        public var deliveryBatch: Int = 64
        public init() {}
    }

    public struct TrustPaths: Sendable, Hashable {
        public var anchors: String
        public var crls: [String]
        public init(anchors: String, crls: [String]) { self.anchors = anchors; self.crls = crls }
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
    public var listenHost: String = "0.0.0.0"
    public var listenPort: Int = 8443
    public var adminSocketPath: String = "/run/parley/admin.sock"
    /// The admin socket's group. nil: `parley` when that group exists, else the daemon's own group;
    /// a name given here must exist.
    public var adminGroup: String?
    /// Prometheus metrics listener (plain HTTP, keep it on loopback or a management network); nil: off.
    public var metricsHost: String = "127.0.0.1"
    public var metricsPort: Int?
    public var dataDirectory: String
    public var peers: [Peer] = []
    /// Hub mode: forward messages whose `Parley-Recipient` names a direct peer (SPEC.md §12.7).
    public var hub = false
    /// Hubs whose TLS connections may deliver other participants' messages to this node.
    public var acceptForwardedFrom: [ParticipantID] = []
    public var retry = RetryPolicy()
    public var limits = Limits()
    /// Allowed clock difference, seconds (SPEC.md §8.6 δ).
    public var clockSkew: Int = 300
    /// Own certificates expiring within this many days are logged as warnings.
    public var certificateExpiryWarningDays: Int = 30
    /// A gap in an incoming channel still open after this many seconds is logged as a warning
    /// (several messages in flight make short-lived gaps normal).
    public var gapWarningSeconds: Double = 60

    public init(participant: ParticipantID, signingKeyPath: String, signingChainPath: String, tlsKeyPath: String,
                tlsChainPath: String, signingTrust: TrustPaths, transportTrust: TrustPaths? = nil, dataDirectory: String) {
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

/// One thing wrong with a configuration: the key and what is wrong with it.
public struct ConfigurationProblem: Sendable, Hashable, CustomStringConvertible {
    public var key: String
    public var problem: String
    public init(key: String, _ problem: String) { self.key = key; self.problem = problem }
    public var description: String { "\(key): \(problem)" }
}

/// A configuration that cannot be used; `problems` has one entry per key.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var file: String?
    public var problems: [ConfigurationProblem]
    public init(file: String?, problems: [ConfigurationProblem]) { self.file = file; self.problems = problems }
    public var description: String {
        "configuration\(file.map { " \($0)" } ?? "") is not usable:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

extension NodeConfiguration {
    /// Reads `file` (JSON) with overrides from `environment` (`PARLEY_*`), and checks every value's
    /// type and range; with `checkResources`, also the files it names (`checkResources()`). Throws
    /// `ConfigurationError` listing every problem found.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                            checkResources: Bool = false) async throws -> NodeConfiguration {
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ConfigKey("parley"))
        ]
        var peerIDs: [String]? = nil
        var fileObject: [String: Any]?
        if let file {
            do {
                let location = ConfigReader(provider: InMemoryProvider(values: [AbsoluteConfigKey(["filePath"]): ConfigValue(.string(file), isSecret: false)]))
                providers.append(try await FileProvider<JSONSnapshot>(config: location))
            } catch {
                // Foundation's JSON errors keep the useful part (what, and where) in NSDebugDescription.
                var detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
                if let range = detail.range(of: #"around character (\d+)"#, options: .regularExpression),
                   let offset = Int(detail[range].split(separator: " ").last ?? ""),
                   let data = FileManager.default.contents(atPath: file), offset <= data.count {
                    let before = data.prefix(offset)
                    let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
                    let column = offset - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
                    detail += " (line \(line), column \(column))"
                }
                throw ConfigurationError(file: file, problems: [ConfigurationProblem(key: "(file)", "cannot read \(file) as a JSON object: \(detail)")])
            }
            // swift-configuration cannot enumerate keys: the file is read as an object too, for the
            // peer ids (the keys of `peers`) and for the keys parleyd does not read.
            fileObject = FileManager.default.contents(atPath: file).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            if let peers = fileObject?["peers"] {
                guard let map = peers as? [String: Any] else {
                    throw ConfigurationError(file: file, problems: [ConfigurationProblem(key: "peers", "must be an object {\"<participant id>\": {\"url\": \"https://…\"}}")])
                }
                peerIDs = map.keys.sorted()
            }
        }
        var reader = Reader(config: ConfigReader(providers: providers))
        let configuration = reader.read(peerIDs: peerIDs, environment: environment)
        var problems = reader.problems
        if let fileObject { problems += unknownKeys(in: fileObject, known: reader.asked) }
        if checkResources, let configuration { problems += configuration.checkResources() }
        guard let configuration, problems.isEmpty else {
            throw ConfigurationError(file: file, problems: problems)
        }
        return configuration
    }

    /// The file's keys that parleyd does not read (a misspelt key would otherwise leave its default
    /// in force without a word), each with the closest known key.
    static func unknownKeys(in object: [String: Any], known: Set<String>) -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        func walk(_ value: Any, _ path: [String]) {
            let key = path.joined(separator: ".")
            if path.count == 3, path[0] == "peers", ["url", "via"].contains(path[2]) { return }
            if key == "peers", (value as? [String: Any])?.isEmpty == true { return }
            if known.contains(key) || (path.count == 2 && path[0] == "peers") && !(value is [String: Any]) { return }
            if let object = value as? [String: Any], object.isEmpty, known.contains(where: { $0.hasPrefix(key + ".") }) { return }
            if let object = value as? [String: Any], !object.isEmpty, path.count < 8 {
                for (name, member) in object.sorted(by: { $0.key < $1.key }) { walk(member, path + [name]) }
                return
            }
            let candidates = path.first == "peers" && path.count == 3 ? ["url", "via"].map { "peers.\(path[1]).\($0)" } : Array(known)
            let closest = candidates.min { editDistance($0, key) < editDistance($1, key) }
            let hint = closest.flatMap { editDistance($0, key) <= max(2, key.count / 4) ? " (did you mean \($0)?)" : nil } ?? ""
            problems.append(.init(key: key, "is not a parleyd setting\(hint); remove it or correct its name (CONFIGURATION.md lists every key)"))
        }
        for (name, value) in object.sorted(by: { $0.key < $1.key }) { walk(value, [name]) }
        return problems
    }

    /// Checks that the files named by the configuration are usable: keys load (and have no group or
    /// other permissions), chains and trust anchors parse, CRLs load, the data directory is writable.
    /// Returns one problem per key.
    public func checkResources() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        do {
            let identity = try SigningIdentity.load(keyPath: signingKeyPath, chainPath: signingChainPath)
            if identity.participantID != participant {
                problems.append(.init(key: "signing.chain", "certificate binds participant \(identity.participantID), but participant is \(participant)"))
            }
            if let anchors = try? Certificate.load(path: signingTrust.anchors), let root = identity.chain.first(where: anchors.contains) {
                problems.append(.init(key: "signing.chain", "\(signingChainPath) includes the trust anchor '\(root.subject)': leave the root CA out of the chain file (SPEC.md §5.2); receivers reject messages carrying it as untrusted-certificate"))
            }
        } catch {
            problems.append(.init(key: "signing.key", "cannot use \(signingKeyPath) with \(signingChainPath): \(error)"))
        }
        do {
            _ = try PrivateKey.load(path: tlsKeyPath)
            let chain = try Certificate.load(path: tlsChainPath)
            if chain.first?.participantID != participant.rawValue {
                problems.append(.init(key: "tls.chain", "the first certificate of \(tlsChainPath) binds \(chain.first?.participantID ?? "no participant"), but participant is \(participant)"))
            }
        } catch {
            problems.append(.init(key: "tls.key", "cannot use \(tlsKeyPath) with \(tlsChainPath): \(error)"))
        }
        // (Without transportTrust keys the transport trust is the signing trust: checked once.)
        for (key, trust) in [("trust", signingTrust), ("transportTrust", transportTrust)] where key == "trust" || transportTrust != signingTrust {
            do {
                _ = try TrustStore.load(anchorsPath: trust.anchors, crlPaths: trust.crls, maximumClockSkew: TimeInterval(clockSkew))
            } catch {
                if (try? Certificate.load(path: trust.anchors)) == nil {
                    problems.append(.init(key: "\(key).anchors", "cannot load the trust anchors \(trust.anchors): \(error)"))
                } else {
                    problems.append(.init(key: "\(key).crls", "cannot load the CRLs \(trust.crls.joined(separator: ", ")) (for the anchors of \(trust.anchors)): \(error)"))
                }
            }
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: dataDirectory, isDirectory: &isDirectory) || !isDirectory.boolValue {
            problems.append(.init(key: "dataDirectory", "\(dataDirectory) does not exist or is not a directory"))
        } else if !FileManager.default.isWritableFile(atPath: dataDirectory) {
            problems.append(.init(key: "dataDirectory", "\(dataDirectory) is not writable by this user"))
        }
        let adminDirectory = (adminSocketPath as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: adminDirectory) {
            problems.append(.init(key: "admin.socket", "directory \(adminDirectory) does not exist"))
        } else if let problem = AdminSocket.checkPath(adminSocketPath) ?? AdminSocket.checkPath(AdminSocket.temporaryPath(adminSocketPath)) {
            problems.append(.init(key: "admin.socket", problem))
        } else if AdminSocket.temporaryPath(adminSocketPath).utf8.count > 107 {
            problems.append(.init(key: "admin.socket", "\(adminSocketPath) is too long for a Unix socket (at most 106 bytes)"))
        }
        if let adminGroup, AdminSocket.groupID(adminGroup) == nil {
            problems.append(.init(key: "admin.group", "there is no group \(adminGroup) on this system; create it (e.g. with Deploy/sysusers.d) or remove the key"))
        }
        return problems
    }
}

/// Reads keys one by one and collects a problem for each missing or wrong value.
private struct Reader {
    let config: ConfigReader
    var problems: [ConfigurationProblem] = []
    /// Every key read, whether or not it was set.
    private(set) var asked: Set<String> = []

    init(config: ConfigReader) { self.config = config }

    private mutating func report(_ key: String, _ error: any Error, expected: String) {
        let text = "\(error)"
        if text.hasPrefix("Missing required") {
            problems.append(.init(key: key, "is required (\(expected))"))
        } else {
            problems.append(.init(key: key, "must be \(expected)"))
        }
    }

    private func isMissing(_ error: any Error) -> Bool { "\(error)".hasPrefix("Missing required") }

    mutating func string(_ key: String, required: Bool = true) -> String? {
        asked.insert(key)
        do {
            let value = try config.requiredString(forKey: ConfigKey(key))
            if value.isEmpty { problems.append(.init(key: key, "must not be empty")); return nil }
            return value
        } catch {
            if !required && isMissing(error) { return nil }
            report(key, error, expected: "a string"); return nil
        }
    }

    mutating func int(_ key: String, default value: Int, range: ClosedRange<Int>) -> Int {
        asked.insert(key)
        do {
            let read = try config.requiredInt(forKey: ConfigKey(key))
            guard range.contains(read) else {
                problems.append(.init(key: key, "must be between \(range.lowerBound) and \(range.upperBound), found \(read)"))
                return value
            }
            return read
        } catch {
            if isMissing(error) { return value }
            report(key, error, expected: "an integer"); return value
        }
    }

    mutating func seconds(_ key: String, default value: Double, minimum: Double) -> Double {
        asked.insert(key)
        do {
            let read = try config.requiredDouble(forKey: ConfigKey(key))
            guard read.isFinite, read >= minimum else {
                problems.append(.init(key: key, "must be a number of seconds ≥ \(minimum), found \(read)"))
                return value
            }
            return read
        } catch {
            if isMissing(error) { return value }
            report(key, error, expected: "a number of seconds"); return value
        }
    }

    mutating func bool(_ key: String, default value: Bool) -> Bool {
        asked.insert(key)
        do {
            return try config.requiredBool(forKey: ConfigKey(key))
        } catch {
            if isMissing(error) { return value }
            report(key, error, expected: "true or false"); return value
        }
    }

    mutating func strings(_ key: String) -> [String]? {
        asked.insert(key)
        do {
            return try config.requiredStringArray(forKey: ConfigKey(key))
        } catch {
            if isMissing(error) { return nil }
            report(key, error, expected: "an array of strings"); return nil
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
            problems.append(.init(key: "trust.crls", "is required: at least one CRL file (a missing CRL is an error, never a pass)"))
        }
        let transportAnchors = string("transportTrust.anchors", required: false)
        let transportCRLs = strings("transportTrust.crls")
        if transportAnchors != nil, transportCRLs?.isEmpty ?? true {
            problems.append(.init(key: "transportTrust.crls", "is required when transportTrust.anchors is set"))
        }
        let dataDirectory = string("dataDirectory")
        let host = string("listen.host", required: false) ?? "0.0.0.0"
        let port = int("listen.port", default: 8443, range: 0...65_535)
        let socket = string("admin.socket", required: false) ?? "/run/parley/admin.sock"
        let adminGroup = string("admin.group", required: false)
        let metricsHost = string("metrics.host", required: false) ?? "127.0.0.1"
        let metricsPort = int("metrics.port", default: -1, range: 0...65_535)

        var retry = NodeConfiguration.RetryPolicy()
        retry.initialInterval = seconds("retry.initialSeconds", default: retry.initialInterval, minimum: 0.01)
        retry.maximumInterval = seconds("retry.maximumIntervalSeconds", default: retry.maximumInterval, minimum: 0.01)
        retry.giveUpAfter = seconds("retry.giveUpAfterSeconds", default: retry.giveUpAfter, minimum: 1)
        if retry.maximumInterval < retry.initialInterval {
            problems.append(.init(key: "retry.maximumIntervalSeconds", "must be ≥ retry.initialSeconds (\(retry.initialInterval))"))
        }
        var limits = NodeConfiguration.Limits()
        limits.maximumBodyBytes = int("limits.maximumBodyBytes", default: limits.maximumBodyBytes, range: 1_024...MessageVerifier.maximumSize)
        limits.requestTimeout = seconds("limits.requestTimeoutSeconds", default: limits.requestTimeout, minimum: 0.1)
        limits.headerTimeout = seconds("limits.headerTimeoutSeconds", default: limits.headerTimeout, minimum: 0.1)
        limits.maximumConcurrentRequestsPerPeer = int("limits.maximumConcurrentRequestsPerPeer", default: limits.maximumConcurrentRequestsPerPeer, range: 1...1_024)
        limits.deliveryWindow = int("limits.deliveryWindow", default: limits.deliveryWindow, range: 1...256)
        limits.deliveryBatch = int("limits.deliveryBatch", default: limits.deliveryBatch, range: 1...MessageBatch.maximumCount)
        let skew = int("clockSkewSeconds", default: 300, range: 0...3_600)
        let expiryDays = int("certificateExpiryWarningDays", default: 30, range: 0...3_650)
        let gapWarning = seconds("gapWarningSeconds", default: 60, minimum: 1)

        var peers: [NodeConfiguration.Peer] = []
        var peerPairs: [(String, String, String)] = []  // (key, id, url)
        var viaPairs: [(String, String, String)] = []  // (key, id, hub id)
        if let env = environment["PARLEY_PEERS"] {
            for (index, item) in env.split(separator: ",").enumerated() {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else {
                    problems.append(.init(key: "PARLEY_PEERS", "item \(index + 1) \"\(item)\" must be ID=URL")); continue
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
                problems.append(.init(key: key, "\"\(id)\" is not a participant id")); continue
            }
            guard let url = URL(string: urlText), url.scheme == "https", url.host != nil else {
                problems.append(.init(key: "\(key).url", "\"\(urlText)\" must be an https:// URL with a host")); continue
            }
            if peerID == participant {
                problems.append(.init(key: "\(key).id", "\(id) is this node itself")); continue
            }
            if peers.contains(where: { $0.id == peerID }) {
                problems.append(.init(key: "\(key).id", "\(id) is listed twice")); continue
            }
            peers.append(.init(id: peerID, url: url))
        }
        for (key, id, hubID) in viaPairs {
            guard let peerID = try? ParticipantID(id) else {
                problems.append(.init(key: key, "\"\(id)\" is not a participant id")); continue
            }
            guard let hub = peers.first(where: { $0.id.rawValue == hubID && $0.via == nil }) else {
                problems.append(.init(key: "\(key).via", "\"\(hubID)\" must be another peer of this configuration with a url")); continue
            }
            peers.append(.init(id: peerID, url: hub.url, via: hub.id))
        }
        let isHub = bool("hub.enabled", default: false)
        var acceptForwardedFrom: [ParticipantID] = []
        for id in strings("acceptForwardedFrom") ?? [] {
            guard let hub = try? ParticipantID(id) else {
                problems.append(.init(key: "acceptForwardedFrom", "\"\(id)\" is not a participant id")); continue
            }
            acceptForwardedFrom.append(hub)
        }

        guard let participant, let signingKey, let signingChain, let tlsKey, let tlsChain, let anchors, let crls,
              let dataDirectory else { return nil }
        var configuration = NodeConfiguration(
            participant: participant, signingKeyPath: signingKey, signingChainPath: signingChain,
            tlsKeyPath: tlsKey, tlsChainPath: tlsChain,
            signingTrust: .init(anchors: anchors, crls: crls),
            transportTrust: transportAnchors.map { .init(anchors: $0, crls: transportCRLs ?? []) },
            dataDirectory: dataDirectory)
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
        configuration.clockSkew = skew
        configuration.certificateExpiryWarningDays = expiryDays
        configuration.gapWarningSeconds = gapWarning
        return configuration
    }
}
