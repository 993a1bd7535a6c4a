import Foundation
import NIOHTTP1
@testable import ParleyNode
import ParleyProtocol
import Testing
import ParleyTestSupport

@Suite struct PeerServerUnitTests {
    @Test func mediaTypeWithOrWithoutQuotes() {
        #expect(PeerServer.isCOSEMediaType("application/cose; cose-type=\"cose-sign1\""))
        #expect(PeerServer.isCOSEMediaType("application/cose;cose-type=cose-sign1"))
        #expect(PeerServer.isCOSEMediaType("Application/COSE; cose-type=\"cose-sign1\""))
        #expect(!PeerServer.isCOSEMediaType("application/cose"))
        #expect(!PeerServer.isCOSEMediaType("application/cose; cose-type=\"cose-sign\""))
        #expect(!PeerServer.isCOSEMediaType("application/cbor"))
        #expect(!PeerServer.isCOSEMediaType(nil))
    }

    @Test func concurrencyLimitIsPerPeerAndGivenWithEachRequest() {
        let limiter = ConcurrencyLimiter()
        #expect(limiter.enter("US-NRRC", limit: 2))
        #expect(limiter.enter("US-NRRC", limit: 2))
        #expect(!limiter.enter("US-NRRC", limit: 2))
        #expect(limiter.enter("RU-NRRC", limit: 2))
        limiter.leave("US-NRRC")
        #expect(limiter.enter("US-NRRC", limit: 2))
        // A reloaded limit applies to the next request; those in progress are not cut off.
        #expect(!limiter.enter("RU-NRRC", limit: 1))
        #expect(limiter.enter("US-NRRC", limit: 3))
        #expect(!limiter.enter("US-NRRC", limit: 3))
    }

    @Test func backoffGrowsWithJitterUpToTheCap() throws {
        let pki = try TestPKI.shared()
        var configuration = try pki.nodeConfiguration(
            "US-NRRC",
            port: 0,
            peers: [:],
            directory: try temporaryDirectory()
        )
        configuration.retry.initialInterval = 5
        configuration.retry.maximumInterval = 900
        let node = try Node(configuration: configuration, logger: testLogger("test"))
        let policy = node.delivery.policy
        func seconds(_ range: ClosedRange<Int>) -> ClosedRange<Duration> {
            .seconds(range.lowerBound) ... .seconds(range.upperBound)
        }
        let first = (0..<50).map { _ in policy.backoff(attempts: 1) }
        #expect(first.allSatisfy { seconds(4...6).contains($0) })
        #expect(Set(first).count > 1)
        #expect((0..<50).map { _ in policy.backoff(attempts: 4) }.allSatisfy { seconds(32...48).contains($0) })
        #expect(
            (0..<50).map { _ in policy.backoff(attempts: 30) }.allSatisfy { $0 <= .seconds(900) && $0 >= .seconds(720) }
        )
        // A peer's Retry-After is a floor under the backoff, capped like it; it never shortens it.
        #expect(
            (0..<50).map { _ in policy.retryDelay(attempts: 1, retryAfter: .seconds(30)) }.allSatisfy {
                $0 == .seconds(30)
            }
        )
        #expect(
            (0..<50).map { _ in policy.retryDelay(attempts: 30, retryAfter: .seconds(30)) }.allSatisfy {
                $0 >= .seconds(720) && $0 <= .seconds(900)
            }
        )
        #expect(
            (0..<50).map { _ in policy.retryDelay(attempts: 1, retryAfter: .seconds(86_400)) }.allSatisfy {
                $0 == .seconds(900)
            }
        )
        #expect(
            (0..<50).map { _ in policy.retryDelay(attempts: 4, retryAfter: nil) }.allSatisfy {
                seconds(32...48).contains($0)
            }
        )
        // A peer's header cannot make the delay not a number (that trapped the sender).
        for odd in [Double.nan, .infinity, -5] {
            #expect(
                (0..<50).map { _ in policy.retryDelay(attempts: 1, retryAfter: DeliveryPolicy.retryAfter(seconds: odd))
                }
                .allSatisfy { seconds(4...6).contains($0) }
            )
        }
        func parsed(_ value: String) -> Duration? { PeerClient.retryAfter(["Retry-After": value]) }
        #expect(parsed("120") == .seconds(120) && parsed(" 7 ") == .seconds(7))
        #expect(
            parsed("nan") == nil && parsed("inf") == nil && parsed("-1") == nil
                && parsed("Wed, 21 Oct 2026 07:28:00 GMT") == nil
        )
    }
}

@Suite struct SubmitTests {
    @Test func draftsGetConsecutiveSequenceNumbersPerChannelAndVerify() async throws {
        let pki = try TestPKI.shared()
        let configuration = try pki.nodeConfiguration(
            "US-NRRC",
            port: 0,
            peers: ["RU-NRRC": 1, "HCOC-CC": 1],
            directory: try temporaryDirectory()
        )
        let node = try Node(configuration: configuration, logger: testLogger("test"))
        let ru = try ParticipantID("RU-NRRC")
        let hcoc = try ParticipantID("HCOC-CC")
        let first = try await node.submit(Draft(recipients: [ru, hcoc], body: preLaunchBody()))
        let second = try await node.submit(Draft(recipients: [ru], body: preLaunchBody()))
        #expect(first.sequenceNumbers == ["RU-NRRC": 1, "HCOC-CC": 1])
        #expect(second.sequenceNumbers == ["RU-NRRC": 2])
        let bytes = Array(try #require(try await node.store.message(second.id)).message.fields.bytes)
        let verified = try node.verifier.verifyMessage(bytes, at: .now, recipient: ru)
        #expect(verified.envelope.recipients == [Recipient(participant: ru, sequence: 2)])
        #expect(verified.envelope.sender == node.participant)
    }
}
