@preconcurrency import Benchmark
import BenchSupport

/// The metrics the suites store thresholds for, with how far a run may stray from them.
enum Metrics {
    /// Throughput divided by the reference's, measured right after it, in thousandths (a metric
    /// holds integers): the figure that holds while other work slows the machine.
    static let ratio = BenchmarkMetric.custom(
        "ratioToReferencePerMille",
        polarity: .prefersLarger,
        useScalingFactor: false
    )

    /// Allocations per operation (the same for the same code) and throughput.
    static let counted: [BenchmarkMetric] = [.throughput, .mallocCountTotal]

    static var tolerances: [BenchmarkMetric: BenchmarkThresholds] {
        [
            // The same code path allocates the same: a change is a change of code, not noise.
            .mallocCountTotal: .init(relative: [.p90: 1]),
            // A shared 2-core virtual machine: absolute speed moves by a third within minutes, so
            // this catches only a collapse; the ratio is the figure that catches a regression.
            .throughput: .init(relative: [.p90: 60]),
            // Both sides slow down together; what stays is the ratio (see `ratioConfiguration`).
            ratio: .init(relative: [.p90: 15]),
        ]
    }

    // Benchmark names have no spaces or slashes: `thresholds update` writes such names with
    // underscores, and `thresholds check` looks them up as they are.

    /// A configuration measuring `metrics`, `scalingFactor` operations per iteration.
    static func configuration(
        _ metrics: [BenchmarkMetric],
        scalingFactor: BenchmarkScalingFactor = .one,
        maxDuration: Duration = .seconds(3),
        maxIterations: Int = 100_000
    ) -> Benchmark.Configuration {
        .init(
            metrics: metrics,
            scalingFactor: scalingFactor,
            maxDuration: maxDuration,
            maxIterations: maxIterations,
            thresholds: tolerances.filter { metrics.contains($0.key) }
        )
    }

    /// A ratio benchmark's configuration: `rounds` iterations, each measuring both sides, and the
    /// tolerance in percent (wider where a round measures few operations or waits for the disk).
    static func ratioConfiguration(rounds: Int, tolerance: Double = 15) -> Benchmark.Configuration {
        .init(
            metrics: [ratio],
            warmupIterations: 1,
            maxDuration: .seconds(60),
            maxIterations: rounds,
            thresholds: [ratio: .init(relative: [.p90: tolerance])]
        )
    }

    /// Records a ratio (`interleavedRatio`, or two rates) as the ratio metric.
    static func record(_ benchmark: Benchmark, _ value: Double) {
        benchmark.measurement(ratio, Int((value * 1000).rounded()))
    }
}
