import Foundation
import ParleyCodec
import ParleyProtocol
import Testing

/// The batch body and its answer (SPEC.md §12.8): encoding, limits, and refusal of anything else.
struct MessageBatchTests {
    @Test func batchRoundTripsAsAnArrayOfByteStrings() throws {
        let messages: [[UInt8]] = [[0xD2, 0x84], Array(repeating: 7, count: 300), [0x01]]
        let encoded = MessageBatch(messages).encoded
        #expect(Array(encoded.prefix(3)) == [0x83, 0x42, 0xD2])
        #expect(try MessageBatch(decoding: encoded).messages == messages)
    }

    @Test func batchLimitsAndEncodingAreEnforced() throws {
        func code(_ bytes: [UInt8]) -> ProtocolError.Code? {
            do {
                _ = try MessageBatch(decoding: bytes)
                return nil
            } catch { return error.code }
        }
        #expect(code([0x80]) == .malformed)  // empty
        #expect(code([0xA0]) == .malformed)  // a map
        #expect(code([0x81, 0x61, 0x61]) == .malformed)  // a text string element
        #expect(code([0x9F, 0x41, 0x00, 0xFF]) == .malformed)  // indefinite length
        #expect(code([0x98, 0x01, 0x41, 0x00]) == .malformed)  // count not in shortest form
        #expect(code([0x81, 0x41, 0x00, 0x00]) == .malformed)  // trailing byte
        #expect(code([0x81, 0x81, 0x41, 0x00]) == .malformed)  // nested array
        #expect(code(MessageBatch(Array(repeating: [0], count: MessageBatch.maximumCount)).encoded) == nil)
        #expect(code(MessageBatch(Array(repeating: [0], count: MessageBatch.maximumCount + 1)).encoded) == .tooLarge)
        #expect(code([UInt8](repeating: 0, count: MessageBatch.maximumSize + 1)) == .tooLarge)
        let oversizedMessage = [UInt8](repeating: 1, count: MessageVerifier.maximumSize + 1)
        #expect(code(MessageBatch([oversizedMessage]).encoded) == .tooLarge)
    }

    @Test func answerRoundTripsReceiptsAndProblems() throws {
        let items: [BatchAnswer.Item] = [
            .receipt([0xD2, 0x84, 0x40]),
            .problem(BatchProblem(status: 400, name: "malformed", detail: "not a COSE_Sign1 message", parleyCode: 1)),
            .problem(BatchProblem(status: 503, name: "unavailable", detail: "store", retryAfter: 30)),
        ]
        let encoded = BatchAnswer(items).encoded
        #expect(try BatchAnswer(decoding: encoded, expectedCount: 3).items == items)
        // Deterministic: the same answer always has the same bytes, map keys in canonical order.
        #expect(encoded == BatchAnswer(items).encoded)
        #expect(throws: ProtocolError.self) { try BatchAnswer(decoding: encoded, expectedCount: 2) }
    }

    @Test func answerRefusesWhatIsNeitherAReceiptNorAProblem() throws {
        func refused(_ item: CBOR) -> Bool {
            var writer = CBORWriter()
            writer.writeArrayHeader(1)
            writer.write(item)
            return (try? BatchAnswer(decoding: writer.bytes, expectedCount: 1)) == nil
        }
        let good: CBORMap = ["status": 400, "type": "urn:parley:problem:malformed", "detail": "x"]
        #expect(!refused(.map(good)))
        var unknownField = good
        unknownField["extra"] = 1
        #expect(refused(.map(unknownField)))
        var successStatus = good
        successStatus["status"] = 200
        #expect(refused(.map(successStatus)))
        for type in ["about:blank", "urn:parley:problem:", "urn:parley:problem:Malformed", "urn:parley:problem:a b"] {
            var otherType = good
            otherType["type"] = .textString(type)
            #expect(refused(.map(otherType)), "\(type)")
        }
        #expect(refused(.textString("receipt")))
        #expect(refused(.unsignedInteger(1)))
    }
}

/// The committed batch vectors of `Protocol/vectors/batch/` (SPEC.md §12.8), built from the signed
/// vectors: exactly what this code encodes, and decoding to the same values.
/// `PARLEY_WRITE_VECTORS=1 swift test --filter MessageBatchVectorTests` rewrites them (after the signed vectors).
struct MessageBatchVectorTests {
    static let directory = VectorTests.directory.appendingPathComponent("batch")

    static func signed(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: VectorTests.directory.appendingPathComponent("signed/\(path)")))
    }

    static func check(_ name: String, _ bytes: [UInt8]) throws {
        let url = directory.appendingPathComponent(name)
        if VectorTests.writing {
            try Data(bytes).write(to: url)
        } else {
            #expect(Array(try Data(contentsOf: url)) == bytes, "\(name) differs from what the code encodes")
        }
    }

    @Test func batchOfThreeAlgorithms() throws {
        let messages = try ["ed25519", "p256", "p384"].map { try Self.signed("\($0)/message-pre-launch.cose") }
        let encoded = MessageBatch(messages).encoded
        try Self.check("message-batch-three-algorithms.cbor", encoded)
        #expect(try MessageBatch(decoding: encoded).messages == messages)
    }

    @Test func answerWithAReceiptAndAProblem() throws {
        let answer = BatchAnswer([
            .receipt(try Self.signed("ed25519/receipt-accepted.cose")),
            .problem(
                BatchProblem(
                    status: 400,
                    name: "malformed",
                    detail: "not a COSE_Sign1 message: the input is not CBOR",
                    parleyCode: 1
                )
            ),
            .problem(
                BatchProblem(
                    status: 503,
                    name: "unavailable",
                    detail: "the message could not be stored: disk full",
                    retryAfter: 30
                )
            ),
        ])
        try Self.check("batch-answer-receipt-and-problems.cbor", answer.encoded)
        #expect(try BatchAnswer(decoding: answer.encoded, expectedCount: 3) == answer)
    }
}
