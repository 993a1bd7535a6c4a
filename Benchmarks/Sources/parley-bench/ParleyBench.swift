import ArgumentParser

/// `parley-bench`: Parley's benchmarks as reports, each against a reference measured in the same run.
@main
struct ParleyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-bench",
        abstract: "Measure Parley's throughput against references measured in the same run.",
        discussion:
            "Build in release: swift run -c release --package-path Benchmarks --scratch-path .build-bench parley-bench codec",
        subcommands: [Codec.self, Crypto.self, Store.self, E2E.self]
    )
}
