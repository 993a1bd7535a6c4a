import Foundation
import ParleyProtocol

extension NodeConfiguration {
    /// A node for `participant` of a test PKI (the layout `parley pki test` and Certs/make-test-pki.sh
    /// write: `participants/ID/signing.key`, `signing-chain.pem`, `tls.key`, `tls-chain.pem`,
    /// `trust/anchors.pem`, `trust/crls.pem`), on 127.0.0.1:`port` (0: a free port, read back from
    /// `Node.peerPort`), with its data directory (created) and admin socket where given.
    ///
    /// It retries after 0.2 s up to 1 s, because the demo's and the tests' nodes start and stop within
    /// seconds; every other setting is parleyd's default.
    public static func loopback(
        _ participant: ParticipantID,
        testPKI: URL,
        port: Int = 0,
        dataDirectory: String,
        adminSocket: String,
        peers: [Peer] = [],
        requestTimeout: Double = 10
    ) throws -> NodeConfiguration {
        let own = testPKI.appendingPathComponent("participants/\(participant)")
        let trust = testPKI.appendingPathComponent("trust")
        var configuration = NodeConfiguration(
            participant: participant,
            signingKeyPath: own.appendingPathComponent("signing.key").path,
            signingChainPath: own.appendingPathComponent("signing-chain.pem").path,
            tlsKeyPath: own.appendingPathComponent("tls.key").path,
            tlsChainPath: own.appendingPathComponent("tls-chain.pem").path,
            signingTrust: .init(
                anchors: trust.appendingPathComponent("anchors.pem").path,
                crls: [trust.appendingPathComponent("crls.pem").path]
            ),
            dataDirectory: dataDirectory
        )
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        configuration.listenHost = "127.0.0.1"
        configuration.listenPort = port
        configuration.adminSocketPath = adminSocket
        configuration.peers = peers
        configuration.retry.initialInterval = 0.2
        configuration.retry.maximumInterval = 1
        configuration.limits.requestTimeout = requestTimeout
        return configuration
    }
}

extension NodeConfiguration.Peer {
    /// A peer listening on 127.0.0.1:`port`.
    public static func loopback(_ id: ParticipantID, port: Int, via hub: ParticipantID? = nil) -> Self {
        Self(id: id, url: URL(string: "https://127.0.0.1:\(port)")!, via: hub)
    }
}
