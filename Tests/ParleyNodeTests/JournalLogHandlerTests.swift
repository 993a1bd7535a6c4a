import Foundation
import Logging
@testable import ParleyNode
import Synchronization
import Testing

/// Journal lines: priority prefix per level, fields, one line per event.
struct JournalLogHandlerTests {
    final class Lines: Sendable {
        let storage = Mutex<[String]>([])
        var all: [String] { storage.withLock { $0 } }
    }

    @Test func eachEventIsOneLineWithItsPriorityAndSortedFields() {
        let lines = Lines()
        var logger = Logger(label: "parleyd") { _ in
            JournalLogHandler(write: { line in lines.storage.withLock { $0.append(line) } })
        }
        logger.logLevel = .debug
        logger[metadataKey: "peer"] = "RU-NRRC"
        logger.error("delivery attempt 3 failed:\nconnection refused", metadata: ["message": "0a1b"])
        logger.warning("gap open")
        logger.info("accepted")
        logger.notice("reloaded")
        logger.critical("EQUIVOCATION")
        logger.debug("polling")
        logger.trace("not written: below the level")
        #expect(
            lines.all == [
                "<3>delivery attempt 3 failed:\\nconnection refused message=0a1b peer=RU-NRRC\n",
                "<4>gap open peer=RU-NRRC\n",
                "<6>accepted peer=RU-NRRC\n",
                "<5>reloaded peer=RU-NRRC\n",
                "<2>EQUIVOCATION peer=RU-NRRC\n",
                "<7>polling peer=RU-NRRC\n",
            ]
        )
        #expect(lines.all.allSatisfy { $0.filter(\.isNewline).count == 1 })
    }

    @Test func journalStreamIsRecognisedOnlyForTheActualStandardError() throws {
        var status = stat()
        #expect(fstat(STDERR_FILENO, &status) == 0)
        let own = "\(status.st_dev):\(status.st_ino)"
        #expect(JournalLogHandler.standardErrorIsJournal(environment: ["JOURNAL_STREAM": own]))
        #expect(
            !JournalLogHandler.standardErrorIsJournal(environment: [
                "JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino &+ 1)"
            ])
        )
        #expect(!JournalLogHandler.standardErrorIsJournal(environment: ["JOURNAL_STREAM": "garbage"]))
        #expect(!JournalLogHandler.standardErrorIsJournal(environment: [:]))
    }
}
