import Foundation
import Hummingbird
import NIOCore
import ParleyCodec
import ParleyProtocol
import ParleyStore

/// The local admin API: JSON over HTTP on a Unix domain socket, used by the CLI. The contract is
/// `openapi.yaml` beside this file (CI checks the daemon against it); the request and answer types
/// in this folder are shared by the daemon and the CLI. Errors are `application/problem+json`
/// (`Problem`): 400 a bad parameter or body, 404 no such message, 409 the delivery's state does not
/// allow the operation, 413 a body too large, 503 the store cannot be read.
public enum AdminAPI {
    /// At most this many items per list answer, and the number without `limit`.
    public static let maximumLimit = 10_000
    public static let defaultLimit = 100
    /// At most this many drafts in one `POST /v1/drafts` array, and bytes in its body.
    public static let maximumDrafts = 1_000
    public static let maximumDraftsBytes = 4 * 1_048_576
    /// At most this many bytes in the JSON body of any other request.
    public static let maximumRequestBytes = 65_536

    /// One route collection per resource, under `/v1`.
    public static func router(node: Node) -> Router<AdminRequestContext> {
        let router = Router(context: AdminRequestContext.self)
        router.add(middleware: AdminProblemMiddleware())
        router.addRoutes(DraftRoutes(node: node).routes, atPath: "/v1/drafts")
        router.addRoutes(StatusRoutes(node: node).routes, atPath: "/v1/status")
        router.addRoutes(PeerRoutes(node: node).routes, atPath: "/v1/peers")
        router.addRoutes(OutboxRoutes(node: node).routes, atPath: "/v1/outbox")
        router.addRoutes(InboxRoutes(node: node).routes, atPath: "/v1/inbox")
        router.addRoutes(MessageRoutes(node: node).routes, atPath: "/v1/messages")
        router.addRoutes(ReceiptRoutes(node: node).routes, atPath: "/v1/receipts")
        router.addRoutes(ArchiveRoutes(node: node).routes, atPath: "/v1/archive")
        router.addRoutes(ReloadRoutes(node: node).routes, atPath: "/v1")
        return router
    }

    /// The encoder of every answer: keys sorted, slashes as they are.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The JSON answer for `value`.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: status,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder().encode(value)))
        )
    }

    /// The problem a failure is answered with: a `Problem` as it is; a store error by its code; a
    /// request Hummingbird refused (no such route, a body over the limit) by its status.
    static func problem(for error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as StoreError:
            switch error.code {
            case .notFound: return Problem(status: 404, name: "not-found", title: "Not found", detail: error.reason)
            case .invalidState:
                return Problem(
                    status: 409,
                    name: "invalid-state",
                    title: "Not possible in this state",
                    detail: error.reason
                )
            case .invalidArgument, .cannotOpen:
                return Problem(status: 400, name: "invalid-request", title: "Invalid request", detail: error.reason)
            default: return .unavailable(error.reason)
            }
        case is NIOTooManyBytesError:
            return Problem(
                status: 413,
                name: "too-large",
                title: "Request too large",
                detail:
                    "a request body has at most \(maximumRequestBytes) bytes (a draft request \(maximumDraftsBytes))"
            )
        case let error as HTTPError where error.status == .contentTooLarge:
            return Problem(
                status: 413,
                name: "too-large",
                title: "Request too large",
                detail:
                    "a request body has at most \(maximumRequestBytes) bytes (a draft request \(maximumDraftsBytes))"
            )
        case let error as HTTPError where error.status == .notFound:
            return Problem(
                status: 404,
                name: "not-found",
                title: "Not found",
                detail: "no such endpoint; the admin API is described in Sources/ParleyNode/Admin/openapi.yaml"
            )
        case let error as HTTPError where error.status == .methodNotAllowed:
            return Problem(
                status: 405,
                name: "method-not-allowed",
                title: "Method not allowed",
                detail:
                    "this method is not allowed on this path; the admin API is described in Sources/ParleyNode/Admin/openapi.yaml"
            )
        case let error as HTTPError where (400..<500).contains(error.status.code):
            return Problem(
                status: error.status,
                name: "invalid-request",
                title: "Invalid request",
                detail: error.body ?? error.status.reasonPhrase
            )
        default:
            return .internalError("\(error)")
        }
    }

    /// A time as the admin API writes it: RFC 3339 UTC, whole seconds.
    static func time(_ date: Date) -> String { UTCTime(date).description }

    /// Lower-case hex of a digest.
    static func hex(_ bytes: Data) -> String { Hex.encode(bytes) }
}

/// The admin listener's request context: answers and request bodies are JSON through
/// `AdminJSONCoder`.
public struct AdminRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    public var requestDecoder: AdminJSONCoder { AdminJSONCoder() }
    public var responseEncoder: AdminJSONCoder { AdminJSONCoder() }
}

/// Writes answers with `AdminAPI.encoder()` as `application/json`; reads request bodies of at most
/// `AdminAPI.maximumRequestBytes` (an empty body is `{}`), answering 400 for one that does not decode.
public struct AdminJSONCoder: ResponseEncoder, RequestDecoder {
    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response
    {
        try AdminAPI.response(value)
    }

    public func decode<T: Decodable>(
        _ type: T.Type,
        from request: Request,
        context: some RequestContext
    ) async throws -> T {
        let body = try await request.body.collect(upTo: AdminAPI.maximumRequestBytes)
        let data = body.readableBytes == 0 ? Data("{}".utf8) : Data(buffer: body)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw Problem(status: 400, name: "invalid-request", title: "Invalid request", detail: Self.reason(error))
        }
    }

    /// What is wrong with the body, naming the member.
    static func reason(_ error: DecodingError) -> String {
        func name(_ path: [any CodingKey]) -> String {
            path.isEmpty
                ? "the body"
                : "\"" + path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") + "\""
        }
        switch error {
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let expected =
                type == String.self
                ? "a string"
                : type == Bool.self
                    ? "true or false"
                    : [Int.self, UInt64.self, Double.self].contains(where: { $0 == type })
                        ? "a number" : "a JSON object"
            return "\(name(context.codingPath)) must be \(expected)"
        case .keyNotFound(let key, let context):
            return "\(name(context.codingPath + [key])) is missing"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "the body must be a JSON object"
        case .dataCorrupted(let context):
            return "\(name(context.codingPath)) is not valid"
        @unknown default:
            return "the body must be a JSON object"
        }
    }
}

/// Every failure of an admin request becomes a problem (`AdminAPI.problem(for:)`), which
/// Hummingbird answers as `application/problem+json`.
struct AdminProblemMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            throw AdminAPI.problem(for: error)
        }
    }
}

/// A page of a list answer: `more`, how many further items match (0 on the last page), and `next`,
/// the `after` value that continues the list when there are more.
struct PageInfo {
    var more: Int
    var next: String?

    init(shown: Int, matching: Int, last: String?) {
        more = max(0, matching - shown)
        next = matching > shown ? last : nil
    }
}

/// Query parameters with checks that answer 400 naming the parameter.
struct AdminParameters {
    let values: [String: String]

    init(_ request: Request) {
        var values: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { values[String(key)] = String(value) }
        self.values = values
    }

    subscript(_ name: String) -> String? { values[name].flatMap { $0.isEmpty ? nil : $0 } }

    func value<T>(_ name: String, _ parse: (String) throws -> T?) throws -> T? {
        guard let text = self[name] else { return nil }
        guard let value = try parse(text) else {
            throw Problem(
                status: 400,
                name: "invalid-request",
                title: "Invalid parameter",
                detail: "\(name)=\(text) is not valid"
            )
        }
        return value
    }

    func time(_ name: String) throws -> Date? {
        try value(name) { (try? UTCTime(rfc3339: $0))?.date }
    }

    func limit() throws -> Int {
        try value("limit") { Int($0).flatMap { (1...AdminAPI.maximumLimit).contains($0) ? $0 : nil } }
            ?? AdminAPI.defaultLimit
    }
}

/// The version of this software, reported by `GET /v1/status` and `parley --version`.
public enum ParleyVersion {
    public static let current = "0.1.0"
}
