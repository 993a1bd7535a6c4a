import Benchmark
import BenchSupport
import ParleyCrypto

/// Whole messages signed and verified per algorithm, against OpenSSL signing and verifying the same
/// Sig_structure bytes in the same run: the ratio is what Parley's framing and checks cost
/// (`parley-bench crypto` compares with `openssl speed` too).
func cryptoBenchmarks() {
    for algorithm in SignatureAlgorithm.allCases {
        let name = ["Ed25519", "ES256", "ES384"][SignatureAlgorithm.allCases.firstIndex(of: algorithm)!]
        let setup = { try SignedMessageWorkload(algorithm) }
        Benchmark("Crypto: \(name) sign message", configuration: Metrics.configuration([.throughput, .mallocCountTotal])) { benchmark, work in
            for _ in benchmark.scaledIterations { try work.signMessage() }
        } setup: { try setup() }

        Benchmark("Crypto: \(name) verify message", configuration: Metrics.configuration([.throughput, .mallocCountTotal])) { benchmark, work in
            for _ in benchmark.scaledIterations { try work.verifyMessage() }
        } setup: { try setup() }

        Benchmark("Crypto: \(name) sign message ÷ OpenSSL sign", configuration: Metrics.ratioConfiguration(rounds: 5)) { benchmark, work in
            let ours = try measureRate(seconds: 0.2, batch: 16, work.signMessage)
            let reference = try measureRate(seconds: 0.2, batch: 16, work.signBytes)
            Metrics.record(benchmark, ours: ours, reference: reference)
        } setup: { try setup() }

        Benchmark("Crypto: \(name) verify message ÷ OpenSSL verify", configuration: Metrics.ratioConfiguration(rounds: 5)) { benchmark, work in
            let ours = try measureRate(seconds: 0.2, batch: 16, work.verifyMessage)
            let reference = try measureRate(seconds: 0.2, batch: 16, work.verifyBytes)
            Metrics.record(benchmark, ours: ours, reference: reference)
        } setup: { try setup() }
    }
}
