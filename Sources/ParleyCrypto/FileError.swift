#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A step of a file operation, which words its failure for an operator.
public protocol FileErrorStep: Sendable, Hashable {
    func describe(path: String, errno: Int32, reason: String) -> String
}

/// A file operation that failed (`DurableFileError`, `FileLockError`): the step, the file and the
/// system's reason.
public struct FileError<Step: FileErrorStep>: Error, CustomStringConvertible {
    public let step: Step
    public let path: String
    public let errno: Int32

    public init(_ step: Step, path: String, errno: Int32) {
        self.step = step
        self.path = path
        self.errno = errno
    }

    /// The system's words for `errno`, e.g. "No space left on device".
    public var reason: String { String(cString: strerror(errno)) }

    public var description: String { step.describe(path: path, errno: errno, reason: reason) }
}
