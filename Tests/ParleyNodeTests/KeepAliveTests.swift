import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ParleyCrypto
@testable import ParleyNode
import ParleyProtocol
import Synchronization
import Testing
import ParleyTestSupport

/// SPEC.md §12.4 "Kept-alive connections": a receiver may close an idle connection just as the
/// sender writes its next request there, and that request gets no answer. The delivery client
/// must send it again at once on a new connection rather than fail the attempt (which would cost
/// a backoff).
@Suite struct KeepAliveTests {
    @Test func aRequestOnAConnectionClosedWithoutAnAnswerIsSentAgainOnANewOne() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let server = try await ClosingServer.start(
            chain: pki.path("participants/RU-NRRC/tls-chain.pem"),
            key: pki.path("participants/RU-NRRC/tls.key")
        )
        let usConfiguration = try pki.nodeConfiguration("US-NRRC", port: 0, peers: [:], directory: directory)
        let trust = TrustStoreReference(
            try TrustStore.load(
                anchorsPath: usConfiguration.transportTrust.anchors,
                crlPaths: usConfiguration.transportTrust.crls
            )
        )
        let client = try PeerClient(
            tls: try DeliveryService.tlsClientConfiguration(usConfiguration),
            trust: trust,
            logger: testLogger("test.client")
        )
        let endpoint = try PeerClient.Endpoint(
            url: URL(string: "https://127.0.0.1:\(server.port)")!,
            participant: try ParticipantID("RU-NRRC")
        )
        for request in 1...3 {
            let response = try await client.post(
                endpoint,
                path: "/v1/messages",
                headers: [],
                body: ByteBuffer(string: "request \(request)"),
                timeout: .seconds(10),
                maximumResponseBytes: 1 << 16
            )
            #expect(response.status == 200)
            #expect(String(buffer: response.body) == "request \(request)", "each answer is for its own request")
        }
        // Requests 2 and 3 were each written first on the kept-alive connection, which the server
        // closed unanswered, then sent again on a new one.
        #expect(server.connections.withLock { $0 } == 3)
        #expect(server.unanswered.withLock { $0 } == 2)
        await client.shutdown()
        await server.stop()
    }
}

/// Answers the first request on each connection (echoing its body, keeping the connection open)
/// and closes the connection on the second without answering it.
private struct ClosingServer {
    let channel: any Channel
    let port: Int
    let connections: Arc<Int>
    let unanswered: Arc<Int>
    let children: Arc<[any Channel]>

    final class Arc<Value: Sendable>: Sendable {
        let mutex: Mutex<Value>
        init(_ value: Value) { mutex = Mutex(value) }
        func withLock<R>(_ body: (inout sending Value) -> R) -> R { mutex.withLock { body(&$0) } }
    }

    static func start(chain: String, key: String) async throws -> ClosingServer {
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        )
        let context = try NIOSSLContext(configuration: tls)
        let connections = Arc(0)
        let unanswered = Arc(0)
        let children = Arc<[any Channel]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                connections.withLock { $0 += 1 }
                children.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(unanswered: unanswered))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ClosingServer(
            channel: channel,
            port: try #require(channel.localAddress?.port),
            connections: connections,
            unanswered: unanswered,
            children: children
        )
    }

    /// Closes the listener and every connection it accepted.
    func stop() async {
        try? await channel.close()
        for child in children.withLock({ $0 }) { try? await child.close() }
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let unanswered: Arc<Int>
        var requests = 0
        var body = ByteBuffer()

        init(unanswered: Arc<Int>) { self.unanswered = unanswered }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head:
                requests += 1
                body.clear()
            case .body(var part):
                body.writeBuffer(&part)
            case .end:
                guard requests == 1 else {
                    unanswered.withLock { $0 += 1 }
                    context.close(promise: nil)
                    return
                }
                var head = HTTPResponseHead(version: .http1_1, status: .ok)
                head.headers.add(name: "Content-Length", value: "\(body.readableBytes)")
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
