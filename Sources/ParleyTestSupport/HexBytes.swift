import ParleyCodec

/// The bytes of a hex constant in a test (`Hex.decode`); a malformed constant is a bug in the test.
public func hexBytes(_ hex: String, file: StaticString = #file, line: UInt = #line) -> [UInt8] {
    guard let bytes = Hex.decode(hex) else {
        preconditionFailure("not an even number of hex digits: \(hex)", file: file, line: line)
    }
    return bytes
}
