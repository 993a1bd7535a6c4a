/// A benchmark that cannot run or whose run went wrong: one line saying what and what to do.
public struct BenchError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
