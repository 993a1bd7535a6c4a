import ParleyCodec
import ParleyProtocol

/// Envelope(decoding:), Receipt(decoding:), and the batch bodies MessageBatch(decoding:) and
/// BatchAnswer(decoding:expectedCount:) (SPEC.md §12.8). Oracles: never crash; anything accepted
/// re-encodes byte for byte, and decoding the re-encoding gives an equal value. The input is tried
/// as a bare payload and, when it is a COSE_Sign1, as that object's payload too (so the seed
/// corpus of signed vectors reaches the decoders).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    check(bytes)
    if let object = try? COSESign1(decoding: bytes) { check(object.payload) }
    return 0
}

func check(_ bytes: [UInt8]) {
    if let envelope = try? Envelope(decoding: bytes) {
        let encoded = envelope.encoded
        if encoded != bytes { fatalError("envelope does not re-encode to the input: \(hex(bytes)) -> \(hex(encoded))") }
        guard let again = try? Envelope(decoding: encoded), again == envelope else {
            fatalError("envelope's re-encoding does not decode to the same value: \(hex(bytes))")
        }
        _ = try? envelope.validate()
    }
    if let receipt = try? Receipt(decoding: bytes) {
        let encoded = receipt.encoded
        if encoded != bytes { fatalError("receipt does not re-encode to the input: \(hex(bytes)) -> \(hex(encoded))") }
        guard let again = try? Receipt(decoding: encoded), again == receipt else {
            fatalError("receipt's re-encoding does not decode to the same value: \(hex(bytes))")
        }
        _ = try? receipt.validate()
    }
    if let batch = try? MessageBatch(decoding: bytes), batch.encoded != bytes {
        fatalError("batch does not re-encode to the input: \(hex(bytes)) -> \(hex(batch.encoded))")
    }
    if case .array(let items)? = try? CBOR(
        decoding: bytes,
        limits: .init(maximumInputSize: BatchAnswer.maximumSize, maximumDepth: 3, maximumItemCount: 1_000)
    ),
        let answer = try? BatchAnswer(decoding: bytes, expectedCount: items.count)
    {
        let encoded = answer.encoded
        if encoded != bytes {
            fatalError("batch answer does not re-encode to the input: \(hex(bytes)) -> \(hex(encoded))")
        }
        guard let again = try? BatchAnswer(decoding: encoded, expectedCount: items.count), again == answer else {
            fatalError("batch answer's re-encoding does not decode to the same value: \(hex(bytes))")
        }
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.prefix(512).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        .joined()
}

// SwiftPM links every Linux executable with `--defsym main=FuzzEnvelope_main`, which hides libFuzzer's own
// main; this entry point hands control to libFuzzer's driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzEnvelope_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}
