@testable import ParleyNode
import Testing

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

    @Test func concurrencyLimitIsPerPeer() {
        let limiter = ConcurrencyLimiter(limit: 2)
        #expect(limiter.enter("US-NRRC"))
        #expect(limiter.enter("US-NRRC"))
        #expect(!limiter.enter("US-NRRC"))
        #expect(limiter.enter("RU-NRRC"))
        limiter.leave("US-NRRC")
        #expect(limiter.enter("US-NRRC"))
    }

    @Test func backoffGrowsWithJitterUpToTheCap() throws {
        let pki = try TestPKI.shared.get()
        var configuration = try testConfiguration(pki, "US-NRRC", port: 0, peers: [:], directory: try temporaryDirectory())
        configuration.retry.initialInterval = 5
        configuration.retry.maximumInterval = 900
        let node = try Node(configuration: configuration, logger: .init(label: "test"))
        let first = (0..<50).map { _ in node.delivery.backoff(attempts: 1) }
        #expect(first.allSatisfy { (4...6).contains($0) })
        #expect(Set(first).count > 1)
        #expect((0..<50).map { _ in node.delivery.backoff(attempts: 4) }.allSatisfy { (32...48).contains($0) })
        #expect((0..<50).map { _ in node.delivery.backoff(attempts: 30) }.allSatisfy { $0 <= 900 && $0 >= 720 })
    }
}
