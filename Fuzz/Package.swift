// swift-tools-version:6.0
// libFuzzer targets for Parley's decoders and verifier (issue 7). Build and run with ./run.sh.
import PackageDescription

let fuzzDependencies: [Target.Dependency] = [
    .product(name: "ParleyCodec", package: "Parley"),
    .product(name: "ParleyCrypto", package: "Parley"),
    .product(name: "ParleyProtocol", package: "Parley"),
]

let package = Package(
    name: "ParleyFuzz",
    platforms: [.macOS(.v15)],
    products: ["FuzzCBOR", "FuzzCOSE", "FuzzEnvelope", "FuzzVerify"].map { .executable(name: $0, targets: [$0]) },
    dependencies: [.package(name: "Parley", path: "..")],
    targets: ["FuzzCBOR", "FuzzCOSE", "FuzzEnvelope", "FuzzVerify"].map {
        .executableTarget(name: $0, dependencies: fuzzDependencies)
    },
    swiftLanguageModes: [.v6]
)
