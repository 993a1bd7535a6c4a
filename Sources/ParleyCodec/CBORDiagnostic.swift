/// CBOR diagnostic notation (RFC 8949 §8, with RFC 8610 Appendix G comments).
public enum CBORDiagnostic {
    /// Names a map key for a reader: given the path of keys from the top-level item to the map and
    /// the key, returns a comment such as "alg", written as `/ alg /` after the key.
    public typealias KeyNamer = @Sendable (_ path: [CBOR], _ key: CBOR) -> String?

    /// One-line diagnostic notation.
    public static func format(_ item: CBOR) -> String {
        var out = ""
        write(item, to: &out, indent: nil, level: 0, path: [], namer: nil)
        return out
    }

    /// Diagnostic notation indented by `indent` spaces per level, with map keys named by `namer`.
    public static func format(_ item: CBOR, indent: Int, namer: KeyNamer? = nil) -> String {
        var out = ""
        write(item, to: &out, indent: indent, level: 0, path: [], namer: namer)
        return out
    }

    private static func write(
        _ item: CBOR,
        to out: inout String,
        indent: Int?,
        level: Int,
        path: [CBOR],
        namer: KeyNamer?
    ) {
        switch item {
        case .unsignedInteger(let n):
            out += String(n)
        case .negativeInteger(let n):
            out += n == .max ? "-18446744073709551616" : "-" + String(n + 1)
        case .byteString(let bytes):
            out += "h'" + Hex.encode(bytes) + "'"
        case .textString(let text):
            out += quoted(text)
        case .array, .map:
            if indent != nil {
                // Short containers stay on one line.
                var inline = ""
                writeElements(of: item, to: &inline, indent: nil, level: level, path: path, namer: namer)
                if inline.count <= inlineLimit {
                    out += inline
                    return
                }
            }
            writeElements(of: item, to: &out, indent: indent, level: level, path: path, namer: namer)
        case .tagged(let tag, let content):
            out += "\(tag)("
            write(content, to: &out, indent: indent, level: level, path: path, namer: namer)
            out += ")"
        case .boolean(let value):
            out += value ? "true" : "false"
        case .null:
            out += "null"
        case .undefined:
            out += "undefined"
        case .simple(let value):
            out += "simple(\(value))"
        case .float(let value):
            out += formatFloat(value)
        }
    }

    /// Longest container written on one line in indented output.
    private static let inlineLimit = 60

    private static func writeElements(
        of item: CBOR,
        to out: inout String,
        indent: Int?,
        level: Int,
        path: [CBOR],
        namer: KeyNamer?
    ) {
        if case .array(let items) = item {
            writeContainer(open: "[", close: "]", count: items.count, to: &out, indent: indent, level: level) {
                i,
                out in
                write(items[i], to: &out, indent: indent, level: level + 1, path: path, namer: namer)
            }
        } else if case .map(let map) = item {
            let entries = map.entries
            writeContainer(open: "{", close: "}", count: entries.count, to: &out, indent: indent, level: level) {
                i,
                out in
                let entry = entries[i]
                write(entry.key, to: &out, indent: indent, level: level + 1, path: path, namer: namer)
                if let name = namer?(path, entry.key) { out += " / \(name) /" }
                out += ": "
                write(entry.value, to: &out, indent: indent, level: level + 1, path: path + [entry.key], namer: namer)
            }
        }
    }

    private static func writeContainer(
        open: String,
        close: String,
        count: Int,
        to out: inout String,
        indent: Int?,
        level: Int,
        element: (Int, inout String) -> Void
    ) {
        out += open
        guard count > 0 else {
            out += close
            return
        }
        guard let indent else {
            for i in 0..<count {
                if i > 0 { out += ", " }
                element(i, &out)
            }
            out += close
            return
        }
        let inner = String(repeating: " ", count: indent * (level + 1))
        for i in 0..<count {
            out += i > 0 ? ",\n" : "\n"
            out += inner
            element(i, &out)
        }
        out += "\n" + String(repeating: " ", count: indent * level) + close
    }

    /// `text` as a JSON string (RFC 8259), which is how diagnostic notation writes text strings
    /// (RFC 8949 §8): `"` and `\` escaped, control characters and DEL as `\uXXXX` (or `\n`, `\r`,
    /// `\t`), everything else as is.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let h = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func formatFloat(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        var text = "\(value)"
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }), !text[..<e].contains(".") {
            text.insert(contentsOf: ".0", at: e)
        }
        return text
    }
}
