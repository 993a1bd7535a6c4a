import Benchmark

/// Parley's benchmark suites (package-benchmark). Each workload is measured next to a reference in
/// the same run, and the ratio is a metric of its own with a stored threshold, so that a regression
/// shows on a machine whose speed drifts; instruction and allocation counts have stored thresholds too.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(3)
    Benchmark.defaultConfiguration.maxIterations = 100_000
    codecBenchmarks()
    cryptoBenchmarks()
    storeBenchmarks()
}
