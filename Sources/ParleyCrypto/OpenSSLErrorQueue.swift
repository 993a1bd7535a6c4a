internal import COpenSSL

/// The thread-local OpenSSL error queue. Drain it synchronously right after a failing call
/// (never across an `await`, which may resume on another thread).
enum OpenSSLErrorQueue {
    /// Reads and removes every queued error, oldest first, as OpenSSL's one-line strings.
    static func drain() -> [String] {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if messages.count < 16 {
                messages.append(string(for: code))
            }
        }
        return messages
    }

    /// Drops whatever is queued (after a call whose failure is expected and handled).
    static func clear() {
        ERR_clear_error()
    }

    static func string(for code: UInt) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True if nothing is queued on this thread.
    static var isEmpty: Bool {
        ERR_peek_error() == 0
    }
}
