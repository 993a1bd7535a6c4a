import Benchmark
import BenchSupport

/// A pre-launch envelope encoded, decoded and validated, against Foundation's JSON codec on the same
/// notification (`parley-bench codec` adds cbor2 and prints the figures as a report).
func codecBenchmarks() {
    let work = CodecWorkload()

    Benchmark("Codec.EnvelopeEncodeDecode", configuration: Metrics.configuration(Metrics.counted, scalingFactor: .kilo))
    { benchmark in
        for _ in benchmark.scaledIterations { try work.envelopeRoundTrip() }
    }

    Benchmark(
        "Codec.FoundationJSONEncodeDecode",
        configuration: Metrics.configuration(Metrics.counted, scalingFactor: .kilo)
    ) { benchmark in
        for _ in benchmark.scaledIterations { try work.jsonRoundTrip() }
    }

    Benchmark("Codec.EnvelopeRatioToFoundationJSON", configuration: Metrics.ratioConfiguration(rounds: 8)) {
        benchmark in
        Metrics.record(benchmark, try interleavedRatio(seconds: 0.5, work.envelopeRoundTrip, work.jsonRoundTrip))
    }
}
