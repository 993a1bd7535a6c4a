import NIOCore
import NIOHTTPTypes

/// Bounds how long one request may hold a peer connection (SPEC.md §14.6). A request head must be
/// complete within `headerTimeout` of its first bytes (or of the TLS handshake's last), the request
/// body within `timeout` of the head, or the connection is closed; and a response written before
/// the request body was read to its end (413, 415, 503, …) carries `Connection: close` and closes the
/// connection after it is sent, instead of draining a body that a slow client may never finish. A connection with no request in
/// progress that reads no complete request head for `idleTimeout` (counted from its opening or its
/// last response) is closed too: bytes of an incomplete head do not keep it open.
///
/// Each connection takes the limits in force when it was opened (`init(limits:)`), so a reload
/// applies to new connections.
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
    private let idleTimeout: TimeAmount
    private var readingBody = false
    /// Requests whose head was read and whose response has not been written to its end.
    private var requestsOpen = 0
    private var deadline: Scheduled<Void>?
    private var headDeadline: Scheduled<Void>?
    private var idleDeadline: Scheduled<Void>?
    /// A part was passed on since the last read completed.
    private var partRead = false
    /// The response being written was announced with `Connection: close`.
    private var closeAfterResponse = false
    /// This side closed the connection: reads go on until the client's TLS close_notify arrives.
    private var closing = false

    init(timeout: TimeAmount, headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.timeout = timeout
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
    }

    /// The peer listener's bounds: the body within `requestTimeoutSeconds` (the router answers 503
    /// to a part arriving later; a body still incomplete a second after that has its connection
    /// closed), the head within `headerTimeoutSeconds`, idle for at most `requestTimeoutSeconds`.
    convenience init(limits: NodeConfiguration.Limits) {
        let request = TimeAmount(limits.timeouts.request)
        self.init(
            timeout: request + .seconds(1),
            headerTimeout: TimeAmount(limits.timeouts.header),
            idleTimeout: request
        )
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armIdleDeadline(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleDeadline(context)
        context.fireChannelActive()
    }

    private func armIdleDeadline(_ context: ChannelHandlerContext) {
        idleDeadline?.cancel()
        idleDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) {
            self.close(context: context, mode: .all, promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if closing {
            // Bytes still arriving (a trickled request) before the close_notify: read on.
            context.fireChannelReadComplete()
            if context.channel.isActive { context.read() }
            return
        }
        if !partRead && !readingBody && headDeadline == nil {
            headDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: headerTimeout) {
                self.close(context: context, mode: .all, promise: nil)
            }
        }
        partRead = false
        context.fireChannelReadComplete()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partRead = true
        switch unwrapInboundIn(data) {
        case .head:
            requestsOpen += 1
            idleDeadline?.cancel()
            idleDeadline = nil
            readingBody = true
            headDeadline?.cancel()
            headDeadline = nil
            deadline?.cancel()
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                self.close(context: context, mode: .all, promise: nil)
            }
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
        let part = unwrapOutboundIn(data)
        if case .head(var response) = part, readingBody {
            // An answer before the whole body was read: the connection closes after it (even if
            // the body completes meanwhile). Say so (RFC 9112 §9.6), so that the client does not
            // send its next request on it.
            closeAfterResponse = true
            response.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(response)), promise: promise)
            return
        }
        guard case .end = part else {
            context.write(data, promise: promise)
            return
        }
        requestsOpen = max(0, requestsOpen - 1)
        guard readingBody || closeAfterResponse else {
            if requestsOpen == 0 { armIdleDeadline(context) }
            context.write(data, promise: promise)
            return
        }
        context.writeAndFlush(data, promise: promise)
        close(context: context, mode: .all, promise: nil)
    }

    /// Closing, the server sends its TLS close_notify and waits for the client's before the connection
    /// ends. Two things keep that wait from ending at once, so that a closed connection (and a
    /// stopping daemon) would be held for NIOSSL's 5 s shutdown timeout: reads are made on demand here
    /// (NIOAsyncChannel) and none is asked for once the connection is closing, and with remote
    /// half-closure allowed (Hummingbird's default) NIOSSL takes the client's close_notify for a
    /// half-close instead of the end of its own shutdown. So closing turns half-closure off and reads
    /// until the connection ends (this handler's own closes, on a deadline, come here too).
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, context.channel.isActive else {
            context.close(mode: mode, promise: promise)
            return
        }
        try? context.channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: false)
        closing = true
        context.close(mode: mode, promise: promise)
        context.read()
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
        idleDeadline?.cancel()
        idleDeadline = nil
    }
}

@available(*, unavailable)
extension RequestDeadlineHandler: Sendable {}
