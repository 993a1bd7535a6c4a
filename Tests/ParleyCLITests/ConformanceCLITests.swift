import Foundation
import Testing
import ParleyTestSupport

/// Rows of Protocol/CONFORMANCE.md on the `parley` command line that no other test checked.
@Suite struct ConformanceCLITests {
    static let signed = SourceTree.root.appendingPathComponent("Protocol/vectors/signed")

    /// SPEC.md §2: δ is configurable and never above 3600 seconds, for `parley verify` and
    /// `parley archive verify` as for a node; a larger value is a usage error (64) that names the bound.
    @Test func clockSkewAboveAnHourIsAUsageError() throws {
        let message = Self.signed.appendingPathComponent("ed25519/message-pre-launch.cose").path
        let trust = [
            "--trust", Self.signed.appendingPathComponent("ed25519/anchors.pem").path,
            "--crl", Self.signed.appendingPathComponent("ed25519/crls.pem").path,
        ]
        for command in [["verify", message], ["archive", "verify", "/nonexistent/archive"]] {
            let refused = try CLI.run(command + trust + ["--clock-skew", "3601"])
            #expect(refused.status == 64, "\(command): \(refused.stderr)")
            #expect(refused.stderr.contains("3600"), "\(command): \(refused.stderr)")
            let allowed = try CLI.run(command + trust + ["--clock-skew", "3600"])
            #expect(allowed.status != 64 && !allowed.stderr.contains("--clock-skew"), "\(command): \(allowed.stderr)")
        }
    }
}
