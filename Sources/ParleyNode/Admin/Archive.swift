import Foundation
import Hummingbird
import NIOCore
import ParleyProtocol
import ParleyStore
#if canImport(Glibc)
import Glibc
#endif

extension AdminAPI {
    /// `POST /v1/archive/export`: the daemon writes the archive of [since, until) to `path`.
    public struct ArchiveExportRequest: Codable, Sendable, Equatable {
        /// RFC 3339 UTC; since ≤ until.
        public var since: String?
        public var until: String?
        /// An absolute path that does not exist and that the daemon may write.
        public var path: String?

        public init(since: String?, until: String?, path: String?) {
            self.since = since
            self.until = until
            self.path = path
        }
    }

    /// What an archive holds (Protocol/ARCHIVE.md), and where the daemon wrote it.
    public struct ArchiveExport: Codable, Sendable, Equatable, ResponseEncodable {
        public var path: String
        public var messages: Int
        public var receipts: Int
        public var channels: Int
        /// Bytes.
        public var size: Int
        public var sha256: String
        public var from: String
        public var to: String
        public var exporter: String
    }

    /// The headers of the streamed archive (`GET /v1/archive`).
    public enum ArchiveHeader {
        public static let messages: HTTPFields.Element.Name = HTTPFields.Element.Name("Parley-Archive-Messages")!
        public static let receipts: HTTPFields.Element.Name = HTTPFields.Element.Name("Parley-Archive-Receipts")!
        public static let sha256: HTTPFields.Element.Name = HTTPFields.Element.Name("Parley-Archive-SHA256")!
    }

    /// [since, until) from two RFC 3339 UTC times, or 400.
    static func archiveRange(since: String?, until: String?) throws -> (Date, Date) {
        guard let since, let until, let from = try? UTCTime(rfc3339: since), let to = try? UTCTime(rfc3339: until),
            from <= to
        else {
            throw Problem(
                status: 400,
                name: "invalid-request",
                title: "Invalid archive range",
                detail: "since and until must be RFC 3339 UTC times (e.g. 2026-11-01T00:00:00Z) with since ≤ until"
            )
        }
        return (from.date, to.date)
    }
}

/// `GET /v1/archive?since&until` (streamed) and `POST /v1/archive/export`.
struct ArchiveRoutes {
    let node: Node

    var routes: RouteCollection<AdminRequestContext> {
        let routes = RouteCollection(context: AdminRequestContext.self)
        routes.get(use: stream)
        routes.post("export", use: export)
        return routes
    }

    @Sendable func export(_ request: Request, context: AdminRequestContext) async throws -> AdminAPI.ArchiveExport {
        let body = try await request.decode(as: AdminAPI.ArchiveExportRequest.self, context: context)
        let (from, to) = try AdminAPI.archiveRange(since: body.since, until: body.until)
        guard let path = body.path, path.hasPrefix("/") else {
            throw Problem(
                status: 400,
                name: "invalid-request",
                title: "Invalid request",
                detail: "\"path\" must be an absolute file path the daemon may write"
            )
        }
        let summary = try await node.store.exportArchive(to: path, exporter: node.participant, from: from, to: to)
        node.logger.notice("archive exported to \(path): \(summary.messages) messages, \(summary.receipts) receipts")
        return .init(
            path: path,
            messages: summary.messages,
            receipts: summary.receipts,
            channels: summary.channels,
            size: summary.size,
            sha256: AdminAPI.hex(summary.digest),
            from: AdminAPI.time(summary.header.from),
            to: AdminAPI.time(summary.header.to),
            exporter: "\(summary.header.exporter)"
        )
    }

    /// Written first to `<dataDirectory>/exports/`, unlinked once open, and streamed from the handle.
    @Sendable func stream(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let parameters = AdminParameters(request)
        let (from, to) = try AdminAPI.archiveRange(since: parameters["since"], until: parameters["until"])
        let exports = (node.configuration.dataDirectory as NSString).appendingPathComponent("exports")
        try FileManager.default.createDirectory(
            atPath: exports,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let path = (exports as NSString).appendingPathComponent("stream-\(UUID().uuidString).parley")
        let summary = try await node.store.exportArchive(to: path, exporter: node.participant, from: from, to: to)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            unlink(path)
            throw Problem.internalError("cannot read the exported archive \(path)")
        }
        unlink(path)  // the open handle keeps the data until the stream ends
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[AdminAPI.ArchiveHeader.messages] = "\(summary.messages)"
        headers[AdminAPI.ArchiveHeader.receipts] = "\(summary.receipts)"
        headers[AdminAPI.ArchiveHeader.sha256] = AdminAPI.hex(summary.digest)
        let size = summary.size
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody(contentLength: size) { writer in
                defer { try? handle.close() }
                var sent = 0
                while sent < size {
                    let chunk = try await blocking { try handle.read(upToCount: 1 << 20) ?? Data() }
                    guard !chunk.isEmpty else { break }
                    try await writer.write(ByteBuffer(bytes: chunk))
                    sent += chunk.count
                }
                try await writer.finish(nil)
            }
        )
    }
}
