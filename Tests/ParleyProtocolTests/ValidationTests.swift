import ParleyCodec
import Testing
@testable import ParleyProtocol

/// Each rule of SPEC.md and NOTIFICATIONS.md, broken once: the decoder refuses it and names the field.
@Suite struct ValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var type: NotificationType
        var code: ProtocolError.Code
        var field: String
        var mutate: @Sendable (inout CBORMap) -> Void
        var testDescription: String { name }
    }

    static func body(_ map: inout CBORMap, _ edit: (inout CBORMap) -> Void) {
        var body = map[8]!.mapValue!
        edit(&body)
        map[8] = .map(body)
    }

    static let created = Examples.created.secondsSince1970
    static func time(_ offset: Int64) -> CBOR { .tagged(1, .integer(created + offset)) }

    static let cases: [Case] = [
        Case(name: "version 2", type: .preLaunch, code: .unsupportedVersion, field: "version") { $0[1] = 2 },
        Case(name: "unknown type 12", type: .preLaunch, code: .unknownType, field: "type") { $0[6] = 12 },
        Case(name: "unknown envelope key", type: .preLaunch, code: .malformed, field: "") { $0[10] = 1 },
        Case(name: "id of 15 bytes", type: .preLaunch, code: .malformed, field: "id") {
            $0[2] = .byteString(Array(repeating: 1, count: 15))
        },
        Case(name: "lower-case sender", type: .preLaunch, code: .malformed, field: "sender") { $0[3] = "us-nrrc" },
        Case(name: "no recipients", type: .preLaunch, code: .malformed, field: "recipients") { $0[4] = [] },
        Case(name: "sequence number 0", type: .preLaunch, code: .malformed, field: "recipients[0][1]") {
            $0[4] = [["RU-NRRC", 0]]
        },
        Case(name: "recipients unsorted", type: .preLaunch, code: .malformed, field: "recipients[1]") {
            $0[4] = [["RU-NRRC", 1], ["HCOC-CC", 1]]
        },
        Case(name: "recipient twice", type: .preLaunch, code: .malformed, field: "recipients[1]") {
            $0[4] = [["RU-NRRC", 1], ["RU-NRRC", 2]]
        },
        Case(name: "sender among recipients", type: .preLaunch, code: .malformed, field: "recipients[1]") {
            $0[4] = [["RU-NRRC", 1], ["US-NRRC", 2]]
        },
        Case(name: "created not tagged", type: .preLaunch, code: .malformed, field: "created") {
            $0[5] = .integer(created)
        },
        Case(name: "created negative", type: .preLaunch, code: .malformed, field: "created") { $0[5] = .tagged(1, -5) },
        Case(name: "missing body", type: .preLaunch, code: .malformed, field: "body") { $0[8] = nil },
        Case(name: "remarks with bad language tag", type: .preLaunch, code: .malformed, field: "remarks[0]") {
            $0[9] = ["english!", "x"]
        },
        Case(name: "remarks too long", type: .preLaunch, code: .malformed, field: "remarks[1]") {
            $0[9] = ["en", .textString(String(repeating: "a", count: 4_097))]
        },
        Case(name: "empty remarks", type: .preLaunch, code: .malformed, field: "remarks[1]") { $0[9] = ["en", ""] },
        Case(name: "duplicate reference", type: .generalCommunication, code: .malformed, field: "refs") {
            $0[7] = [[.byteString(Examples.originalID.bytes), 4], [.byteString(Examples.originalID.bytes), 4]]
        },
        Case(name: "17 references", type: .generalCommunication, code: .malformed, field: "refs") {
            $0[7] = .array((0..<17).map { [.byteString(Examples.messageID(UInt8($0)).bytes), 4] })
        },
        Case(name: "relation 6", type: .generalCommunication, code: .malformed, field: "refs[0][1]") {
            $0[7] = [[.byteString(Examples.originalID.bytes), 6]]
        },
        Case(name: "refs empty", type: .generalCommunication, code: .malformed, field: "refs") { $0[7] = [] },
        Case(name: "body not a map", type: .generalCommunication, code: .malformed, field: "body") { $0[8] = [] },
        Case(name: "float outside the body", type: .preLaunch, code: .malformed, field: "created") {
            $0[5] = .float(1.5)
        },
        Case(name: "unknown type and unknown envelope key", type: .preLaunch, code: .malformed, field: "") {
            $0[6] = 12
            $0[10] = 1
        },
        Case(name: "body error and unknown envelope key", type: .preLaunch, code: .malformed, field: "") {
            body(&$0) { $0[6] = 36_000 }
            $0[10] = 1
        },
        Case(name: "body error and remarks too long", type: .preLaunch, code: .malformed, field: "remarks[1]") {
            body(&$0) { $0[6] = 36_000 }
            $0[9] = ["en", .textString(String(repeating: "a", count: 4_097))]
        },
        Case(name: "body error and recipients unsorted", type: .preLaunch, code: .malformed, field: "recipients[1]") {
            body(&$0) { $0[6] = 36_000 }
            $0[4] = [["RU-NRRC", 1], ["HCOC-CC", 1]]
        },
        Case(name: "pre-launch cancels something", type: .preLaunch, code: .invalidField, field: "refs[0]") {
            $0[7] = [[.byteString(Examples.originalID.bytes), 2]]
        },
        Case(name: "extension without extends", type: .launchWindowExtension, code: .invalidField, field: "refs") {
            $0[7] = nil
        },
        Case(name: "cancellation referencing two", type: .launchCancellation, code: .invalidField, field: "refs") {
            $0[7] = [[.byteString(Examples.originalID.bytes), 2], [.byteString(Examples.messageID(9).bytes), 2]]
        },
        Case(name: "acknowledgement without acknowledges", type: .acknowledgement, code: .invalidField, field: "refs") {
            $0[7] = [[.byteString(Examples.originalID.bytes), 4]]
        },
        Case(name: "correction without corrects", type: .correction, code: .invalidField, field: "refs") {
            $0[7] = nil
        },
        Case(name: "post-launch report responding to two", type: .postLaunchReport, code: .invalidField, field: "refs")
        {
            $0[7] = [[.byteString(Examples.originalID.bytes), 4], [.byteString(Examples.messageID(9).bytes), 4]]
        },
        Case(name: "window end before start", type: .preLaunch, code: .invalidField, field: "body.window-end") {
            body(&$0) { $0[3] = time(86_400) }
        },
        Case(name: "window of 31 days", type: .preLaunch, code: .invalidField, field: "body.window-end") {
            body(&$0) { $0[3] = time(3 * 86_400 + 31 * 86_400) }
        },
        Case(name: "window already closed", type: .preLaunch, code: .invalidField, field: "body.window-end") {
            body(&$0) {
                $0[2] = time(-7200)
                $0[3] = time(-3600)
            }
        },
        Case(name: "short notice not marked late", type: .preLaunch, code: .invalidField, field: "body.late") {
            body(&$0) { $0[2] = time(3600) }
        },
        Case(name: "long notice marked late", type: .preLaunch, code: .invalidField, field: "body.late") {
            body(&$0) { $0[7] = true }
        },
        Case(name: "azimuth 360.00°", type: .preLaunch, code: .invalidField, field: "body.azimuth") {
            body(&$0) { $0[6] = 36_000 }
        },
        Case(name: "vehicle class 3", type: .preLaunch, code: .invalidField, field: "body.class") {
            body(&$0) { $0[1] = 3 }
        },
        Case(name: "no impact area", type: .preLaunch, code: .invalidField, field: "body.impact-areas") {
            body(&$0) { $0[5] = [] }
        },
        Case(name: "polygon of two vertices", type: .preLaunch, code: .invalidField, field: "body.launch-area[1]") {
            body(&$0) { $0[4] = [1, [[0, 0], [1, 1]]] }
        },
        Case(name: "radius 0 m", type: .preLaunch, code: .invalidField, field: "body.launch-area[2]") {
            body(&$0) { $0[4] = [2, [0, 0], 0] }
        },
        Case(name: "latitude 90.000001°", type: .preLaunch, code: .invalidField, field: "body.launch-area[1][0]") {
            body(&$0) { $0[4] = [2, [90_000_001, 0], 10] }
        },
        Case(name: "longitude -180.000001°", type: .preLaunch, code: .invalidField, field: "body.launch-area[1][1]") {
            body(&$0) { $0[4] = [2, [0, -180_000_001], 10] }
        },
        Case(name: "area kind 3", type: .preLaunch, code: .invalidField, field: "body.launch-area") {
            body(&$0) { $0[4] = [3, [0, 0], 10] }
        },
        Case(name: "late as integer", type: .preLaunch, code: .invalidField, field: "body.late") {
            body(&$0) { $0[7] = 0 }
        },
        Case(name: "designator of 65 characters", type: .preLaunch, code: .invalidField, field: "body.designator") {
            body(&$0) { $0[8] = .textString(String(repeating: "x", count: 65)) }
        },
        Case(name: "unknown body key", type: .preLaunch, code: .unknownField, field: "body") {
            body(&$0) { $0[9] = 1 }
        },
        Case(name: "missing window start", type: .preLaunch, code: .missingField, field: "body.window-start") {
            body(&$0) { $0[2] = nil }
        },
        Case(
            name: "extension ending before creation",
            type: .launchWindowExtension,
            code: .invalidField,
            field: "body.new-window-end"
        ) { body(&$0) { $0[1] = time(-1) } },
        Case(name: "cancellation reason 5", type: .launchCancellation, code: .invalidField, field: "body.reason") {
            body(&$0) { $0[1] = 5 }
        },
        Case(
            name: "launch reported in the future",
            type: .postLaunchReport,
            code: .invalidField,
            field: "body.launch-time"
        ) { body(&$0) { $0[2] = time(60) } },
        Case(name: "declaration for 1999", type: .annualDeclaration, code: .invalidField, field: "body.year") {
            body(&$0) { $0[1] = 1999 }
        },
        Case(
            name: "declared classes descending",
            type: .annualDeclaration,
            code: .invalidField,
            field: "body.launches[1]"
        ) { body(&$0) { $0[3] = [[2, 1], [1, 1]] } },
        Case(name: "100001 launches", type: .annualDeclaration, code: .invalidField, field: "body.launches[0][1]") {
            body(&$0) { $0[3] = [[1, 100_001]] }
        },
        Case(name: "item category with a space", type: .exportDenial, code: .invalidField, field: "body.item-category")
        { body(&$0) { $0[1] = "2 A 1" } },
        Case(name: "country in lower case", type: .exportDenial, code: .invalidField, field: "body.destination") {
            body(&$0) { $0[2] = "fr" }
        },
        Case(name: "30 February", type: .exportDenial, code: .invalidField, field: "body.denial-date") {
            body(&$0) { $0[5] = .tagged(1004, "2026-02-30") }
        },
        Case(
            name: "date without tag",
            type: .exportDenialWithdrawal,
            code: .invalidField,
            field: "body.withdrawal-date"
        ) { body(&$0) { $0[1] = "2026-12-01" } },
        Case(name: "quantity 0", type: .treatyEvent, code: .invalidField, field: "body.quantity") {
            body(&$0) { $0[3] = 0 }
        },
        Case(name: "event kind 6", type: .treatyEvent, code: .invalidField, field: "body.kind") {
            body(&$0) { $0[1] = 6 }
        },
        Case(name: "acknowledgement with a body field", type: .acknowledgement, code: .unknownField, field: "body") {
            body(&$0) { $0[1] = 1 }
        },
        Case(
            name: "correction of an acknowledgement",
            type: .correction,
            code: .invalidField,
            field: "body.corrected-type"
        ) {
            body(&$0) {
                $0[1] = 9
                $0[2] = .map([:])
            }
        },
        Case(name: "correction of a correction", type: .correction, code: .invalidField, field: "body.corrected-type") {
            body(&$0) { $0[1] = 10 }
        },
        Case(
            name: "corrected body breaking its type's rules",
            type: .correction,
            code: .invalidField,
            field: "body.corrected-body.azimuth"
        ) {
            body(&$0) {
                var inner = $0[2]!.mapValue!
                inner[6] = 40_000
                $0[2] = .map(inner)
            }
        },
        Case(name: "empty subject", type: .generalCommunication, code: .invalidField, field: "body.subject") {
            body(&$0) { $0[1] = "" }
        },
        Case(
            name: "polygon repeating its first vertex",
            type: .preLaunch,
            code: .invalidField,
            field: "body.launch-area"
        ) {
            body(&$0) { $0[4] = [1, [[0, 0], [0, 1_000_000], [1_000_000, 0], [0, 0]]] }
        },
        Case(
            name: "impact polygon repeating its first vertex",
            type: .postLaunchReport,
            code: .invalidField,
            field: "body.impact-area"
        ) {
            body(&$0) { $0[5] = [1, [[5, 5], [0, 1_000_000], [1_000_000, 0], [5, 5]]] }
        },
        Case(name: "float in the body", type: .preLaunch, code: .invalidField, field: "body.azimuth") {
            body(&$0) { $0[6] = .float(90.5) }
        },
        Case(name: "null in the body", type: .preLaunch, code: .invalidField, field: "body.designator") {
            body(&$0) { $0[8] = .null }
        },
        Case(name: "text without language", type: .generalCommunication, code: .invalidField, field: "body.text") {
            body(&$0) { $0[2] = "hello" }
        },
    ]

    @Test(arguments: cases)
    func brokenRuleIsRefusedNamingTheField(_ c: Case) throws {
        var map = try #require(Examples.envelope(c.type).cbor.mapValue)
        c.mutate(&map)
        #expect { try Envelope(decoding: CBOREncoder.encode(.map(map))) } throws: { error in
            guard let error = error as? ProtocolError else { return false }
            return error.code == c.code && error.field == c.field
        }
    }

    @Test func correctionDoesNotReapplyTimingRules() throws {
        // A corrected pre-launch whose window has closed since: the correction is still valid.
        var inner = Examples.preLaunch
        inner.windowStart = Examples.created + -86_400
        inner.windowEnd = Examples.created + -3600
        var envelope = Examples.envelope(.correction)
        envelope.body = .correction(.preLaunch(inner))
        try envelope.validate()
        #expect(try Envelope(decoding: envelope.encoded) == envelope)
    }

    @Test func nonDeterministicEnvelopeIsMalformed() throws {
        var bytes = Examples.envelope(.acknowledgement).encoded
        // Re-encode the version (key 1, value 1) with a 1-byte argument.
        let index = try #require(bytes.firstIndex(of: 0x01))
        bytes.replaceSubrange(index...index + 1, with: [0x01, 0x18, 0x01])
        #expect { try Envelope(decoding: bytes) } throws: { ($0 as? ProtocolError)?.code == .malformed }
    }

    @Test func errorsMapToRejectionCodes() {
        #expect(ProtocolError(.unknownType, "").rejectionCode == .unknownType)
        #expect(ProtocolError(.invalidField, "").rejectionCode == .invalidBody)
        #expect(ProtocolError(.unsupportedVersion, "").rejectionCode == .unsupportedVersion)
        #expect(ProtocolError(.malformed, "").rejectionCode == .malformed)
    }
}
