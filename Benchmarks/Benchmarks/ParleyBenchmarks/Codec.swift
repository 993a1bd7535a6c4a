import Benchmark
import BenchSupport

/// A pre-launch envelope encoded, decoded and validated, against Foundation's JSON codec on the same
/// notification (`parley-bench codec` adds cbor2 and prints the figures as a report).
func codecBenchmarks() {
    let work = CodecWorkload()

    Benchmark("Codec: envelope encode + decode", configuration: Metrics.configuration(Metrics.counted, scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { try work.envelopeRoundTrip() }
    }

    Benchmark("Codec: Foundation JSON encode + decode (reference)",
              configuration: Metrics.configuration(Metrics.counted, scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { try work.jsonRoundTrip() }
    }

    Benchmark("Codec: envelope ÷ Foundation JSON", configuration: Metrics.ratioConfiguration(rounds: 8)) { benchmark in
        let ours = try measureRate(seconds: 0.25) { try work.envelopeRoundTrip() }
        let reference = try measureRate(seconds: 0.25, batch: 100) { try work.jsonRoundTrip() }
        Metrics.record(benchmark, ours: ours, reference: reference)
    }
}
