import Foundation
@testable import ParleyNode
import Testing

/// How `NodeConfiguration.load` reads single keys: a key that is not set takes its default (or is
/// required), a key set to a value of the wrong type is a problem, from the file or the environment;
/// times given in seconds become `Duration`s.
@Suite struct ConfigurationReaderTests {
    /// A file with the required keys (paths that are not checked here) and `members`.
    func load(
        _ members: [String] = [],
        without: String? = nil,
        environment: [String: String] = [:]
    ) async throws -> NodeConfiguration {
        var keys = [
            #""participant": "US-NRRC""#,
            #""signing": {"key": "/x/signing.key", "chain": "/x/signing.pem"}"#,
            #""tls": {"key": "/x/tls.key", "chain": "/x/tls.pem"}"#,
            #""trust": {"anchors": "/x/anchors.pem", "crls": ["/x/crls.pem"]}"#,
            #""dataDirectory": "/x/data""#,
        ].filter { without == nil || !$0.hasPrefix("\"\(without!)\"") }
        keys += members
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "parley-reader-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("parleyd.json").path
        try Data(("{" + keys.joined(separator: ", ") + "}").utf8).write(to: URL(fileURLWithPath: path))
        return try await NodeConfiguration.load(file: path, environment: environment)
    }

    func problems(
        _ members: [String] = [],
        without: String? = nil,
        environment: [String: String] = [:]
    ) async -> [String: String] {
        do {
            _ = try await load(members, without: without, environment: environment)
            return [:]
        } catch let error as ConfigurationError {
            return Dictionary(error.problems.map { ($0.key, $0.problem) }) { first, _ in first }
        } catch {
            return ["(other)": "\(error)"]
        }
    }

    @Test func unsetKeysTakeTheirDefaults() async throws {
        let configuration = try await load()
        #expect(configuration.listenHost == "0.0.0.0" && configuration.listenPort == 8443)
        #expect(configuration.adminSocketPath == "/run/parley/admin.sock" && configuration.metricsHost == "127.0.0.1")
        #expect(configuration.metricsPort == nil && configuration.hub == false)
        #expect(
            configuration.retry == NodeConfiguration.RetryPolicy() && configuration.limits == NodeConfiguration.Limits()
        )
        #expect(
            configuration.retry.initialBackoff == .seconds(5) && configuration.retry.maximumBackoff == .seconds(900)
        )
        #expect(configuration.retry.expiry == .seconds(604_800))
        #expect(
            configuration.limits.timeouts.request == .seconds(30)
                && configuration.limits.timeouts.header == .seconds(10)
        )
        #expect(configuration.maximumClockSkew == .seconds(300) && configuration.clockSkew == 300)
        #expect(configuration.gapWarning == .seconds(60) && configuration.certificateExpiryWarningDays == 30)
    }

    @Test func secondsInTheFileBecomeDurations() async throws {
        let configuration = try await load(
            [
                #""retry": {"initialSeconds": 0.25, "maximumIntervalSeconds": 90, "giveUpAfterSeconds": 3600}"#,
                #""limits": {"requestTimeoutSeconds": 1.5, "headerTimeoutSeconds": 2}"#,
                #""clockSkewSeconds": 60, "gapWarningSeconds": 5"#,
            ],
            environment: ["PARLEY_LIMITS_HEADER_TIMEOUT_SECONDS": "3"]
        )
        #expect(
            configuration.retry.initialBackoff == .milliseconds(250)
                && configuration.retry.maximumBackoff == .seconds(90)
        )
        #expect(configuration.retry.expiry == .seconds(3600))
        #expect(
            configuration.limits.timeouts.request == .milliseconds(1500)
                && configuration.limits.timeouts.header == .seconds(3)
        )
        #expect(configuration.maximumClockSkew == .seconds(60) && configuration.gapWarning == .seconds(5))
    }

    /// A required key that is missing is "required"; one set to a value of the wrong type "must be"
    /// that type. An optional key set to a wrong value is a problem too, not silently its default.
    @Test func aMissingKeyIsToldFromAWrongOne() async {
        #expect(await problems(without: "participant")["participant"] == "is required (a string)")
        #expect(await problems(without: "dataDirectory")["dataDirectory"] == "is required (a string)")
        #expect(await problems(environment: ["PARLEY_DATA_DIRECTORY": ""])["dataDirectory"] == "must not be empty")
        #expect(await problems([#""listen": {"port": "high"}"#])["listen.port"] == "must be an integer")
        #expect(await problems(environment: ["PARLEY_LISTEN_PORT": "high"])["listen.port"] == "must be an integer")
        #expect(await problems([#""hub": {"enabled": "yes"}"#])["hub.enabled"] == "must be true or false")
        #expect(
            await problems([#""retry": {"initialSeconds": "soon"}"#])["retry.initialSeconds"]
                == "must be a number of seconds"
        )
        #expect(
            await problems([#""acceptForwardedFrom": "HCOC-CC""#])["acceptForwardedFrom"]
                == "must be an array of strings"
        )
        #expect(await problems([#""admin": {"group": 5}"#])["admin.group"] == "must be a string")
        #expect(
            await problems([#""retry": {"initialSeconds": 0}"#])["retry.initialSeconds"]
                == "must be a number of seconds ≥ 0.01, found 0.0"
        )
        #expect(await problems([#""listen": {"port": 8000}"#]).isEmpty)
    }
}
