import Foundation
import NIOSSL
import ParleyCodec
import ParleyCrypto
@testable import ParleyNode
import ParleyProtocol
import Testing
import ParleyTestSupport

/// Which changed keys a reload applies at once and which it reports as needing a restart.
@Suite struct ReloadMergeTests {
    @Test func liveKeysApplyAndTheOthersAreReported() throws {
        let pki = try TestPKI.shared()
        let running = try pki.nodeConfiguration("RU-NRRC", port: 0, peers: [:], directory: try temporaryDirectory())
        var new = running
        new.gapWarningSeconds = 5
        new.certificateExpiryWarningDays = 10
        new.limits.deliveryWindow = 4
        new.limits.requestTimeout = 7
        new.clockSkew = 60
        new.listenPort = 9443
        let (merged, applied, restart) = running.merging(new)
        #expect(
            applied.sorted() == [
                "certificateExpiryWarningDays", "clockSkewSeconds", "gapWarningSeconds", "limits.deliveryWindow",
                "limits.requestTimeoutSeconds",
            ]
        )
        #expect(restart.sorted() == ["listen.port"])
        #expect(merged.gapWarningSeconds == 5 && merged.certificateExpiryWarningDays == 10 && merged.clockSkew == 60)
        #expect(merged.limits == new.limits)
        #expect(merged.listenPort == running.listenPort)
    }
}

/// `clockSkewSeconds` (SPEC.md §9.1's δ) is applied by a reload: to the next message's creation
/// time check, and to the trust stores' certificate and CRL time allowances.
@Suite struct ClockSkewReloadTests {
    @Test func aReloadedClockSkewAppliesToTheNextMessage() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        let file = try ConfigurationFile(pki, "RU-NRRC", port: port, directory: directory)
        func write(skew: Int) throws { try file.write([#""clockSkewSeconds": \#(skew)"#]) }
        try write(skew: 300)
        let ru = try await RunningNode(try await file.load(), configurationFile: file.path)
        let identity = try SigningIdentity.load(
            keyPath: pki.path("participants/US-NRRC/signing.key"),
            chainPath: pki.path("participants/US-NRRC/signing-chain.pem")
        )
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.path("trust/anchors.pem")))
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(pki.path("participants/US-NRRC/tls-chain.pem")).map {
            .certificate($0)
        }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: pki.path("participants/US-NRRC/tls.key"), format: .pem))
        try await withHTTPClient(configuration: .init(tlsConfiguration: tls)) { client in
            /// The status of RU-NRRC's receipt for message `sequence`, created `ahead` seconds from now.
            func send(_ sequence: UInt64, createdAhead ahead: Int64) async throws -> Receipt.Status {
                let bytes = try identity.sign(
                    Envelope(
                        id: .generate(),
                        sender: try ParticipantID("US-NRRC"),
                        recipients: [Recipient(participant: try ParticipantID("RU-NRRC"), sequence: sequence)],
                        created: UTCTime(secondsSince1970: UTCTime.now.secondsSince1970 + ahead),
                        body: preLaunchBody()
                    )
                )
                let (status, body, _) = try await post(
                    client,
                    "https://127.0.0.1:\(port)/v1/messages",
                    bytes,
                    contentType: PeerServer.coseMediaType
                )
                #expect(status == 200)
                return try ru.node.verifier.verifyReceipt(body, at: .now).receipt.status
            }
            #expect(try await send(1, createdAhead: 200) == .accepted)

            try write(skew: 60)
            let report = await ru.node.reload(environment: [:])
            #expect(report.applied == ["clockSkewSeconds"], "\(report.lines)")
            #expect(report.restartRequired.isEmpty && report.configurationProblems.isEmpty, "\(report.lines)")
            #expect(ru.node.verifier.maximumClockSkew == 60)
            #expect(
                ru.node.signingTrust.current.maximumClockSkew == 60
                    && ru.node.transportTrust.current.maximumClockSkew == 60
            )

            guard case .rejected(let code, let reason) = try await send(2, createdAhead: 200) else {
                Issue.record("a message created 200 s ahead is accepted after the skew was reloaded as 60 s")
                return
            }
            #expect(code == .clockSkew, "\(reason)")
            #expect(reason.contains("more than 60 s after the verification time"), "\(reason)")
            #expect(try await send(3, createdAhead: 30) == .accepted)
        }
        await ru.stop()
    }
}
