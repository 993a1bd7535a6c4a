import ParleyCodec

/// CBORDecoder in both modes. Oracles: never crash; whatever decodes in deterministic mode
/// re-encodes to exactly the input; whatever decodes deterministically also decodes well-formed,
/// to a value with the same encoding; a well-formed decode re-encodes to bytes that decode deterministically to it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let deterministic = try? CBORDecoder(mode: .deterministic).decode(bytes)
    let wellFormed = try? CBORDecoder(mode: .wellFormed).decode(bytes)
    if let deterministic {
        let reencoded = CBOREncoder.encode(deterministic)
        if reencoded != bytes {
            fatalError("deterministic decode does not re-encode to the input: \(hex(bytes)) -> \(hex(reencoded))")
        }
        // Compared through their encodings: NaN != NaN under ==.
        guard let wellFormed, CBOREncoder.encode(wellFormed) == reencoded else {
            fatalError("accepted in deterministic mode but not (equally) in well-formed mode: \(hex(bytes))")
        }
        _ = CBORDiagnostic.format(deterministic)
    }
    if let wellFormed {
        // The canonical form of any accepted value must itself be accepted deterministically.
        let canonical = CBOREncoder.encode(wellFormed)
        if canonical.count <= CBORDecoder.Limits.parley.maximumInputSize {
            guard let again = try? CBORDecoder(mode: .deterministic).decode(canonical) else {
                fatalError(
                    "canonical re-encoding of a well-formed item is rejected: \(hex(bytes)) -> \(hex(canonical))"
                )
            }
            if CBOREncoder.encode(again) != canonical {
                fatalError("canonical re-encoding is not stable: \(hex(canonical))")
            }
        }
        _ = CBORDiagnostic.format(wellFormed)
    }
    return 0
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.prefix(512).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        .joined()
}

// SwiftPM links every Linux executable with `--defsym main=FuzzCBOR_main`, which hides libFuzzer's own
// main; this entry point hands control to libFuzzer's driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzCBOR_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}
