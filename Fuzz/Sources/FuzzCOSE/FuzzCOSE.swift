import ParleyCodec

/// COSESign1 (both profiles, with the parley profile's x5chain) and ProtectedHeader decoding. Oracles: never crash; an accepted
/// COSE_Sign1 re-encodes byte for byte; an accepted protected header re-encodes byte for byte.
/// The input is tried both as a COSE_Sign1 and as the bytes of a protected header bucket.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for profile in [COSESign1.Profile.parley, .rfc9052] {
        guard let object = try? COSESign1(decoding: bytes, profile: profile) else { continue }
        if object.encoded != bytes {
            fatalError("COSE_Sign1 (\(profile)) does not re-encode to the input: \(hex(bytes))")
        }
        if profile == .parley {
            guard object.unprotectedHeader.keys == [.integer(X5Chain.label)], let chain = try? object.certificateChain
            else {
                fatalError("parley profile accepted an unprotected header other than {33: x5chain}: \(hex(bytes))")
            }
            let certificates = chain.certificates
            if certificates.isEmpty || certificates.count > X5Chain.maximumLength
                || certificates.contains(where: { $0.isEmpty || $0.count > X5Chain.maximumCertificateSize })
            {
                fatalError("x5chain accepted outside its limits: \(hex(bytes))")
            }
            if CBOREncoder.encode(.map(object.unprotectedHeader)) != [0xA1, 0x18, 0x21] + chain.encoded {
                fatalError("x5chain does not re-encode to the unprotected header: \(hex(bytes))")
            }
        }
        _ = object.toBeSigned()
        checkHeader(object.protectedHeader)
    }
    checkHeader(bytes)
    return 0
}

func checkHeader(_ bytes: [UInt8]) {
    guard let header = try? ProtectedHeader(decoding: bytes) else { return }
    if header.encoded != bytes {
        fatalError("protected header does not re-encode to the input: \(hex(bytes)) -> \(hex(header.encoded))")
    }
    if header.chainDigest.count != ProtectedHeader.chainDigestSize {
        fatalError("protected header accepted an x5chain-sha256 of \(header.chainDigest.count) bytes: \(hex(bytes))")
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.prefix(512).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        .joined()
}

// SwiftPM links every Linux executable with `--defsym main=FuzzCOSE_main`, which hides libFuzzer's own
// main; this entry point hands control to libFuzzer's driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzCOSE_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}
