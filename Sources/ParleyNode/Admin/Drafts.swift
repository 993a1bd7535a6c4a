import Foundation
import Hummingbird
import NIOCore
import ParleyProtocol
import ParleyStore

extension AdminAPI {
    /// A queued draft: `POST /v1/drafts` with one composition document answers it (201).
    public struct QueuedDraft: Codable, Sendable, Equatable, ResponseEncodable {
        /// The message id, 32 hex digits.
        public var id: String
        /// The sequence number of each recipient's channel.
        public var sequenceNumbers: [String: UInt64]

        public init(id: String, sequenceNumbers: [String: UInt64]) {
            self.id = id
            self.sequenceNumbers = sequenceNumbers
        }

        init(_ queued: QueuedMessage) {
            self.init(
                id: queued.id.hex,
                sequenceNumbers: Dictionary(
                    uniqueKeysWithValues: queued.sequenceNumbers.map { ("\($0.key)", $0.value) }
                )
            )
        }
    }

    /// One draft of an array: queued, or refused with the problem it would have been answered alone.
    /// On the wire, a queued draft's object or `{"problem": {…}}`.
    public enum DraftResult: Codable, Sendable, Equatable {
        case queued(QueuedDraft)
        case refused(Problem)

        enum CodingKeys: String, CodingKey { case problem }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let problem = try container.decodeIfPresent(Problem.self, forKey: .problem) {
                self = .refused(problem)
            } else {
                self = .queued(try QueuedDraft(from: decoder))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .queued(let queued): try queued.encode(to: encoder)
            case .refused(let problem):
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(problem, forKey: .problem)
            }
        }
    }

    /// The answer to an array of drafts: 201 when all were queued, else 200.
    public struct DraftArrayAnswer: Codable, Sendable, Equatable, ResponseEncodable {
        public var queued: Int
        public var refused: Int
        /// One result per draft, in the order of the array.
        public var results: [DraftResult]

        public init(results: [DraftResult]) {
            self.results = results
            queued = results.filter { if case .queued = $0 { true } else { false } }.count
            refused = results.count - queued
        }
    }

    /// The problem for a draft that was not queued.
    static func draftProblem(_ error: any Error) -> Problem {
        switch error {
        case let problem as Problem: return problem
        case is NIOTooManyBytesError:
            return Problem(
                status: 413,
                name: "too-large",
                title: "Request too large",
                detail: "a draft request has at most \(maximumDraftsBytes) bytes"
            )
        case let error as HTTPError where error.status == .contentTooLarge:
            return Problem(
                status: 413,
                name: "too-large",
                title: "Request too large",
                detail: "a draft request has at most \(maximumDraftsBytes) bytes"
            )
        case let error as ProtocolError:
            return Problem(status: 400, name: "invalid-draft", title: "Invalid notification draft", detail: "\(error)")
        case let error as StoreError:
            return Problem(
                status: error.code == .invalidArgument ? 400 : 503,
                name: "invalid-draft",
                title: "Cannot queue the draft",
                detail: "\(error)"
            )
        default:
            return .internalError("\(error)")
        }
    }
}

/// `POST /v1/drafts`: one composition document (NOTIFICATIONS.md §2), or an array of 1 to
/// `maximumDrafts` of them, each queued or refused on its own.
struct DraftRoutes {
    let node: Node

    var routes: RouteCollection<AdminRequestContext> {
        let routes = RouteCollection(context: AdminRequestContext.self)
        routes.post(use: submit)
        return routes
    }

    @Sendable func submit(_ request: Request, context: AdminRequestContext) async throws -> Response {
        do {
            let data = try await request.body.collect(upTo: AdminAPI.maximumDraftsBytes)
            let document = try JSONValue(parsing: Array(buffer: data))
            guard case .array(let drafts) = document else {
                let queued = try await node.submit(try Composition(document: document))
                return try AdminAPI.response(AdminAPI.QueuedDraft(queued), status: .created)
            }
            // Numbered in array order, in as few transactions as the submission committer allows.
            guard (1...AdminAPI.maximumDrafts).contains(drafts.count) else {
                throw Problem(
                    status: 400,
                    name: "invalid-draft",
                    title: "Invalid notification draft",
                    detail: "an array of drafts holds 1 to \(AdminAPI.maximumDrafts) drafts, not \(drafts.count)"
                )
            }
            let parsed = drafts.map { draft in Result { try Composition(document: draft) } }
            var submitted = await node.submit(parsed.compactMap { try? $0.get() })[...]
            let results = parsed.map { parsing -> AdminAPI.DraftResult in
                switch parsing.flatMap({ _ in submitted.popFirst()! }) {
                case .success(let queued): .queued(AdminAPI.QueuedDraft(queued))
                case .failure(let error): .refused(AdminAPI.draftProblem(error))
                }
            }
            let answer = AdminAPI.DraftArrayAnswer(results: results)
            return try AdminAPI.response(answer, status: answer.refused == 0 ? .created : .ok)
        } catch {
            throw AdminAPI.draftProblem(error)
        }
    }
}
