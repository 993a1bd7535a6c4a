import Foundation
import NIOCore
@testable import ParleyNode
import Testing

/// Transport failures and peers' problems as the operator reads them (log lines, `status` LAST ERROR).
@Suite struct TransportErrorTextTests {
    struct Described: Error, CustomStringConvertible { let description: String }

    @Test func commonFailuresSayWhatToCheck() {
        #expect(
            TransportErrorText.explain(IOError(errnoCode: ECONNREFUSED, reason: "connect")).hasPrefix(
                "connection refused: nothing listens"
            )
        )
        #expect(
            TransportErrorText.explain(ChannelError.connectTimeout(.seconds(10))).hasPrefix("no connection within 10 s")
        )
        let refused = Described(
            description:
                "handshakeFailed(NIOSSL.BoringSSLError.sslError([Error: 268436502 error:10000416:SSL routines:OPENSSL_internal:SSLV3_ALERT_CERTIFICATE_UNKNOWN at tls_record.cc:491]))"
        )
        #expect(
            TransportErrorText.explain(refused).hasPrefix(
                "TLS handshake failed: the peer refused this node's TLS certificate (alert: certificate unknown)"
            )
        )
        let distrusted = Described(
            description:
                "handshakeFailed(NIOSSL.BoringSSLError.sslError([Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at handshake.cc:298]))"
        )
        #expect(TransportErrorText.explain(distrusted).contains("this node refused the server's certificate"))
        #expect(TransportErrorText.explain(Described(description: "something new")) == "something new")
    }

    @Test func aProblemAnswerIsReadForItsNameAndDetail() {
        let problem =
            #"{"type":"urn:parley:problem:unavailable","title":"Unavailable","status":502,"detail":"the hub could not reach US-NRRC: connection refused"}"#
        #expect(
            PeerClient.problemText(ByteBuffer(string: problem))
                == "unavailable: the hub could not reach US-NRRC: connection refused"
        )
        #expect(PeerClient.problemText(ByteBuffer(string: "plain text")) == "plain text")
    }
}
