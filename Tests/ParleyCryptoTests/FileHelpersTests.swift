import Foundation
import ParleyCrypto
import ParleyTestSupport
import Testing

/// `DurableFile` (write, sync, rename into place) and `FileLock` (flock), the one home of each.
@Suite struct FileHelpersTests {
    let directory = TemporaryDirectory()

    func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func aFileAppearsOnlyWhenCommitted() throws {
        let path = directory.path("archive")
        let file = try DurableFile(path: path, mode: 0o600)
        try file.write(Array("first ".utf8))
        try file.write(Data("second".utf8))
        #expect(contents(path) == nil)
        #expect(contents(file.temporaryPath) == "first second")
        try file.commit()
        #expect(contents(path) == "first second")
        #expect(!FileManager.default.fileExists(atPath: file.temporaryPath))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func anExistingFileIsReplacedOnlyWhenAsked() throws {
        let path = directory.path("state.json")
        try DurableFile.write(Array("old".utf8), to: path)
        #expect { try DurableFile.write(Array("new".utf8), to: path) } throws: { error in
            (error as? DurableFileError)?.step == .exists && "\(error)" == "\(path) exists already"
        }
        #expect(contents(path) == "old")
        try DurableFile.write(Array("new".utf8), to: path, replacing: true)
        #expect(contents(path) == "new")
    }

    @Test func anAbandonedWriteLeavesTheOldFile() throws {
        let path = directory.path("kept")
        try DurableFile.write(Array("old".utf8), to: path)
        do {
            let file = try DurableFile(path: path, replacing: true)
            try file.write(Array("half-written".utf8))
            file.abandon()
            #expect(!FileManager.default.fileExists(atPath: file.temporaryPath))
        }
        #expect(contents(path) == "old")
        // Released without a commit: the same.
        do {
            let file = try DurableFile(path: path, replacing: true)
            try file.write(Array("dropped".utf8))
        }
        #expect(contents(path) == "old")
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
    }

    @Test func aPartialFileLeftBehindIsNotOverwrittenByANewFile() throws {
        let path = directory.path("export")
        #expect(FileManager.default.createFile(atPath: path + ".partial", contents: Data("earlier".utf8)))
        #expect { try DurableFile(path: path) } throws: { error in
            (error as? DurableFileError)?.step == .create
                && "\(error)".contains("left by an interrupted write? remove it")
        }
        #expect(contents(path + ".partial") == "earlier")
        #expect(contents(path) == nil)
    }

    @Test func aMissingDirectoryIsACreateError() throws {
        let path = directory.path("missing/file")
        #expect { try DurableFile.write([1, 2, 3], to: path) } throws: { error in
            (error as? DurableFileError)?.step == .create
                && "\(error)".hasPrefix("cannot create \(path).partial: No such file")
        }
    }

    @Test func aHeldLockIsReportedWithoutWaiting() throws {
        let path = directory.path("parleyd.lock")
        let first = try FileLock(path: path, mode: 0o600)
        first.record("4242\n")
        #expect(contents(path) == "4242\n")
        #expect { try FileLock(path: path, wait: false) } throws: { error in
            (error as? FileLockError)?.step == .held
        }
        first.release()
        let second = try FileLock(path: path, wait: false)
        second.record("7\n")
        #expect(contents(path) == "7\n")
    }

    @Test func aLockFileThatCannotBeCreatedSaysWhy() throws {
        let path = directory.path("missing/state.lock")
        #expect { try FileLock(path: path) } throws: { error in
            (error as? FileLockError)?.step == .open && "\(error)".hasPrefix("cannot create lock file \(path)")
        }
    }
}
