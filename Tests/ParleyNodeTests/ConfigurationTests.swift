import Foundation
@testable import ParleyNode
import Testing
import ParleyTestSupport

@Suite struct ConfigurationTests {
    func write(_ json: String) throws -> String {
        let path = try temporaryDirectory().appendingPathComponent("parleyd.json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func validJSON(_ pki: TestPKI, data: String) -> String {
        """
        {"participant": "US-NRRC",
         "signing": {"key": "\(pki.path("participants/US-NRRC/signing.key"))", "chain": "\(pki.path("participants/US-NRRC/signing-chain.pem"))"},
         "tls": {"key": "\(pki.path("participants/US-NRRC/tls.key"))", "chain": "\(pki.path("participants/US-NRRC/tls-chain.pem"))"},
         "trust": {"anchors": "\(pki.path("trust/anchors.pem"))", "crls": ["\(pki.path("trust/crls.pem"))"]},
         "listen": {"host": "127.0.0.1", "port": 8443},
         "admin": {"socket": "\(data)/admin.sock"},
         "dataDirectory": "\(data)",
         "peers": {"RU-NRRC": {"url": "https://127.0.0.1:8444"}, "HCOC-CC": {"url": "https://hcoc.example:443"}},
         "retry": {"initialSeconds": 2, "maximumIntervalSeconds": 60, "giveUpAfterSeconds": 3600}}
        """
    }

    @Test func validFileLoadsWithEnvironmentOverrides() async throws {
        let pki = try TestPKI.shared()
        let data = try temporaryDirectory().path
        let path = try write(validJSON(pki, data: data))
        let configuration = try await NodeConfiguration.load(
            file: path,
            environment: ["PARLEY_LISTEN_PORT": "9443", "PARLEY_PEERS_RU_NRRC_URL": "https://10.0.0.2:8443"]
        )
        #expect(configuration.participant.rawValue == "US-NRRC")
        #expect(configuration.listenPort == 9443)
        #expect(configuration.retry.initialInterval == 2)
        #expect(configuration.peers.map(\.id.rawValue) == ["HCOC-CC", "RU-NRRC"])
        #expect(configuration.peers.last?.url.absoluteString == "https://10.0.0.2:8443")
        #expect(configuration.checkResources().isEmpty)
    }

    /// The example shipped in Deploy/ is read by the daemon's own reader: key names, types and
    /// ranges all check (the files it names exist only on an installed node).
    @Test func deployExampleConfigurationLoads() async throws {
        let path = SourceTree.root.appendingPathComponent("Deploy/parleyd.example.json").path
        let configuration = try await NodeConfiguration.load(file: path, environment: [:])
        #expect(configuration.participant.rawValue == "US-NRRC")
        #expect(configuration.listenPort == 8443)
        #expect(Set(configuration.peers.map(\.id.rawValue)) == ["FR-CNRR", "HCOC-CC", "RU-NRRC"])
        #expect(configuration.retry.initialInterval == 1)
    }

    @Test func everyProblemNamesItsKey() async throws {
        let pki = try TestPKI.shared()
        let data = try temporaryDirectory().path
        let path = try write(validJSON(pki, data: data))
        let error = await #expect(throws: ConfigurationError.self) {
            try await NodeConfiguration.load(
                file: path,
                environment: [
                    "PARLEY_PARTICIPANT": "us_nrrc", "PARLEY_LISTEN_PORT": "70000",
                    "PARLEY_RETRY_INITIAL_SECONDS": "soon",
                    "PARLEY_PEERS_RU_NRRC_URL": "http://plain.example",
                ]
            )
        }
        let keys = Set(error?.problems.map(\.key) ?? [])
        #expect(keys == ["participant", "listen.port", "retry.initialSeconds", "peers.RU-NRRC.url"])
    }

    /// A misspelt key would leave its default in force without a word (e.g. `acceptForwardedFrom`
    /// misspelt: every message forwarded by the hub refused): every key parleyd does not read is a
    /// problem, named, with the closest real key.
    @Test func unknownKeysAreRefusedWithTheClosestRealKey() async throws {
        let pki = try TestPKI.shared()
        let data = try temporaryDirectory().path
        var json = validJSON(pki, data: data)
        json = json.replacingOccurrences(of: "\"initialSeconds\"", with: "\"initalSeconds\"")
            .replacingOccurrences(
                of: "\"dataDirectory\"",
                with:
                    "\"acceptForwardedFromm\": [\"HCOC-CC\"], \"retyr\": {\"giveUpAfterSeconds\": 60}, \"limits\": {}, \"dataDirectory\""
            )
            .replacingOccurrences(
                of: "{\"url\": \"https://127.0.0.1:8444\"}",
                with: "{\"url\": \"https://127.0.0.1:8444\", \"ulr\": \"x\"}"
            )
        let path = try write(json)
        let error = await #expect(throws: ConfigurationError.self) {
            try await NodeConfiguration.load(file: path, environment: [:])
        }
        let problems = Dictionary(uniqueKeysWithValues: (error?.problems ?? []).map { ($0.key, $0.problem) })
        #expect(
            Set(problems.keys) == [
                "retry.initalSeconds", "acceptForwardedFromm", "retyr.giveUpAfterSeconds", "peers.RU-NRRC.ulr",
            ],
            "\(problems)"
        )
        #expect(problems["retry.initalSeconds"]?.contains("did you mean retry.initialSeconds?") == true)
        #expect(problems["acceptForwardedFromm"]?.contains("did you mean acceptForwardedFrom?") == true)
        #expect(problems["retyr.giveUpAfterSeconds"]?.contains("did you mean retry.giveUpAfterSeconds?") == true)
        #expect(problems["peers.RU-NRRC.ulr"]?.contains("did you mean peers.RU-NRRC.url?") == true)
        #expect(problems.values.allSatisfy { $0.contains("is not a parleyd setting") })
    }

    @Test func hubKeys() async throws {
        let pki = try TestPKI.shared()
        let data = try temporaryDirectory().path
        let json = validJSON(pki, data: data).replacingOccurrences(
            of: #""HCOC-CC": {"url": "https://hcoc.example:443"}}"#,
            with:
                #""HCOC-CC": {"url": "https://hcoc.example:443"}, "CN-NRRC": {"via": "HCOC-CC"}}, "hub": {"enabled": true}, "acceptForwardedFrom": ["HCOC-CC"]"#
        )
        let configuration = try await NodeConfiguration.load(file: try write(json), environment: [:])
        #expect(configuration.hub)
        #expect(configuration.acceptForwardedFrom.map(\.rawValue) == ["HCOC-CC"])
        let cn = try #require(configuration.peers.first { $0.id.rawValue == "CN-NRRC" })
        #expect(cn.via?.rawValue == "HCOC-CC")
        #expect(cn.url.absoluteString == "https://hcoc.example:443")
        let error = await #expect(throws: ConfigurationError.self) {
            try await NodeConfiguration.load(
                file: try write(json),
                environment: ["PARLEY_PEERS_CN_NRRC_VIA": "XX-HUB", "PARLEY_HUB_ENABLED": "maybe"]
            )
        }
        #expect(Set(error?.problems.map(\.key) ?? []) == ["peers.CN-NRRC.via", "hub.enabled"])
    }

    @Test func certificatesNearExpiryAreReported() async throws {
        let pki = try TestPKI.shared()
        var configuration = try pki.nodeConfiguration(
            "US-NRRC",
            port: 0,
            peers: [:],
            directory: try temporaryDirectory()
        )
        let node = try Node(configuration: configuration, logger: testLogger("test"))
        #expect(node.certificatesNearExpiry().isEmpty)  // the test certificates are valid for two years
        configuration.certificateExpiryWarningDays = 3_650
        let warned = try Node(configuration: configuration, logger: testLogger("test")).certificatesNearExpiry()
        #expect(Set(warned.map(\.what)) == ["signing certificate", "TLS certificate"])
        #expect(warned.allSatisfy { $0.daysLeft > 300 && $0.daysLeft < 3_650 })
    }

    @Test func missingKeysAreReported() async throws {
        let path = try write(#"{"participant": "US-NRRC"}"#)
        let error = await #expect(throws: ConfigurationError.self) {
            try await NodeConfiguration.load(file: path, environment: [:])
        }
        let keys = Set(error?.problems.map(\.key) ?? [])
        #expect(
            keys.isSuperset(of: [
                "signing.key", "signing.chain", "tls.key", "tls.chain", "trust.anchors", "trust.crls", "dataDirectory",
            ])
        )
    }

    @Test func looseKeyPermissionsReachTheOperator() async throws {
        let pki = try TestPKI.make()
        let data = try temporaryDirectory().path
        let configuration = try await NodeConfiguration.load(
            file: try write(validJSON(pki, data: data)),
            environment: [:]
        )
        chmod(pki.path("participants/US-NRRC/signing.key"), 0o644)
        let problems = configuration.checkResources()
        #expect(problems.map(\.key) == ["signing.key"])
        #expect(problems.first?.problem.contains("chmod 600") == true)
    }

    @Test func aJSONSyntaxErrorSaysWhere() async throws {
        let path = try write("{\"participant\": \"US-NRRC\",\n \"x\": [1,}\n")
        let error = await #expect(throws: ConfigurationError.self) {
            try await NodeConfiguration.load(file: path, environment: [:])
        }
        let problem = try #require(error?.problems.first)
        #expect(
            problem.key == "(file)" && problem.problem.contains("(line 2, column 10)")
                && !problem.problem.contains("NSCocoaErrorDomain"),
            "\(problem)"
        )
    }

    /// A CRL that cannot be read is reported under the key that names it, once (the transport trust
    /// is the signing trust when no transportTrust keys are set).
    @Test func anUnreadableCRLIsReportedUnderItsKey() async throws {
        let pki = try TestPKI.shared()
        let data = try temporaryDirectory().path
        var configuration = try await NodeConfiguration.load(
            file: try write(validJSON(pki, data: data)),
            environment: [:]
        )
        configuration.signingTrust.crls = ["\(data)/nothere.pem"]
        configuration.transportTrust = configuration.signingTrust
        let problems = configuration.checkResources()
        #expect(problems.map(\.key) == ["trust.crls"], "\(problems)")
        #expect(problems.first?.problem.contains("nothere.pem") == true)
        configuration.transportTrust.anchors = "\(data)/no-anchors.pem"
        #expect(configuration.checkResources().map(\.key) == ["trust.crls", "transportTrust.anchors"])
    }

    /// Receivers reject an x5chain that carries the anchor; the node says so at start, naming the file.
    @Test func signingChainWithTheRootIsRefused() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        var configuration = try pki.nodeConfiguration("US-NRRC", port: 0, peers: [:], directory: directory)
        let chain = directory.appendingPathComponent("chain-with-root.pem")
        let pem =
            try String(contentsOfFile: configuration.signingChainPath, encoding: .utf8)
            + String(contentsOfFile: pki.path("trust/anchors.pem"), encoding: .utf8)
        try pem.write(to: chain, atomically: true, encoding: .utf8)
        configuration.signingChainPath = chain.path
        let problems = configuration.checkResources()
        #expect(problems.map(\.key) == ["signing.chain"])
        #expect(problems.first?.problem.contains("leave the root CA out") == true, "\(problems)")
    }
}
