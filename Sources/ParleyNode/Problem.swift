import Foundation
import Hummingbird
import NIOCore
import ParleyProtocol

/// An `application/problem+json` answer (RFC 9457, SPEC.md §12.3) for input that cannot be answered
/// with a signed receipt. A handler throws it; Hummingbird answers it (`HTTPResponseError`).
public struct Problem: Error, Sendable, Hashable, CustomStringConvertible, HTTPResponseError {
    public var status: HTTPResponse.Status
    /// The name after `urn:parley:problem:` (SPEC.md §15.5).
    public var name: String
    public var title: String
    public var detail: String
    /// The rejection code this problem corresponds to, if any.
    public var parleyCode: UInt64?
    /// Seconds for the Retry-After header.
    public var retryAfter: Int?

    public init(
        status: HTTPResponse.Status,
        name: String,
        title: String,
        detail: String,
        parleyCode: UInt64? = nil,
        retryAfter: Int? = nil
    ) {
        self.status = status
        self.name = name
        self.title = title
        self.detail = detail
        self.parleyCode = parleyCode
        self.retryAfter = retryAfter
    }

    public static let mediaType = "application/problem+json"

    public var type: String { "urn:parley:problem:\(name)" }

    public var description: String { "\(status.code) \(name): \(detail)" }

    /// The JSON body.
    public var json: [UInt8] { Array(jsonValue.serialized.utf8) }

    /// The problem object (RFC 9457), keys sorted.
    var jsonValue: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("detail", .string(detail))]
        if let parleyCode { members.append(("parley-code", .number(String(parleyCode)))) }
        members += [("status", .number(String(status.code))), ("title", .string(title)), ("type", .string(type))]
        return .object(members)
    }

    /// The answer: the problem object, its media type and Retry-After when set.
    public var response: Response {
        var headers = HTTPFields()
        headers[.contentType] = Self.mediaType
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response { response }

    /// 413 for a body over the size limit (SPEC.md §9.1 step 1); 400 for a depth or item limit
    /// exceeded in the message or its payload (steps 2 and 4).
    static func tooLarge(_ detail: String, status: HTTPResponse.Status = 413) -> Problem {
        Problem(status: status, name: "too-large", title: "Message too large", detail: detail, parleyCode: 13)
    }
    static func malformed(_ detail: String, status: HTTPResponse.Status = 400) -> Problem {
        Problem(status: status, name: "malformed", title: "Malformed message", detail: detail, parleyCode: 1)
    }
    static func forbiddenPeer(_ detail: String) -> Problem {
        Problem(status: 403, name: "forbidden-peer", title: "Peer may not deliver this message", detail: detail)
    }
    static func unauthenticated(_ detail: String) -> Problem {
        Problem(status: 401, name: "unauthenticated", title: "TLS peer not authenticated", detail: detail)
    }
    static func misdirected(_ detail: String) -> Problem {
        Problem(status: 421, name: "misdirected", title: "Misdirected request", detail: detail)
    }
    static func rateLimited(_ detail: String) -> Problem {
        Problem(status: 429, name: "rate-limited", title: "Too many concurrent requests", detail: detail, retryAfter: 1)
    }
    static func revocationUnavailable(_ detail: String) -> Problem {
        Problem(
            status: 503,
            name: "revocation-unavailable",
            title: "Revocation data unavailable",
            detail: detail,
            retryAfter: 300
        )
    }
    static func unavailable(_ detail: String) -> Problem {
        Problem(status: 503, name: "unavailable", title: "Cannot accept messages now", detail: detail, retryAfter: 30)
    }
    static func internalError(_ detail: String) -> Problem {
        Problem(status: 500, name: "internal", title: "Internal error", detail: detail)
    }
}

/// The problem object as JSON: what the CLI reads from an error answer, and the `problem` of a
/// refused draft in an array answer. `type` is `urn:parley:problem:<name>`; Retry-After is a header,
/// not a member.
extension Problem: Codable {
    enum CodingKeys: String, CodingKey {
        case type, title, status, detail
        case parleyCode = "parley-code"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        let prefix = "urn:parley:problem:"
        self.init(
            status: HTTPResponse.Status(code: try container.decode(Int.self, forKey: .status)),
            name: type.hasPrefix(prefix) ? String(type.dropFirst(prefix.count)) : type,
            title: try container.decodeIfPresent(String.self, forKey: .title) ?? "",
            detail: try container.decodeIfPresent(String.self, forKey: .detail) ?? "",
            parleyCode: try container.decodeIfPresent(UInt64.self, forKey: .parleyCode)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(title, forKey: .title)
        try container.encode(status.code, forKey: .status)
        try container.encode(detail, forKey: .detail)
        try container.encodeIfPresent(parleyCode, forKey: .parleyCode)
    }
}
