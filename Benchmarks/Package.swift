// swift-tools-version:6.2
// Parley's benchmarks, kept out of the operator's `parley` tool. See README.md for how to run them
// and check their stored thresholds.
import PackageDescription

let package = Package(
    name: "ParleyBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Parley", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // package-benchmark suites: throughput, allocations and the ratio to a reference measured in
        // the same run, each with stored thresholds (Thresholds/).
        .executableTarget(
            name: "ParleyBenchmarks",
            dependencies: [
                "BenchSupport",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "ParleyCodec", package: "Parley"),
                .product(name: "ParleyCrypto", package: "Parley"),
                .product(name: "ParleyProtocol", package: "Parley"),
                .product(name: "ParleyStore", package: "Parley"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/ParleyBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // What the suites and the reports share: the workloads and their references.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "ParleyCodec", package: "Parley"),
                .product(name: "ParleyCrypto", package: "Parley"),
                .product(name: "ParleyProtocol", package: "Parley"),
            ]
        ),
        // `parley-bench codec|crypto|store|e2e`: the long reports with their options (a large store,
        // two parleyd processes end to end), which do not fit a micro-benchmark harness.
        .executableTarget(
            name: "parley-bench",
            dependencies: [
                "BenchSupport",
                .product(name: "ParleyCodec", package: "Parley"),
                .product(name: "ParleyCrypto", package: "Parley"),
                .product(name: "ParleyProtocol", package: "Parley"),
                .product(name: "ParleyStore", package: "Parley"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
}
