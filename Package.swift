// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Parley",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ParleyCodec", targets: ["ParleyCodec"]),
        .library(name: "ParleyCrypto", targets: ["ParleyCrypto"]),
        .library(name: "ParleyProtocol", targets: ["ParleyProtocol"]),
        .library(name: "ParleyStore", targets: ["ParleyStore"]),
        .executable(name: "parley", targets: ["parley"]),
        .library(name: "ParleyNode", targets: ["ParleyNode"]),
        .executable(name: "parleyd", targets: ["parleyd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // The system OpenSSL (libcrypto 3.x) with a shim header for macros and renamed functions.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // Deterministic CBOR, CBOR diagnostic notation and COSE_Sign1. No dependencies.
        .target(name: "ParleyCodec"),
        // Keys, signatures, certificates and trust on the system OpenSSL.
        .target(name: "ParleyCrypto", dependencies: ["COpenSSL", "ParleyCodec"]),
        // The Parley wire model: envelope, receipt, notification catalogue, validation, verification.
        .target(name: "ParleyProtocol", dependencies: ["ParleyCodec", "ParleyCrypto"]),
        // Durable outbox, inbox, receipts and channel state on SQLite.
        .target(
            name: "ParleyStore",
            dependencies: [
                "ParleyCodec", "ParleyCrypto", "ParleyProtocol", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            exclude: ["README.md"]
        ),
        // Writer process for ParleyStore's crash-durability test (killed with SIGKILL by the test).
        .executableTarget(name: "parley-store-crashtest", dependencies: ["ParleyStore", "ParleyProtocol"]),
        .executableTarget(
            name: "parley",
            dependencies: [
                "ParleyCodec", "ParleyCrypto", "ParleyProtocol", "ParleyStore", "ParleyNode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"]
        ),
        // The node daemon's services: configuration, peer server, delivery, admin API.
        .target(
            name: "ParleyNode",
            dependencies: [
                "ParleyCodec", "ParleyCrypto", "ParleyProtocol", "ParleyStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            exclude: ["README.md", "Admin/openapi.yaml"]
        ),
        .executableTarget(
            name: "parleyd",
            dependencies: [
                "ParleyNode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Helpers every test target shares, like NIOTestUtils: the test PKI, temporary directories,
        // free ports, hex constants and nodes running in the test process. Not a product.
        .target(
            name: "ParleyTestSupport",
            dependencies: [
                "ParleyCodec", "ParleyCrypto", "ParleyProtocol", "ParleyNode",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ParleyCodecTests",
            dependencies: ["ParleyCodec", "ParleyTestSupport"],
            exclude: ["Vectors"]
        ),
        .testTarget(
            name: "ParleyCryptoTests",
            dependencies: ["ParleyCrypto", "ParleyCodec", "ParleyTestSupport"],
            exclude: ["Vectors"]
        ),
        .testTarget(
            name: "ParleyProtocolTests",
            dependencies: ["ParleyProtocol", "ParleyCrypto", "ParleyCodec", "ParleyTestSupport"]
        ),
        // Runs the built `parley` executable as a subprocess (a dependency, so it is built first), and
        // the hostile-input catalogue (Tests/Hostile/) against an in-process node's peer endpoint.
        .testTarget(
            name: "ParleyCLITests",
            dependencies: [
                "ParleyProtocol", "ParleyCrypto", "ParleyCodec", "ParleyStore", "ParleyNode", "ParleyTestSupport",
                "parley",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "ParleyStoreTests",
            dependencies: [
                "ParleyStore", "ParleyCodec", "ParleyCrypto", "ParleyProtocol", "ParleyTestSupport",
                "parley-store-crashtest",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ParleyNodeTests",
            dependencies: [
                "ParleyNode", "ParleyStore", "ParleyCodec", "ParleyCrypto", "ParleyProtocol", "ParleyTestSupport",
                "parleyd",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Warnings are errors in Parley's own targets; a dependency's warnings stay warnings.
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
}
