import ArgumentParser
import Foundation
import ParleyCodec
import ParleyCrypto
import ParleyProtocol
import ParleyStore
#if canImport(Glibc)
import Glibc
#endif

/// The exit statuses of `parley` (sysexits.h numbers), documented in `parley --help` and README.md.
enum ExitStatus {
    static let ok: Int32 = 0
    /// A message, receipt or archive did not verify.
    static let verificationFailed: Int32 = 1
    /// `status`: the node works but reports warnings (a certificate to renew, expired deliveries, a failed reload).
    static let warnings: Int32 = 2
    /// Wrong options or arguments.
    static let usage: Int32 = 64
    /// The input is not valid: a composition with a bad field, a malformed key, certificate or archive.
    static let invalidData: Int32 = 65
    /// An input file does not exist or cannot be read.
    static let noInput: Int32 = 66
    /// A tool the command needs (openssl, the test-PKI script) is not available.
    static let unavailable: Int32 = 69
    /// An internal error, or a helper the command runs failed (e.g. the test-PKI script).
    static let software: Int32 = 70
    /// An output file exists already (never overwritten) or cannot be created.
    static let cannotCreate: Int32 = 73
    /// Reading or writing failed part way.
    static let ioError: Int32 = 74
    /// A private key file has loose permissions or the passphrase is wrong.
    static let permission: Int32 = 77
    /// parleyd refused a reload: its configuration (or trust) files have problems.
    static let configuration: Int32 = 78

    /// The table of `parley --help` and README.md; every line fits 80 columns (ArgumentParser wraps
    /// longer ones at column 0).
    static let helpText = """
        Exit status (sysexits.h):
          0   success (verify commands: everything verified)
          1   verification failed (a message, receipt or archive is not valid);
              status: the node reports a problem
          2   status: the node works but reports warnings (a certificate to renew,
              expired deliveries, a failed reload)
          64  usage error (unknown option, missing or malformed argument)
          65  invalid input data (a composition field, key, certificate, CRL or
              archive is not valid), or parleyd refused the request
          66  an input file is missing or unreadable, or parleyd holds no such
              message
          69  a required tool is unavailable (openssl, Certs/make-test-pki.sh), or
              parleyd cannot be reached
          70  internal error, or a helper program failed (its messages are shown)
          73  an output file already exists or cannot be created (nothing is
              overwritten)
          74  input/output error while reading or writing
          77  permission problem (private key file readable by others, wrong
              passphrase)
          78  reload: parleyd kept its configuration or trust because a file has
              problems (each is listed)
        """

    /// The pointer each subcommand's help gives instead of repeating the table.
    static let seeTable = "Exit statuses of every command: see `parley --help`."
}

/// A user-facing failure: one line saying what is wrong and what to do, and an exit status.
struct CLIError: Error, CustomStringConvertible {
    var status: Int32
    var message: String

    init(_ status: Int32, _ message: String) {
        self.status = status
        self.message = message
    }

    var description: String { message }

    /// The line and status for any error a command throws: the error's operator-facing text (never
    /// a Swift case name or a source location) and the status of the exit table.
    static func describe(_ error: Error) -> CLIError {
        switch error {
        case let error as CLIError:
            return error
        case let error as ProtocolError:
            var text = error.field.isEmpty ? error.reason : "\(error.field): \(error.reason)"
            if error.code == .invalidSigningIdentity { text += " (check --key and --cert)" }
            return CLIError(ExitStatus.invalidData, text)
        case let error as CryptoError:
            let status: Int32 =
                switch error.code {
                case .fileAccess: ExitStatus.noInput
                case .fileExists: ExitStatus.cannotCreate
                case .insecureKeyFile, .wrongPassphrase, .passphraseRequired: ExitStatus.permission
                default: ExitStatus.invalidData
                }
            return CLIError(status, error.description)
        case let error as ChainVerificationError:
            return CLIError(ExitStatus.invalidData, error.description)
        case let error as StoreError:
            let status: Int32 =
                switch error.code {
                case .archiveInvalid, .corrupt, .notAParleyStore: ExitStatus.invalidData
                case .cannotOpen, .notFound: ExitStatus.noInput
                default: ExitStatus.ioError
                }
            return CLIError(status, error.reason)
        case let error as CodecError:
            return CLIError(ExitStatus.invalidData, "not valid CBOR: \(error)")
        default:
            let text = (error as? LocalizedError)?.errorDescription ?? (error as NSError).localizedDescription
            return CLIError(
                ExitStatus.software,
                "internal error: \(text); please report it with the command that caused it"
            )
        }
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data("parley: error: \(line)\n".utf8))
}

/// Writes `bytes` to a new file; never replaces an existing one.
func writeNewFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
    do {
        try DurableFile.write(bytes, to: path, mode: mode)
    } catch {
        throw CLIError(writing: error)
    }
}

/// Replaces `path` atomically (`DurableFile`): the old contents or the new, never a torn file.
func replaceFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
    do {
        try DurableFile.write(bytes, to: path, replacing: true)
    } catch {
        throw CLIError(writing: error)
    }
}

extension CLIError {
    /// A file the CLI writes could not be written: 73 when it cannot be created (or exists), 74 when
    /// writing, syncing or moving it into place failed.
    init(writing error: DurableFileError) {
        switch error.step {
        case .exists:
            self.init(ExitStatus.cannotCreate, "\(error.path) exists already; choose another --out or remove it first")
        case .create: self.init(ExitStatus.cannotCreate, error.description)
        case .write, .sync, .rename: self.init(ExitStatus.ioError, error.description)
        }
    }
}

/// The bytes of an input file, with exit status 66 when it cannot be read.
func readInputFile(_ path: String, what: String, limit: Int = 16 * 1_048_576) throws -> [UInt8] {
    if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError(ExitStatus.noInput, "cannot read \(what) \(path): no such file, or no permission to read it")
    }
    guard data.count <= limit else {
        throw CLIError(ExitStatus.invalidData, "\(what) \(path) is \(data.count) bytes; at most \(limit) are accepted")
    }
    return Array(data)
}
