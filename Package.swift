// swift-tools-version:6.0
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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
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
            dependencies: ["ParleyCodec", "ParleyCrypto", "ParleyProtocol", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["README.md"]
        ),
        // Writer process for ParleyStore's crash-durability test (killed with SIGKILL by the test).
        .executableTarget(name: "parley-store-crashtest", dependencies: ["ParleyStore", "ParleyProtocol"]),
        .executableTarget(
            name: "parley",
            dependencies: [
                "ParleyCodec", "ParleyCrypto", "ParleyProtocol", "ParleyStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(name: "ParleyCodecTests", dependencies: ["ParleyCodec"], exclude: ["Vectors"]),
        .testTarget(name: "ParleyCryptoTests", dependencies: ["ParleyCrypto", "ParleyCodec"], exclude: ["Vectors"]),
        .testTarget(
            name: "ParleyProtocolTests",
            dependencies: ["ParleyProtocol", "ParleyCrypto", "ParleyCodec"]
        ),
        // Runs the built `parley` executable as a subprocess (a dependency, so it is built first).
        .testTarget(
            name: "ParleyCLITests",
            dependencies: ["ParleyProtocol", "ParleyCrypto", "ParleyCodec", "ParleyStore", "parley"]
        ),
        .testTarget(
            name: "ParleyStoreTests",
            dependencies: [
                "ParleyStore", "ParleyCodec", "ParleyCrypto", "ParleyProtocol", "parley-store-crashtest",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
