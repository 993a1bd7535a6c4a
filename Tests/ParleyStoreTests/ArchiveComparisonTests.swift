import Foundation
import ParleyProtocol
import ParleyStore
import ParleyTestSupport
import Testing

/// `ArchiveComparison` (ARCHIVE.md §6): two participants' archives of the same channel.
@Suite struct ArchiveComparisonTests {
    let dir = TemporaryDirectory()

    /// US-NRRC sends 1…`count` to RU-NRRC; RU-NRRC accepts those in `delivered` (with `tampered`
    /// arriving with other bytes); US-NRRC holds the receipts of `receipted`.
    func archives(
        count: Int,
        delivered: [Int],
        tampered: Int? = nil,
        receipted: [Int]
    ) async throws -> (us: String, ru: String) {
        let us = try ParleyStore(path: dir.path("us.sqlite"))
        let ru = try ParleyStore(path: dir.path("ru.sqlite"))
        let at = Fixture.base + 100
        for n in 1...count {
            try await us.queue(Fixture.id(n), to: [Fixture.ru], at: at)
        }
        @Sendable func receiptBytes(_ n: Int) -> Data { Data("receipt of \(n) by RU-NRRC".utf8) }
        for n in delivered {
            let fields = Fixture.fields(Fixture.id(n), created: at, label: n == tampered ? "other" : "out")
            let message = IncomingMessage(
                fields: fields,
                sender: Fixture.us.pid,
                recipient: Fixture.ru.pid,
                sequenceNumber: UInt64(n),
                received: at + 1
            )
            _ = try await ru.accept(message) { _ in receiptBytes(n) }
        }
        for n in receipted {
            try await us.markInFlight(Fixture.id(n), recipient: Fixture.ru.pid, at: at + 1)
            _ = try await us.recordReceipt(
                ReceivedReceipt(
                    bytes: receiptBytes(n),
                    messageID: Fixture.id(n),
                    recipient: Fixture.ru.pid,
                    status: .accepted,
                    received: at + 1
                )
            )
        }
        let paths = (us: dir.path("us.parley"), ru: dir.path("ru.parley"))
        try await us.exportArchive(to: paths.us, exporter: Fixture.us.pid, from: Fixture.base, to: Fixture.base + 1_000)
        try await ru.exportArchive(to: paths.ru, exporter: Fixture.ru.pid, from: Fixture.base, to: Fixture.base + 1_000)
        return paths
    }

    @Test func archivesThatAgreeHaveNoFindings() async throws {
        let paths = try await archives(count: 3, delivered: [1, 2, 3], receipted: [1, 2, 3])
        let comparison = try ArchiveComparison.compare(paths: [paths.us, paths.ru])
        #expect(comparison.findings.isEmpty, "\(comparison.findings)")
        #expect(comparison.messagesInCommon == 3)
        #expect(comparison.sides.map(\.header.exporter) == [Fixture.us, Fixture.ru])
    }

    @Test func everyKindOfDisagreementIsFound() async throws {
        // 3 never arrived (RU sees a gap after 4), 5 arrived with other bytes, RU's receipt of 2
        // never reached US.
        let paths = try await archives(count: 5, delivered: [1, 2, 4, 5], tampered: 5, receipted: [1, 4])
        let comparison = try ArchiveComparison.compare(paths: [paths.us, paths.ru])
        let findings = Set(comparison.findings)
        #expect(findings.contains(.differentBytes(Fixture.id(5), sides: [0, 1])))
        #expect(findings.contains(.messageMissing(Fixture.id(3), heldBy: 0, missingFrom: 1)))
        #expect(
            findings.contains(
                .gapOnlyAtRecipient(
                    sender: Fixture.us,
                    recipient: Fixture.ru,
                    sequenceNumber: 3,
                    message: Fixture.id(3),
                    recipientSide: 1,
                    senderSide: 0
                )
            )
        )
        let missingReceipts = comparison.findings.compactMap { finding -> MessageID? in
            if case .receiptMissing(let id, let signer, _, let heldBy, let missingFrom) = finding, signer == Fixture.ru,
                heldBy == 1, missingFrom == 0
            {
                return id
            }
            return nil
        }
        #expect(Set(missingReceipts) == [Fixture.id(2), Fixture.id(5)], "\(comparison.findings)")
        #expect(comparison.findings.count == 5, "\(comparison.findings)")
        // Each finding reads as a sentence that names the message and the archives.
        let text = comparison.findings.map(\.description).joined(separator: "\n")
        #expect(text.contains(Fixture.id(5).description) && text.contains("#1") && text.contains("#2"))
        #expect(!text.contains("differentBytes") && !text.contains("gapOnlyAtRecipient"))
    }

    @Test func aDamagedArchiveIsRefused() async throws {
        let paths = try await archives(count: 1, delivered: [1], receipted: [1])
        var bytes = try Data(contentsOf: URL(fileURLWithPath: paths.ru))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: paths.ru))
        #expect(throws: StoreError.self) { try ArchiveComparison.compare(paths: [paths.us, paths.ru]) }
    }
}
