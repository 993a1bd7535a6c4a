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
        Benchmark("Crypto.\(name).SignMessage", configuration: Metrics.configuration([.throughput, .mallocCountTotal]))
        { benchmark, work in
            for _ in benchmark.scaledIterations { try work.signMessage() }
        } setup: {
            try setup()
        }

        Benchmark(
            "Crypto.\(name).VerifyMessage",
            configuration: Metrics.configuration([.throughput, .mallocCountTotal])
        ) { benchmark, work in
            for _ in benchmark.scaledIterations { try work.verifyMessage() }
        } setup: {
            try setup()
        }

        Benchmark(
            "Crypto.\(name).SignMessageRatioToOpenSSLSign",
            configuration: Metrics.ratioConfiguration(rounds: 5, tolerance: 25)
        ) { benchmark, work in
            Metrics.record(benchmark, try interleavedRatio(seconds: 0.5, batch: 4, work.signMessage, work.signBytes))
        } setup: {
            try setup()
        }

        Benchmark(
            "Crypto.\(name).VerifyMessageRatioToOpenSSLVerify",
            configuration: Metrics.ratioConfiguration(rounds: 5, tolerance: 25)
        ) { benchmark, work in
            Metrics.record(
                benchmark,
                try interleavedRatio(seconds: 0.5, batch: 4, work.verifyMessage, work.verifyBytes)
            )
        } setup: {
            try setup()
        }
    }
}
