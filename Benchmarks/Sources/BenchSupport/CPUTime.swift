#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Runs `body` repeatedly for about `seconds` of this thread's CPU time and returns operations per
/// CPU-second: the throughput of one core, whatever else the machine is running.
public func measureRate(seconds: Double, batch: Int = 1_000, _ body: () throws -> Void) rethrows -> Double {
    // Warm up caches and lazy initialisation before timing.
    for _ in 0..<min(batch, 100) { try body() }
    var operations = 0
    let start = threadCPUSeconds()
    while threadCPUSeconds() - start < seconds {
        for _ in 0..<batch { try body() }
        operations += batch
    }
    return Double(operations) / (threadCPUSeconds() - start)
}

/// CPU time consumed by the calling thread.
public func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

public func formatRate(_ rate: Double) -> String {
    rate >= 1_000_000 ? String(format: "%.2f M/s", rate / 1_000_000) : String(format: "%.0f /s", rate)
}

/// Keeps the optimiser from removing work whose result is otherwise unused.
@inline(never)
public func opaque<T>(_ value: T) {}

/// The median of `values` (the mean of the middle two for an even count).
public func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Throughput of `ours` divided by that of `reference`, measured in alternating slices of about
/// `slice` CPU-seconds each, `seconds` in all: a change of the machine's speed (other work, a
/// virtual machine's steal time) falls on both sides alike, which separate measurements of a
/// quarter of a second each did not ensure on a shared 2-core machine.
public func interleavedRatio(
    seconds: Double,
    slice: Double = 0.01,
    batch: Int = 16,
    _ ours: () throws -> Void,
    _ reference: () throws -> Void
) rethrows -> Double {
    for _ in 0..<batch {
        try ours()
        try reference()
    }
    var counts = (ours: 0, reference: 0)
    var times = (ours: 0.0, reference: 0.0)
    func run(_ body: () throws -> Void) rethrows -> (operations: Int, seconds: Double) {
        var operations = 0
        let start = threadCPUSeconds()
        repeat {
            for _ in 0..<batch { try body() }
            operations += batch
        } while threadCPUSeconds() - start < slice
        return (operations, threadCPUSeconds() - start)
    }
    while times.ours + times.reference < seconds {
        let a = try run(ours)
        let b = try run(reference)
        counts.ours += a.operations
        times.ours += a.seconds
        counts.reference += b.operations
        times.reference += b.seconds
    }
    return (Double(counts.ours) / times.ours) / (Double(counts.reference) / times.reference)
}
