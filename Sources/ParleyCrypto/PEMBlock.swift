/// One `-----BEGIN <label>-----` … `-----END <label>-----` block (RFC 7468), decoded.
struct PEMBlock: Sendable, Equatable {
    var label: String
    var der: [UInt8]

    /// Every block in `text`, in order. Text outside blocks is ignored (like OpenSSL), but each block
    /// must be well formed: matching END label, strict base64 body, no headers unless `allowHeaders`.
    static func parseAll(_ text: String, limit: Int, allowHeaders: Bool = false) throws -> [PEMBlock] {
        guard text.utf8.count <= limit else {
            throw CryptoError(.tooLarge, "PEM text has \(text.utf8.count) bytes; the limit is \(limit)")
        }
        var blocks: [PEMBlock] = []
        var currentLabel: String? = nil
        var body: [UInt8] = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            while let last = line.last, last == "\r" || last == " " || last == "\t" { line.removeLast() }
            if let label = currentLabel {
                if line.hasPrefix("-----END ") {
                    guard line == "-----END \(label)-----" else {
                        throw CryptoError(
                            .invalidPEM,
                            "line \(lineNumber): '\(line)' does not close '-----BEGIN \(label)-----'"
                        )
                    }
                    guard let der = Base64.decode(body) else {
                        throw CryptoError(
                            .invalidPEM,
                            "the body of the '\(label)' block ending on line \(lineNumber) is not valid base64"
                        )
                    }
                    guard !der.isEmpty else {
                        throw CryptoError(.invalidPEM, "the '\(label)' block ending on line \(lineNumber) is empty")
                    }
                    blocks.append(PEMBlock(label: label, der: der))
                    currentLabel = nil
                    body = []
                } else if line.contains(":") {
                    guard allowHeaders else {
                        throw CryptoError(
                            .invalidPEM,
                            "line \(lineNumber): unexpected PEM header '\(line)' in '\(label)' block"
                        )
                    }
                } else {
                    body.append(contentsOf: line.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") })
                }
            } else if line.hasPrefix("-----BEGIN ") && line.hasSuffix("-----") && line.count > 16 {
                currentLabel = String(line.dropFirst(11).dropLast(5))
            } else if line.hasPrefix("-----END ") {
                throw CryptoError(.invalidPEM, "line \(lineNumber): '\(line)' without a matching BEGIN line")
            }
        }
        if let label = currentLabel {
            throw CryptoError(.invalidPEM, "'-----BEGIN \(label)-----' is never closed by an END line")
        }
        return blocks
    }

    /// True if `bytes` look like PEM text rather than DER (DER starts with a SEQUENCE tag 0x30).
    static func looksLikePEM(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0a && $0 != 0x0d && $0 != 0x09 }) else {
            return false
        }
        return first == UInt8(ascii: "-") || (first != 0x30 && bytes.contains(UInt8(ascii: "-")))
    }
}

/// Strict base64 (RFC 4648 §4, padding required).
enum Base64 {
    private static let table: [Int16] = {
        var table = [Int16](repeating: -1, count: 256)
        for (index, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(character)] = Int16(index)
        }
        return table
    }()

    static func decode(_ characters: [UInt8]) -> [UInt8]? {
        guard characters.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(characters.count / 4 * 3)
        var index = 0
        while index < characters.count {
            let isLast = index + 4 == characters.count
            var values: [Int16] = []
            var padding = 0
            for offset in 0..<4 {
                let character = characters[index + offset]
                if character == UInt8(ascii: "=") {
                    guard isLast, offset >= 2 else { return nil }
                    padding += 1
                    values.append(0)
                } else {
                    guard padding == 0 else { return nil }
                    let value = table[Int(character)]
                    guard value >= 0 else { return nil }
                    values.append(value)
                }
            }
            let triple = Int(values[0]) << 18 | Int(values[1]) << 12 | Int(values[2]) << 6 | Int(values[3])
            output.append(UInt8(triple >> 16 & 0xff))
            if padding < 2 { output.append(UInt8(triple >> 8 & 0xff)) }
            if padding < 1 { output.append(UInt8(triple & 0xff)) }
            index += 4
        }
        return output
    }

    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = Int(bytes[index])
            let b1 = remaining > 1 ? Int(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? Int(bytes[index + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            output.append(alphabet[triple >> 18 & 63])
            output.append(alphabet[triple >> 12 & 63])
            output.append(remaining > 1 ? alphabet[triple >> 6 & 63] : UInt8(ascii: "="))
            output.append(remaining > 2 ? alphabet[triple & 63] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// PEM text for one block, 64 characters a line.
    static func pem(label: String, der: [UInt8]) -> String {
        let encoded = Array(encode(der).utf8)
        var text = "-----BEGIN \(label)-----\n"
        var start = 0
        while start < encoded.count {
            let end = min(start + 64, encoded.count)
            text += String(decoding: encoded[start..<end], as: UTF8.self) + "\n"
            start = end
        }
        return text + "-----END \(label)-----\n"
    }
}
