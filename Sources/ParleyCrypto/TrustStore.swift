import Foundation
import Synchronization
internal import COpenSSL

/// Trust anchors and CRLs, and chain verification against them with OpenSSL's `X509_verify_cert`.
///
/// Verification is strict and fails closed: every certificate in the path, the anchor included, is
/// checked against its issuer's CRL (`X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL`), so a CA
/// without an installed CRL, or with an expired one, makes every chain through it fail; RFC 5280 rules
/// are applied strictly (`X509_V_FLAG_X509_STRICT`); at most 8 intermediate CAs (`set_depth(8)`).
/// Several anchors may be installed at once (root rollover).
///
/// A trust store holds any number of CRLs per CA, a history (SPEC.md §8.4). A chain is checked at
/// time T against the CRL of each CA that was authoritative at T, the newest of those current at T,
/// in an `X509_STORE` holding only those (OpenSSL would otherwise use whichever CRL it finds first).
/// A revocation dated after T does not count against T; a compromise (keyCompromise, cACompromise)
/// listed on any CRL of the history counts from its invalidityDate or revocationDate, whichever is
/// earlier, even when the CRL that lists it was issued after T.
///
/// Clock skew: a certificate is accepted if it became valid at most `maximumClockSkew` after `time`,
/// or expired less than `maximumClockSkew` before it; a CRL whose thisUpdate is up to
/// `maximumClockSkew` after `time` is accepted too. A CRL's nextUpdate gets no allowance: an
/// expired CRL is an error. (Implemented in OpenSSL's verify callback, which overrides exactly those
/// three time errors when they are within the allowance.)
///
/// Results are cached: a chain verified before (same certificates, same purpose, this trust store)
/// is accepted again without OpenSSL while `time` lies in the window in which a fresh verification
/// gives the same answer (all path certificates and their CRLs current). A new `TrustStore` (for
/// example after a CRL refresh) starts with an empty cache.
public struct TrustStore: Sendable {
    public let anchors: [Certificate]
    /// Per CA, the newest CRL among those given (highest cRLNumber): what the node reports and
    /// warns about.
    public let crls: [CertificateRevocationList]
    /// Every complete CRL given, each once: the validation data for verification at past times.
    public var crlHistory: [CertificateRevocationList] { history.all }
    /// Seconds of clock difference tolerated on certificate validity (see above).
    public let maximumClockSkew: TimeInterval

    /// OpenSSL's verification depth: the number of intermediate CAs allowed below the anchor.
    public static let maximumDepth = 8
    /// The most certificates `verify` accepts as input: leaf + 8 intermediates + the anchor.
    public static let maximumChainLength = maximumDepth + 2

    let history: CRLHistory
    let storage: Storage

    /// Throws if there is no anchor, or an anchor is not a CA certificate.
    public init(
        anchors: [Certificate],
        crls: [CertificateRevocationList],
        maximumClockSkew: TimeInterval = 300,
        cacheCapacity: Int = 1_024
    ) throws {
        guard !anchors.isEmpty else {
            throw CryptoError(.invalidCertificate, "a trust store needs at least one trust anchor")
        }
        for anchor in anchors where !anchor.isCA {
            throw CryptoError(
                .invalidCertificate,
                "trust anchor '\(anchor.subject)' is not a CA certificate (basicConstraints CA:TRUE)"
            )
        }
        guard maximumClockSkew >= 0, maximumClockSkew.isFinite else {
            throw CryptoError(.invalidArgument, "maximumClockSkew must be a finite number of seconds ≥ 0")
        }
        let history = CRLHistory(crls)
        self.anchors = anchors
        self.history = history
        self.crls = history.newest
        self.maximumClockSkew = maximumClockSkew
        self.storage = Storage(anchors: anchors, cacheCapacity: cacheCapacity)
        // Fail on a CRL OpenSSL cannot take now, not at the first verification.
        _ = try storage.store(for: history.selection(at: Date(), skew: maximumClockSkew), history: history)
    }

    /// Anchors from one file (PEM bundle or DER) and CRLs from any number of files.
    public static func load(
        anchorsPath: String,
        crlPaths: [String],
        maximumClockSkew: TimeInterval = 300
    ) throws -> TrustStore {
        let anchors = try Certificate.load(path: anchorsPath)
        let crls = try crlPaths.flatMap { try CertificateRevocationList.load(path: $0) }
        return try TrustStore(anchors: anchors, crls: crls, maximumClockSkew: maximumClockSkew)
    }

    /// Verifies `chain` (leaf first, then intermediates; the anchor may be included or not) at `time`
    /// for `purpose`, and returns the path and the participant id. Throws `ChainVerificationError`.
    public func verify(
        chain: [Certificate],
        at time: Date,
        purpose: CertificatePurpose = .messageSigning
    ) throws -> VerifiedChain {
        // OpenSSL compares whole seconds; so does the cache.
        let time = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
        guard let leaf = chain.first else {
            throw ChainVerificationError(
                check: .other,
                certificateIndex: 0,
                certificateSubject: "",
                reason: "the chain holds no certificate"
            )
        }
        guard chain.count <= Self.maximumChainLength else {
            throw ChainVerificationError(
                check: .pathTooLong,
                certificateIndex: Self.maximumChainLength,
                certificateSubject: leaf.subject,
                reason: "the chain holds \(chain.count) certificates; at most \(Self.maximumChainLength) are accepted"
            )
        }
        let key = VerificationCache.Key(chain: chain, purpose: purpose)
        if let cached = storage.cache.lookup(key, at: time) {
            return cached  // only chains that passed every check below are cached
        }
        if purpose == .messageSigning, let index = chain.firstIndex(where: { anchors.contains($0) }) {
            throw ChainVerificationError(
                check: .untrustedIssuer,
                certificateIndex: index,
                certificateSubject: chain[index].subject,
                reason:
                    "x5chain includes the trust anchor '\(chain[index].subject)'; the signer must leave the root CA out (SPEC.md §5.2)"
            )
        }
        let (verified, window) = try verifyWithOpenSSL(chain: chain, leaf: leaf, at: time, purpose: purpose)
        if let window, window.contains(time) {
            storage.cache.insert(key, verified, validDuring: window)
        }
        return verified
    }

    /// As `verify(chain:at:purpose:)` for a chain of DER certificates (a COSE x5chain). A chain seen
    /// before is answered from the cache without parsing the certificates again (only their SHA-256
    /// is computed); a certificate that cannot be parsed is reported as check `.other`.
    public func verify(
        chainDER: [[UInt8]],
        at time: Date,
        purpose: CertificatePurpose = .messageSigning
    ) throws -> VerifiedChain {
        guard !chainDER.isEmpty, chainDER.count <= Self.maximumChainLength else {
            throw ChainVerificationError(
                check: chainDER.isEmpty ? .other : .pathTooLong,
                certificateIndex: 0,
                certificateSubject: "",
                reason: "the chain holds \(chainDER.count) certificates; 1 to \(Self.maximumChainLength) are accepted"
            )
        }
        var fingerprints: [UInt8] = []
        fingerprints.reserveCapacity(32 * chainDER.count)
        for (index, der) in chainDER.enumerated() {
            guard der.count <= Certificate.maximumDERLength else {
                throw ChainVerificationError(
                    check: .other,
                    certificateIndex: index,
                    certificateSubject: "",
                    reason: "certificate #\(index) has \(der.count) bytes; the limit is \(Certificate.maximumDERLength)"
                )
            }
            fingerprints.append(contentsOf: Digest.sha256(der))
        }
        let flooredTime = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
        let key = VerificationCache.Key(fingerprints: fingerprints, purpose: purpose)
        if let cached = storage.cache.lookup(key, at: flooredTime) {
            return cached
        }
        var chain: [Certificate] = []
        for (index, der) in chainDER.enumerated() {
            do {
                chain.append(try Certificate(derEncoded: der))
            } catch let error as CryptoError {
                throw ChainVerificationError(
                    check: .other,
                    certificateIndex: index,
                    certificateSubject: "",
                    reason: "certificate #\(index) cannot be used: \(error.reason)",
                    openSSLErrors: error.openSSLErrors
                )
            }
        }
        return try verify(chain: chain, at: time, purpose: purpose)
    }

    /// Drops every cached verification result (tests and benchmarks use it to measure uncached cost).
    public func clearCache() {
        storage.cache.removeAll()
    }

    // MARK: - OpenSSL verification

    private func verifyWithOpenSSL(
        chain: [Certificate],
        leaf: Certificate,
        at time: Date,
        purpose: CertificatePurpose
    ) throws -> (VerifiedChain, Range<Date>?) {
        OpenSSLErrorQueue.clear()
        guard let context = X509_STORE_CTX_new() else {
            throw ChainVerificationError(
                check: .other,
                certificateIndex: 0,
                certificateSubject: leaf.subject,
                reason: "cannot allocate X509_STORE_CTX",
                openSSLErrors: OpenSSLErrorQueue.drain()
            )
        }
        defer { X509_STORE_CTX_free(context) }
        guard let untrusted = parley_sk_X509_new_null() else {
            throw ChainVerificationError(
                check: .other,
                certificateIndex: 0,
                certificateSubject: leaf.subject,
                reason: "cannot allocate a certificate stack",
                openSSLErrors: OpenSSLErrorQueue.drain()
            )
        }
        defer { parley_sk_X509_free(untrusted) }
        for certificate in chain.dropFirst() where parley_sk_X509_push(untrusted, certificate.object.pointer) <= 0 {
            throw ChainVerificationError(
                check: .other,
                certificateIndex: 0,
                certificateSubject: leaf.subject,
                reason: "cannot build the untrusted certificate stack",
                openSSLErrors: OpenSSLErrorQueue.drain()
            )
        }

        let selection = history.selection(at: time, skew: maximumClockSkew)
        let selected = selection.map { history.all[$0] }
        let store = try storage.store(for: selection, history: history)
        var settings = VerificationSettings(
            time: time_t(time.timeIntervalSince1970.rounded(.down)),
            skew: time_t(maximumClockSkew.rounded(.down))
        )
        let (status, failure): (Int32, ChainVerificationError?) = withExtendedLifetime(chain) {
            withUnsafeMutablePointer(to: &settings) { settingsPointer in
                guard X509_STORE_CTX_init(context, store.pointer, leaf.object.pointer, untrusted) == 1 else {
                    return (
                        0,
                        ChainVerificationError(
                            check: .other,
                            certificateIndex: 0,
                            certificateSubject: leaf.subject,
                            reason: "X509_STORE_CTX_init failed",
                            openSSLErrors: OpenSSLErrorQueue.drain()
                        )
                    )
                }
                let parameters = X509_STORE_CTX_get0_param(context)
                X509_VERIFY_PARAM_set_flags(
                    parameters,
                    UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL | X509_V_FLAG_X509_STRICT)
                )
                X509_VERIFY_PARAM_set_time(parameters, settingsPointer.pointee.time)
                X509_VERIFY_PARAM_set_depth(parameters, Int32(Self.maximumDepth))
                _ = parley_X509_STORE_CTX_set_app_data(context, settingsPointer)
                X509_STORE_CTX_set_verify_cb(context, collectingVerifyCallback)
                return (X509_verify_cert(context), nil)
            }
        }
        if let failure { throw failure }
        // SPEC.md §8.5: the first failing stage decides, whatever order OpenSSL checked in.
        var failures = settings.failures.map { (stage: FailureStage($0.code), failure: $0) }
        func first(_ stage: FailureStage) -> RecordedFailure? { failures.first { $0.stage == stage }?.failure }
        if let failure = first(.path) {
            throw translate(failure, context: context, chain: chain, leaf: leaf, at: time, crls: selected)
        }
        guard status == 1, let built = X509_STORE_CTX_get0_chain(context) else {
            throw ChainVerificationError(
                check: .other,
                certificateIndex: 0,
                certificateSubject: leaf.subject,
                reason: "OpenSSL could not check the chain (error \(X509_STORE_CTX_get_error(context)))",
                openSSLErrors: OpenSSLErrorQueue.drain()
            )
        }
        var path: [Certificate] = []
        for index in 0..<parley_sk_X509_num(built) {
            guard let pointer = parley_sk_X509_value(built, index) else { continue }
            if let known = chain.first(where: { $0.object.pointer == pointer }) ?? storage.anchorsByPointer[pointer] {
                path.append(known)
            } else {
                path.append(try Certificate(copying: pointer))
            }
        }
        if purpose == .messageSigning {
            try checkPathIsChain(path, chain: chain)
        }
        let participantID = try checkProfile(leaf: leaf, purpose: purpose)
        // SPEC.md §8.4: an entry takes effect at its date, not when the CRL listing it was issued.
        failures.removeAll { stage, failure in
            guard stage == .revocation, failure.depth + 1 < path.count else { return false }
            let entry = selected.lazy.compactMap { $0.entry(for: path[failure.depth]) }.first
            return entry.map { $0.effectiveDate > time } ?? false
        }
        for stage in [FailureStage.validity, .revocationData, .revocation] {
            if let failure = first(stage) {
                throw translate(failure, context: context, chain: chain, leaf: leaf, at: time, crls: selected)
            }
        }
        try checkCompromise(path: path, at: time)
        OpenSSLErrorQueue.clear()
        let verified = VerifiedChain(leaf: leaf, path: path, participantID: participantID, purpose: purpose)
        return (verified, validityWindow(of: path, selection: selection, at: time))
    }

    /// SPEC.md §8.4: a compromise listed on any CRL of the issuer that the store holds (its signature
    /// checked with the issuer's key) counts from its effective date, even when the CRL was issued
    /// after `time`; the key may have been in other hands since then.
    private func checkCompromise(path: [Certificate], at time: Date) throws {
        for index in path.indices.dropLast() {
            let certificate = path[index]
            let issuer = path[index + 1]
            for (crlIndex, entry) in history.compromises[certificate.serialNumberHex] ?? []
            where entry.effectiveDate <= time {
                let crl = history.all[crlIndex]
                guard
                    X509_NAME_cmp(X509_CRL_get_issuer(crl.object.pointer), X509_get_subject_name(issuer.object.pointer))
                        == 0,
                    storage.isSigned(crl: crlIndex, of: history, by: issuer)
                else { continue }
                let since =
                    entry.invalidityDate.map { "its invalidityDate \($0.formatted(.iso8601))" }
                    ?? "its revocation at \(entry.revocationDate.formatted(.iso8601))"
                throw ChainVerificationError(
                    check: .revoked,
                    certificateIndex: index,
                    certificateSubject: certificate.subject,
                    reason: "the certificate was revoked for \(entry.reason) on the CRL of '\(crl.issuer)' issued "
                        + "\(crl.thisUpdate.formatted(.iso8601)); its key is not trusted from \(since), "
                        + "which is not after the verification time \(time.formatted(.iso8601))"
                )
            }
        }
    }

    /// SPEC.md §8.5 step 2: the path is built only from x5chain, in its order. OpenSSL builds its own
    /// path and ignores untrusted certificates it does not need, so a chain with repeated, looping or
    /// extra certificates would otherwise pass: require the path to be exactly x5chain plus one anchor.
    private func checkPathIsChain(_ path: [Certificate], chain: [Certificate]) throws {
        let mismatch = chain.indices.first { $0 >= path.count - 1 || path[$0].derEncoded != chain[$0].derEncoded }
        guard path.count == chain.count + 1, mismatch == nil else {
            let index = mismatch ?? chain.count - 1
            throw ChainVerificationError(
                check: .untrustedIssuer,
                certificateIndex: index,
                certificateSubject: chain[index].subject,
                reason:
                    "x5chain is not a certification path: each certificate must be issued by the next one and the last by a trust anchor, "
                    + "with no certificate repeated or left over (\(chain.count) given, \(path.count - 1) used)"
            )
        }
    }

    /// The times at which a fresh verification of `path` would also succeed: every certificate valid
    /// (with the skew allowance) and every CRL of a CA in the path current. OpenSSL's rules: valid
    /// from notBefore/thisUpdate inclusive until notAfter/nextUpdate exclusive. Nil if empty.
    private func validityWindow(of path: [Certificate], selection: [Int], at time: Date) -> Range<Date>? {
        var start = Date.distantPast
        var end = Date.distantFuture
        for certificate in path {
            start = max(start, certificate.notValidBefore.addingTimeInterval(-maximumClockSkew))
            end = min(end, certificate.notValidAfter.addingTimeInterval(maximumClockSkew))
            for (_, entry) in history.compromises[certificate.serialNumberHex] ?? [] where entry.effectiveDate > time {
                end = min(end, entry.effectiveDate)
            }
        }
        let serials = Set(path.map(\.serialNumberHex))
        for issuer in path.dropFirst() {
            let subject = X509_get_subject_name(issuer.object.pointer)
            for index in selection
            where X509_NAME_cmp(X509_CRL_get_issuer(history.all[index].object.pointer), subject) == 0 {
                let window = history.window(of: index, at: time, skew: maximumClockSkew, serials: serials)
                start = max(start, window.lowerBound)
                end = min(end, window.upperBound)
            }
        }
        return start < end ? start..<end : nil
    }

    /// Parley's leaf profile for `purpose`; returns the participant id.
    private func checkProfile(leaf: Certificate, purpose: CertificatePurpose) throws -> String {
        func failure(_ check: ChainVerificationError.Check, _ reason: String) -> ChainVerificationError {
            ChainVerificationError(check: check, certificateIndex: 0, certificateSubject: leaf.subject, reason: reason)
        }
        let x509 = leaf.object.pointer
        let flags = X509_get_extension_flags(x509)
        guard flags & UInt32(EXFLAG_BCONS) != 0, flags & UInt32(EXFLAG_CA) == 0 else {
            throw failure(.basicConstraints, "a \(purpose.rawValue) certificate must have basicConstraints CA:FALSE")
        }
        let hasKeyUsage = flags & UInt32(EXFLAG_KUSAGE) != 0
        let keyUsage = X509_get_key_usage(x509)
        let hasExtendedKeyUsage = flags & UInt32(EXFLAG_XKUSAGE) != 0
        let extendedKeyUsage = X509_get_extended_key_usage(x509)
        switch purpose {
        case .messageSigning:
            guard hasKeyUsage, keyUsage & UInt32(KU_DIGITAL_SIGNATURE) != 0 else {
                throw failure(.keyUsage, "a message-signing certificate needs keyUsage digitalSignature")
            }
            guard !hasExtendedKeyUsage else {
                let tls = extendedKeyUsage & UInt32(XKU_SSL_SERVER | XKU_SSL_CLIENT) != 0
                throw failure(
                    .keyUsage,
                    "a message-signing certificate carries no extendedKeyUsage; this one has "
                        + (tls ? "serverAuth/clientAuth (a TLS certificate?)" : "one")
                        + " — sign with the participant's signing certificate"
                )
            }
        case .transportTLS:
            guard !hasKeyUsage || keyUsage & UInt32(KU_DIGITAL_SIGNATURE) != 0 else {
                throw failure(.keyUsage, "a TLS certificate's keyUsage must include digitalSignature")
            }
            let both = UInt32(XKU_SSL_SERVER | XKU_SSL_CLIENT)
            guard hasExtendedKeyUsage, extendedKeyUsage & both == both else {
                throw failure(.keyUsage, "a TLS certificate needs extendedKeyUsage serverAuth and clientAuth")
            }
        }
        switch leaf.participantURIs.count {
        case 0:
            throw failure(.noParticipantID, "no subjectAltName URI \(Certificate.participantURIPrefix)<ID>")
        case 1:
            guard let id = leaf.participantID else {
                let uri = leaf.participantURIs[0]
                guard uri.utf8.starts(with: Certificate.participantURIPrefix.utf8) else {
                    throw failure(
                        .noParticipantID,
                        "participant URI '\(uri)' must begin with '\(Certificate.participantURIPrefix)' in lowercase (SPEC.md §8.1)"
                    )
                }
                throw failure(
                    .noParticipantID,
                    "participant id '\(leaf.participantIDs[0])' is malformed (1–64 characters of A–Z 0–9 -, first a letter or digit)"
                )
            }
            return id
        default:
            throw failure(
                .multipleParticipantIDs,
                "binds \(leaf.participantURIs.count) participant URIs (\(leaf.participantURIs.joined(separator: ", "))); exactly one is allowed"
            )
        }
    }

    /// An operator's account of one failure: which certificate, what was needed, at which time. The
    /// time may be one the caller chose (`--at`, an archive's receipt time), so nothing here blames
    /// the clock.
    private func translate(
        _ failure: RecordedFailure,
        context: OpaquePointer,
        chain: [Certificate],
        leaf: Certificate,
        at time: Date,
        crls: [CertificateRevocationList]
    ) -> ChainVerificationError {
        let code = failure.code
        let depth = failure.depth
        let openSSLErrors = OpenSSLErrorQueue.drain()
        let verdict = String(cString: X509_verify_cert_error_string(Int(code)))
        var certificate: Certificate? = depth < chain.count ? chain[depth] : nil
        if certificate == nil, let built = X509_STORE_CTX_get0_chain(context), depth < Int(parley_sk_X509_num(built)),
            let pointer = parley_sk_X509_value(built, Int32(depth))
        {
            certificate = storage.anchorsByPointer[pointer] ?? (try? Certificate(copying: pointer))
        }
        let subject = certificate?.subject ?? leaf.subject
        let issuer = certificate?.issuer ?? leaf.issuer
        let at = time.formatted(.iso8601)
        let allowance = "with the allowance of \(Int(maximumClockSkew)) s"
        let crl = crls.first { $0.issuer == issuer }
        let check: ChainVerificationError.Check
        let advice: String
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            check = .expired
            let notAfter = certificate.map { " at \($0.notValidAfter.formatted(.iso8601))" } ?? ""
            advice =
                "the certificate expired\(notAfter), before the verification time \(at) (\(allowance)); "
                + "the signer must use a current certificate"
        case X509_V_ERR_CERT_NOT_YET_VALID:
            check = .notYetValid
            let notBefore = certificate.map { " until \($0.notValidBefore.formatted(.iso8601))" } ?? ""
            advice = "the certificate is not valid\(notBefore), after the verification time \(at) (\(allowance))"
        case X509_V_ERR_CERT_REVOKED:
            check = .revoked
            advice = "the certificate is on the CRL of '\(issuer)' that is current at \(at)"
        case X509_V_ERR_UNABLE_TO_GET_CRL, X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
            check = .crlMissing
            advice = "no CRL from '\(issuer)' is installed; add it to the trust store's CRL files"
        case X509_V_ERR_CRL_HAS_EXPIRED:
            check = .crlExpired
            let nextUpdate = crl.map { " (nextUpdate \($0.nextUpdate.formatted(.iso8601)))" } ?? ""
            advice =
                "the CRL from '\(issuer)'\(nextUpdate) is not current at the verification time \(at); "
                + "install a CRL whose validity covers that time"
        case X509_V_ERR_CRL_NOT_YET_VALID:
            check = .crlNotYetValid
            let thisUpdate = crl.map { " (thisUpdate \($0.thisUpdate.formatted(.iso8601)))" } ?? ""
            advice = "the CRL from '\(issuer)'\(thisUpdate) was issued after the verification time \(at) (\(allowance))"
        case X509_V_ERR_CRL_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE,
            X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION, X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD,
            X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
            check = .crlInvalid
            advice =
                "the CRL from '\(issuer)' cannot be used (its signature or contents fail the checks); install a valid CRL"
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
            X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
            X509_V_ERR_CERT_UNTRUSTED, X509_V_ERR_CERT_REJECTED, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            check = .untrustedIssuer
            advice = "the chain does not lead to a configured trust anchor (issuer '\(issuer)')"
        case X509_V_ERR_CERT_CHAIN_TOO_LONG, X509_V_ERR_PATH_LENGTH_EXCEEDED:
            check = .pathTooLong
            advice = "the path is longer than allowed"
        case X509_V_ERR_KEYUSAGE_NO_CERTSIGN, X509_V_ERR_KEYUSAGE_NO_CRL_SIGN,
            X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE, X509_V_ERR_INVALID_PURPOSE:
            check = .keyUsage
            advice = "keyUsage/extendedKeyUsage does not allow this use"
        case X509_V_ERR_INVALID_CA, X509_V_ERR_INVALID_NON_CA:
            check = .basicConstraints
            advice = "basicConstraints does not allow this certificate in this position"
        case X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE,
            X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
            check = .badSignature
            advice = "a signature in the chain does not verify"
        default:
            check = .other
            advice = "the chain does not meet the certificate profile"
        }
        return ChainVerificationError(
            check: check,
            certificateIndex: depth,
            certificateSubject: subject,
            reason: "\(advice) (OpenSSL: \(verdict), error \(code) at depth \(depth))",
            openSSLVerifyError: Int(code),
            openSSLErrors: openSSLErrors
        )
    }
}

/// SPEC.md §8.5's order of checking: path faults (structure, signatures, constraints, profile,
/// length) first, then validity at the verification time, then the availability of current CRLs,
/// then revocation.
enum FailureStage: Equatable {
    case path, validity, revocationData, revocation

    init(_ code: Int32) {
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID:
            self = .validity
        case X509_V_ERR_UNABLE_TO_GET_CRL, X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER, X509_V_ERR_CRL_HAS_EXPIRED,
            X509_V_ERR_CRL_NOT_YET_VALID, X509_V_ERR_CRL_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE,
            X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION, X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD,
            X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
            self = .revocationData
        case X509_V_ERR_CERT_REVOKED:
            self = .revocation
        default:
            self = .path
        }
    }
}

extension TrustStore {
    /// The OpenSSL side of a trust store: one `X509_STORE` per set of CRLs in use (usually one;
    /// one per CRL period when verifying across a history), plus the result cache.
    final class Storage: Sendable {
        let anchors: [Certificate]
        nonisolated(unsafe) let anchorsByPointer: [OpaquePointer: Certificate]
        let cache: VerificationCache
        private let stores = Mutex<[[Int]: X509StoreObject]>([:])
        private let signatures = Mutex<[SignatureKey: Bool]>([:])
        private struct SignatureKey: Hashable {
            let crl: Int
            let issuer: [UInt8]
        }
        /// Distinct CRL sets kept at once; an archive spanning years needs one per CRL period.
        static let storeCapacity = 256

        init(anchors: [Certificate], cacheCapacity: Int) {
            self.anchors = anchors
            var byPointer: [OpaquePointer: Certificate] = [:]
            for anchor in anchors { byPointer[anchor.object.pointer] = anchor }
            self.anchorsByPointer = byPointer
            self.cache = VerificationCache(capacity: cacheCapacity)
        }

        /// The store with the anchors and exactly the CRLs `selection` names (indices into `history.all`).
        func store(for selection: [Int], history: CRLHistory) throws -> X509StoreObject {
            if let store = stores.withLock({ $0[selection] }) { return store }
            guard let pointer = X509_STORE_new() else {
                throw CryptoError.openSSL(.openSSLFailure, "cannot allocate X509_STORE")
            }
            let store = X509StoreObject(taking: pointer)
            for anchor in anchors where X509_STORE_add_cert(pointer, anchor.object.pointer) != 1 {
                throw CryptoError.openSSL(.openSSLFailure, "cannot add trust anchor '\(anchor.subject)'")
            }
            for crl in selection.map({ history.all[$0] }) where X509_STORE_add_crl(pointer, crl.object.pointer) != 1 {
                throw CryptoError.openSSL(.openSSLFailure, "cannot add the CRL of '\(crl.issuer)'")
            }
            return stores.withLock { stores in
                if stores.count >= Self.storeCapacity { stores.removeAll() }
                if let existing = stores[selection] { return existing }
                stores[selection] = store
                return store
            }
        }

        /// Whether CRL `index` of `history` is signed by `issuer` (remembered: a history is immutable).
        func isSigned(crl index: Int, of history: CRLHistory, by issuer: Certificate) -> Bool {
            let key = SignatureKey(crl: index, issuer: issuer.sha256Fingerprint)
            if let known = signatures.withLock({ $0[key] }) { return known }
            let signed = history.all[index].isSigned(by: issuer)
            signatures.withLock { $0[key] = signed }
            return signed
        }
    }
}

/// One failure OpenSSL reported while checking a path: its `X509_V_ERR_*` code and the depth of
/// the certificate concerned (0 is the leaf).
struct RecordedFailure {
    var code: Int32
    var depth: Int
}

/// What the verify callback needs and collects: the verification time, the clock-skew allowance,
/// and every failure, so that the verdict follows SPEC.md §8.5's order instead of the order in
/// which OpenSSL happens to check.
struct VerificationSettings {
    var time: time_t
    var skew: time_t
    var failures: [RecordedFailure] = []
}

/// Accepts exactly three time errors when they are within the allowance: certificate expired,
/// certificate not yet valid, CRL not yet valid. Records every other failure and lets OpenSSL go
/// on, so that all of a path's faults are known when the verdict is chosen.
private let collectingVerifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { ok, context in
    guard ok != 1 else { return 1 }
    guard let context, let raw = parley_X509_STORE_CTX_get_app_data(context) else { return ok }
    let settings = raw.assumingMemoryBound(to: VerificationSettings.self)
    let error = X509_STORE_CTX_get_error(context)
    var accepted = false
    if settings.pointee.skew > 0 {
        switch error {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            // notAfter > time − skew
            var limit = settings.pointee.time - settings.pointee.skew
            if let certificate = X509_STORE_CTX_get_current_cert(context) {
                accepted = X509_cmp_time(X509_get0_notAfter(certificate), &limit) == 1
            }
        case X509_V_ERR_CERT_NOT_YET_VALID:
            // notBefore ≤ time + skew
            var limit = settings.pointee.time + settings.pointee.skew
            if let certificate = X509_STORE_CTX_get_current_cert(context) {
                accepted = X509_cmp_time(X509_get0_notBefore(certificate), &limit) == -1
            }
        case X509_V_ERR_CRL_NOT_YET_VALID:
            // thisUpdate ≤ time + skew
            var limit = settings.pointee.time + settings.pointee.skew
            if let crl = X509_STORE_CTX_get0_current_crl(context) {
                accepted = X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &limit) == -1
            }
        default:
            break
        }
    }
    if !accepted {
        settings.pointee.failures.append(
            RecordedFailure(code: error, depth: Int(X509_STORE_CTX_get_error_depth(context)))
        )
    }
    X509_STORE_CTX_set_error(context, X509_V_OK)
    return 1
}

extension Certificate {
    /// A certificate from an `X509` that OpenSSL holds (up-references it).
    init(copying pointer: OpaquePointer) throws {
        var output: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_X509(pointer, &output)
        guard length > 0, let output else {
            throw CryptoError.openSSL(.invalidCertificate, "cannot encode a certificate of the verified path")
        }
        defer { parley_OPENSSL_free(output) }
        let der = Array(UnsafeBufferPointer(start: output, count: Int(length)))
        X509_up_ref(pointer)
        try self.init(object: X509Object(taking: pointer), derEncoded: der)
    }
}
