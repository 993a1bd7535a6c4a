import ArgumentParser

/// The `parley` command line: offline tools for notifications, and the node's admin client.
@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "Compose, sign, verify and inspect Parley notifications.",
        subcommands: [Verify.self, Inspect.self, Bench.self]
    )
}

/// `parley bench ...`: throughput measured against a reference taken in the same run.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Parley's throughput against a reference measured in the same run.",
        subcommands: [BenchCodec.self, BenchStore.self, BenchCrypto.self]
    )
}
