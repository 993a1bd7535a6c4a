// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Parley",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ParleyCodec", targets: ["ParleyCodec"]),
        .library(name: "ParleyCrypto", targets: ["ParleyCrypto"]),
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
        // Deterministic CBOR, COSE_Sign1 and the Parley wire types. No dependencies.
        .target(name: "ParleyCodec"),
        // Keys, signatures, certificates and trust on the system OpenSSL.
        .target(name: "ParleyCrypto", dependencies: ["COpenSSL", "ParleyCodec"]),
        // Durable outbox, inbox, receipts and channel state on SQLite.
        .target(
            name: "ParleyStore",
            dependencies: ["ParleyCodec", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .executableTarget(
            name: "parley",
            dependencies: [
                "ParleyCodec", "ParleyCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "ParleyCodecTests",
            dependencies: ["ParleyCodec"],
            exclude: ["Vectors"]
        ),
        .testTarget(name: "ParleyCryptoTests", dependencies: ["ParleyCrypto", "ParleyCodec"]),
        .testTarget(name: "ParleyStoreTests", dependencies: ["ParleyStore", "ParleyCodec"]),
    ],
    swiftLanguageModes: [.v6]
)
