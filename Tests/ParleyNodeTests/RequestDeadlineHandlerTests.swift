import NIOCore
import NIOEmbedded
@testable import ParleyNode
import Testing

/// `RequestDeadlineHandler` alone in an embedded pipeline. In front of it (towards the socket) a
/// stand-in for NIOSSL holds a close back the way a TLS close does, until the client's close_notify,
/// and counts the reads asked for: a closing connection must go on reading whatever the client
/// still sends (a trickled request) until that close_notify, or it is held for NIOSSL's 5 s shutdown
/// timeout.
@Suite struct RequestDeadlineHandlerTests {
    final class TLSStandIn: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Any
        var reads = 0
        var closeRequested = false

        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            closeRequested = true
            promise?.succeed()
        }
    }

    @Test func aConnectionClosedOnItsDeadlineReadsOnUntilTheClientsCloseNotify() throws {
        let tls = TLSStandIn()
        let deadlines = RequestDeadlineHandler(
            timeout: .seconds(2),
            headerTimeout: .milliseconds(100),
            idleTimeout: .milliseconds(500)
        )
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([tls, deadlines])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()

        // Bytes of a head that never completes: the header deadline closes the connection.
        channel.pipeline.fireChannelReadComplete()
        #expect(!tls.closeRequested)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(150))
        #expect(tls.closeRequested, "closed on the header deadline")
        let readsAtClose = tls.reads
        #expect(readsAtClose >= 1, "closing asks for a read")

        // The client trickles more bytes before its close_notify: each read is followed by another.
        for _ in 0..<3 {
            channel.pipeline.fireChannelReadComplete()
        }
        #expect(tls.reads == readsAtClose + 3)
        _ = try? channel.finish()
    }

    @Test func anOpenConnectionReadsOnlyOnDemand() throws {
        let tls = TLSStandIn()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            tls, RequestDeadlineHandler(timeout: .seconds(2), headerTimeout: .seconds(1), idleTimeout: .seconds(5)),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        channel.pipeline.fireChannelReadComplete()
        channel.pipeline.fireChannelReadComplete()
        #expect(tls.reads == 0, "reads stay on demand (the HTTP server's back-pressure) while the connection is open")
        #expect(!tls.closeRequested)
        _ = try? channel.finish()
    }
}
