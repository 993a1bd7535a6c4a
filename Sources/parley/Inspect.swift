import ArgumentParser
import Foundation
import ParleyCodec
import ParleyCrypto
import ParleyProtocol

/// `parley inspect FILE`: the structure of a message or receipt, without verifying anything.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a message or receipt in CBOR diagnostic notation, with every label named.",
        discussion: """
            Nothing is verified: use `parley verify` for that. Any CBOR file can be shown; a Parley \
            COSE_Sign1 is taken apart into its protected header (with the certificates of x5chain \
            summarised), its payload (envelope or receipt) and its signature.

            Example:
              parley inspect Protocol/vectors/signed/ed25519/message-pre-launch.cose

            Exit status: 0 shown, 65 the file is not CBOR, 66 it cannot be read. \
            \(ExitStatus.seeTable)
            """
    )

    @Argument(help: ArgumentHelp("The file to show (binary CBOR).", valueName: "file"))
    var file: String

    func run() throws {
        let bytes = try readInput(file)
        print("\(file): \(bytes.count) bytes, SHA-256 \(Hex.encode(Digest.sha256(bytes)))")
        guard let object = try? COSESign1(decoding: bytes, profile: .rfc9052) else {
            let item = try CBORDecoder(mode: .wellFormed).decode(bytes)
            print(CBORDiagnostic.format(item, indent: 2))
            return
        }
        print("COSE_Sign1 (tag 18)")
        print("protected header (\(object.protectedHeader.count) bytes):")
        if let header = try? ProtectedHeader(decoding: object.protectedHeader) {
            let algorithm =
                SignatureAlgorithm(rawValue: header.algorithm).map { " (\($0))" } ?? " (not a Parley algorithm)"
            print("  1 / alg /: \(header.algorithm)\(algorithm)")
            print("  3 / content type /: \"\(header.contentType)\"")
            print("  \(ProtectedHeader.Label.x5chainSHA256) / x5chain-sha256 /: h'\(Hex.encode(header.chainDigest))'")
        } else {
            let item = try? CBORDecoder(mode: .wellFormed).decode(object.protectedHeader)
            print(
                "  not a Parley protected header: "
                    + (item.map { CBORDiagnostic.format($0, indent: 2, namer: WireNames.headerNamer) } ?? "not CBOR")
            )
        }
        let header = try? ProtectedHeader(decoding: object.protectedHeader)
        if let chain = try? object.certificateChain, object.unprotectedHeader.count == 1 {
            let digest = Digest.sha256(chain.encoded)
            let matches =
                header.map {
                    $0.chainDigest == digest
                        ? ", SHA-256 matches x5chain-sha256" : ", SHA-256 does NOT match x5chain-sha256"
                } ?? ""
            print("unprotected header:")
            print("  33 / x5chain /: \(chain.certificates.count) certificate(s), leaf first\(matches)")
            for (index, der) in chain.certificates.enumerated() {
                if let certificate = try? Certificate(derEncoded: der) {
                    let participant = certificate.participantID.map { ", participant \($0)" } ?? ""
                    print(
                        "    [\(index)] \(certificate.subject)\(participant), valid \(UTCTime(certificate.notValidBefore)) – \(UTCTime(certificate.notValidAfter)), SHA-256 \(Hex.encode(certificate.sha256Fingerprint).prefix(16))…"
                    )
                } else {
                    print("    [\(index)] \(der.count) bytes, not a readable X.509 certificate")
                }
            }
        } else {
            print("unprotected header (not a Parley x5chain): \(CBORDiagnostic.format(.map(object.unprotectedHeader)))")
        }
        print("payload (\(object.payload.count) bytes):")
        if header?.contentType == ContentType.receipt, let receipt = try? Receipt(decoding: object.payload) {
            print(indented(WireNames.diagnostic(of: receipt)))
        } else if let envelope = try? Envelope(decoding: object.payload) {
            print(indented(WireNames.diagnostic(of: envelope)))
        } else if let item = try? CBORDecoder(mode: .wellFormed).decode(object.payload) {
            print(indented(CBORDiagnostic.format(item, indent: 2, namer: WireNames.envelopeNamer(type: nil))))
            if let error = validationError(object.payload) { print("  (not a valid envelope: \(error))") }
        } else {
            print("  h'\(Hex.encode(object.payload))' (not CBOR)")
        }
        print("signature (\(object.signature.count) bytes): h'\(Hex.encode(object.signature))'")
    }

    private func validationError(_ payload: [UInt8]) -> String? {
        do {
            _ = try Envelope(decoding: payload)
            return nil
        } catch { return "\(error)" }
    }
}

func indented(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
}

/// The bytes of a file, or of standard input for "-", with an operator-readable error.
func readInput(_ path: String) throws -> [UInt8] {
    if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError(ExitStatus.noInput, "cannot read \(path): no such file, or no permission to read it")
    }
    return Array(data)
}
