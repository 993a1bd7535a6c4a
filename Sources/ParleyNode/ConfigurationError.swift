/// One thing wrong with a configuration: the key and what is wrong with it.
public struct ConfigurationProblem: Sendable, Hashable, CustomStringConvertible {
    public var key: String
    public var problem: String
    public init(key: String, _ problem: String) {
        self.key = key
        self.problem = problem
    }
    public var description: String { "\(key): \(problem)" }
}

/// A configuration that cannot be used; `problems` has one entry per key.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var file: String?
    public var problems: [ConfigurationProblem]
    public init(file: String?, problems: [ConfigurationProblem]) {
        self.file = file
        self.problems = problems
    }
    public var description: String {
        "configuration\(file.map { " \($0)" } ?? "") is not usable:\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}
