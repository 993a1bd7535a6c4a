import NIOCore
import NIOHTTPTypes

/// Bounds how long one request may hold a peer connection (SPEC.md §14.6). A request head must be
/// complete within `headerTimeout` of its first bytes (or of the TLS handshake's last), the request
/// body within `timeout` of the head, or the connection is closed; and a response written before
/// the request body was read to its end (413, 415, 503, …) closes the connection after it is sent,
/// instead of draining a body that a slow client may never finish. (A kept-alive connection on which
/// nothing arrives is left to the idle timeout.)
///
/// The handler sits behind the HTTP decoder, which passes on nothing until a head is complete; bytes
/// of an incomplete head show as a read that completes without a part.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private let headerTimeout: TimeAmount
    private var readingBody = false
    private var deadline: Scheduled<Void>?
    private var headDeadline: Scheduled<Void>?
    /// A part was passed on since the last read completed.
    private var partRead = false

    init(timeout: TimeAmount, headerTimeout: TimeAmount) {
        self.timeout = timeout
        self.headerTimeout = headerTimeout
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !partRead && !readingBody && headDeadline == nil {
            headDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: headerTimeout) { context.close(promise: nil) }
        }
        partRead = false
        context.fireChannelReadComplete()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partRead = true
        switch unwrapInboundIn(data) {
        case .head:
            readingBody = true
            headDeadline?.cancel()
            headDeadline = nil
            deadline?.cancel()
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { context.close(promise: nil) }
        case .body:
            break
        case .end:
            readingBody = false
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data), readingBody else {
            context.write(data, promise: promise)
            return
        }
        context.writeAndFlush(data, promise: promise)
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadlines()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelDeadlines()
        context.fireChannelInactive()
    }

    private func cancelDeadlines() {
        deadline?.cancel()
        deadline = nil
        headDeadline?.cancel()
        headDeadline = nil
    }
}

@available(*, unavailable)
extension RequestDeadlineHandler: Sendable {}
