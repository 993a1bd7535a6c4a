import AsyncHTTPClient
import Foundation
import ParleyCodec
import ParleyCrypto
@testable import ParleyNode
import ParleyProtocol
import Testing
import ParleyTestSupport

/// Gaps in an incoming channel: short-lived ones (normal with several messages in flight) are
/// logged at info only; one still open after `gapWarningSeconds` is warned about once, naming the
/// sender and the numbers, and exported as a metric until it closes.
@Suite struct GapWatchTests {
    static let us = try! ParticipantID("US-NRRC")
    static let ru = try! ParticipantID("RU-NRRC")

    @Test func aGapThatStaysOpenIsWarnedAboutOnce() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let ruPort = try freePort()
        var configuration = try pki.nodeConfiguration("RU-NRRC", port: ruPort, peers: [:], directory: directory)
        // No gap is old enough for a warning until the threshold is lowered below (as a reload
        // would): the test does not depend on how fast a loaded machine sends two messages.
        configuration.gapWarningSeconds = 3_600
        let logs = LogCapture()
        let ru = try await RunningNode(configuration, logs: logs)
        let usConfiguration = try pki.nodeConfiguration("US-NRRC", port: 0, peers: [:], directory: directory)
        try await withHTTPClient(
            configuration: .init(tlsConfiguration: try DeliveryService.tlsClientConfiguration(usConfiguration))
        ) { client in
            let url = "https://127.0.0.1:\(ruPort)/v1/messages"
            let identity = try SigningIdentity.load(
                keyPath: usConfiguration.signingKeyPath,
                chainPath: usConfiguration.signingChainPath
            )
            func send(_ seq: UInt64) async throws {
                let bytes = try identity.sign(
                    Envelope(
                        id: .generate(),
                        sender: Self.us,
                        recipients: [Recipient(participant: Self.ru, sequence: seq)],
                        created: .now,
                        body: preLaunchBody()
                    )
                )
                let (status, _, _) = try await post(client, url, bytes, contentType: PeerServer.coseMediaType)
                #expect(status == 200)
            }
            // 2 before 1: a gap that closes. Then 5: 3…4 stay open.
            try await send(2)
            try await send(1)
            try await send(5)
            let warnings: @Sendable () -> [String] = { logs.lines.filter { $0.hasPrefix("warning") } }
            try await Task.sleep(for: .seconds(1))
            #expect(warnings().isEmpty, "no gap is older than gapWarningSeconds yet")
            ru.node.current.withLock { $0.gapWarningSeconds = 1 }
            try await waitUntil("the open gap's warning", timeout: .seconds(30)) { !warnings().isEmpty }
            try await Task.sleep(for: .seconds(2))  // several more rounds of the watch: no second warning
            let gapWarnings = warnings().filter { $0.contains("gap") }
            #expect(gapWarnings.count == 1, "\(logs.lines)")
            #expect(gapWarnings.first?.contains("gap 3…4 from US-NRRC still open") == true, "\(gapWarnings)")
            #expect(!gapWarnings.contains { $0.contains("gap 1…1") })
            #expect(logs.lines.contains { $0.hasPrefix("info") && $0.contains("accepted ahead of order: gap 1…1") })
            let us = try #require(try await PeerRoutes(node: ru.node).peers().first { $0.id == "US-NRRC" })
            let open = us.openGaps
            #expect(open.count == 1)
            #expect(open.first?.first == 3 && open.first?.last == 4 && open.first?.since.isEmpty == false)
            let exposition = await ru.node.metricsText()
            #expect(exposition.contains("parley_open_gaps{peer=\"US-NRRC\"} 1.0\n"), "\(exposition)")
            #expect(!exposition.contains("parley_oldest_open_gap_age_seconds 0.0\n"))

            // Closing the gap clears the metric.
            try await send(3)
            try await send(4)
            let closed = await ru.node.metricsText()
            #expect(closed.contains("parley_open_gaps{peer=\"US-NRRC\"} 0.0\n"), "\(closed)")
            #expect(closed.contains("parley_oldest_open_gap_age_seconds 0.0\n"))
        }
        await ru.stop()
    }
}
