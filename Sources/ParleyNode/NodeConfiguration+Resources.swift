import Foundation
import ParleyCrypto
import ParleyProtocol

extension NodeConfiguration {
    /// Checks that the files named by the configuration are usable: keys load (and have no group or
    /// other permissions), chains and trust anchors parse, CRLs load, the data directory is writable.
    /// Returns one problem per key.
    public func checkResources() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        do {
            let identity = try SigningIdentity.load(keyPath: signingKeyPath, chainPath: signingChainPath)
            if identity.participantID != participant {
                problems.append(
                    .init(
                        key: "signing.chain",
                        "certificate binds participant \(identity.participantID), but participant is \(participant)"
                    )
                )
            }
            if let anchors = try? Certificate.load(path: signingTrust.anchors),
                let root = identity.chain.first(where: anchors.contains)
            {
                problems.append(
                    .init(
                        key: "signing.chain",
                        "\(signingChainPath) includes the trust anchor '\(root.subject)': leave the root CA out of the chain file (SPEC.md §5.2); receivers reject messages carrying it as untrusted-certificate"
                    )
                )
            }
        } catch {
            problems.append(
                .init(key: "signing.key", "cannot use \(signingKeyPath) with \(signingChainPath): \(error)")
            )
        }
        do {
            _ = try PrivateKey.load(path: tlsKeyPath)
            let chain = try Certificate.load(path: tlsChainPath)
            if chain.first?.participantID != participant.rawValue {
                problems.append(
                    .init(
                        key: "tls.chain",
                        "the first certificate of \(tlsChainPath) binds \(chain.first?.participantID ?? "no participant"), but participant is \(participant)"
                    )
                )
            }
        } catch {
            problems.append(.init(key: "tls.key", "cannot use \(tlsKeyPath) with \(tlsChainPath): \(error)"))
        }
        // (Without transportTrust keys the transport trust is the signing trust: checked once.)
        for (key, trust) in [("trust", signingTrust), ("transportTrust", transportTrust)]
        where key == "trust" || transportTrust != signingTrust {
            do {
                _ = try TrustStore.load(
                    anchorsPath: trust.anchors,
                    crlPaths: trust.crls,
                    maximumClockSkew: maximumClockSkew.seconds
                )
            } catch {
                if (try? Certificate.load(path: trust.anchors)) == nil {
                    problems.append(
                        .init(key: "\(key).anchors", "cannot load the trust anchors \(trust.anchors): \(error)")
                    )
                } else {
                    problems.append(
                        .init(
                            key: "\(key).crls",
                            "cannot load the CRLs \(trust.crls.joined(separator: ", ")) (for the anchors of \(trust.anchors)): \(error)"
                        )
                    )
                }
            }
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: dataDirectory, isDirectory: &isDirectory) || !isDirectory.boolValue {
            problems.append(.init(key: "dataDirectory", "\(dataDirectory) does not exist or is not a directory"))
        } else if !FileManager.default.isWritableFile(atPath: dataDirectory) {
            problems.append(.init(key: "dataDirectory", "\(dataDirectory) is not writable by this user"))
        }
        let adminDirectory = (adminSocketPath as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: adminDirectory) {
            problems.append(.init(key: "admin.socket", "directory \(adminDirectory) does not exist"))
        } else if let problem = AdminSocket.checkPath(adminSocketPath)
            ?? AdminSocket.checkPath(AdminSocket.temporaryPath(adminSocketPath))
        {
            problems.append(.init(key: "admin.socket", problem))
        } else if AdminSocket.temporaryPath(adminSocketPath).utf8.count > 107 {
            problems.append(
                .init(key: "admin.socket", "\(adminSocketPath) is too long for a Unix socket (at most 106 bytes)")
            )
        }
        if let adminGroup, AdminSocket.groupID(adminGroup) == nil {
            problems.append(
                .init(
                    key: "admin.group",
                    "there is no group \(adminGroup) on this system; create it (e.g. with Deploy/sysusers.d) or remove the key"
                )
            )
        }
        return problems
    }
}
