import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A TCP (optionally TLS) connection that writes exactly the bytes it is given, when it is told to:
/// for inputs an HTTP client cannot produce, such as headers trickled one byte at a time.
final class RawConnection: Sendable {
    /// Bytes received from the server, in order.
    final class Sink: Sendable {
        let bytes = Mutex<[UInt8]>([])
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let sink: Sink
        init(sink: Sink) { self.sink = sink }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            sink.bytes.withLock { $0 += Array(buffer: buffer) }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }

    let channel: any Channel
    let sink: Sink
    let opened = ContinuousClock.now

    private init(channel: any Channel, sink: Sink) {
        self.channel = channel
        self.sink = sink
    }

    /// Connects to 127.0.0.1:`port`, with TLS when `tls` is given.
    static func open(port: Int, tls: TLSConfiguration?) async throws -> RawConnection {
        let sink = Sink()
        let context = try tls.map { try NIOSSLContext(configuration: $0) }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: context, serverHostname: nil)
                        )
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(sink: sink))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, sink: sink)
    }

    var isOpen: Bool { channel.isActive }
    var received: String { String(decoding: sink.bytes.withLock { $0 }, as: UTF8.self) }
    /// The HTTP status of the first response received, if any.
    var status: Int? {
        let text = received
        guard text.hasPrefix("HTTP/1.1 ") else { return nil }
        return Int(text.dropFirst(9).prefix(3))
    }

    /// Writes `bytes`; false when the connection is already closed.
    @discardableResult
    func send(_ bytes: [UInt8]) async -> Bool {
        guard channel.isActive else { return false }
        do { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get() } catch { return false }
        return true
    }

    /// Sends `bytes` one at a time every `interval` until the server closes the connection or `limit`
    /// passes; returns how long after opening the connection was closed (nil: still open at `limit`).
    func trickle(_ bytes: [UInt8], every interval: Duration, limit: Duration) async -> Duration? {
        var index = 0
        var nextSend = ContinuousClock.now
        while ContinuousClock.now - opened < limit {
            if !channel.isActive { return ContinuousClock.now - opened }
            if index < bytes.count, ContinuousClock.now >= nextSend {
                await send([bytes[index]])
                index += 1
                nextSend = ContinuousClock.now + interval
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return channel.isActive ? nil : ContinuousClock.now - opened
    }

    func close() async {
        try? await channel.close().get()
    }
}
