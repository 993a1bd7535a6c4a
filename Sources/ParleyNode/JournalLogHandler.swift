import Foundation
import Logging

/// A swift-log handler for a service whose standard error goes to the systemd journal: one line per
/// event, prefixed with the event's syslog priority (`<3>` for an error, sd-daemon(3)) so that
/// `journalctl -p warning` selects by level; no timestamp (the journal stamps each line); the
/// metadata as sorted `key=value` fields (message id, peer, …); line breaks escaped, so that an
/// event never spans two journal entries.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void

    /// Writes each line with one `write(2)` to `descriptor` (standard error by default).
    public init(descriptor: Int32 = STDERR_FILENO) {
        write = { line in
            var line = line
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }

    init(write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let own = event.metadata { fields.merge(own) { _, new in new } }
        write(Self.line(level: event.level, message: "\(event.message)", metadata: fields))
    }

    /// `<priority>message key=value key=value\n`.
    static func line(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line = "<\(priority(level))>\(escaped(message))"
        for key in metadata.keys.sorted() {
            line += " \(escaped(key))=\(escaped("\(metadata[key]!)"))"
        }
        return line + "\n"
    }

    /// syslog(3) priorities as journald reads them from a line prefix.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    private static func escaped(_ text: String) -> String {
        guard text.contains(where: { $0.isNewline }) else { return text }
        return text.replacingOccurrences(of: "\r\n", with: "\\n").replacingOccurrences(of: "\n", with: "\\n")
            .replacingOccurrences(of: "\r", with: "\\r")
    }

    /// Whether standard error is the journal stream systemd connected (`JOURNAL_STREAM` names its
    /// device and inode, systemd.exec(5)); a redirected standard error is not.
    public static func standardErrorIsJournal(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        isJournal(STDERR_FILENO, environment: environment)
    }

    /// Whether `descriptor` is the journal stream systemd named in `JOURNAL_STREAM`.
    public static func isJournal(
        _ descriptor: Int32,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }
}
