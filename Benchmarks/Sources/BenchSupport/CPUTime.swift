import Foundation

/// Runs `body` repeatedly for about `seconds` of this thread's CPU time and returns operations per
/// CPU-second: the throughput of one core, whatever else the machine is running.
func measureRate(seconds: Double, batch: Int = 1_000, _ body: () throws -> Void) rethrows -> Double {
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
func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func formatRate(_ rate: Double) -> String {
    rate >= 1_000_000 ? String(format: "%.2f M/s", rate / 1_000_000) : String(format: "%.0f /s", rate)
}

/// Keeps the optimiser from removing work whose result is otherwise unused.
@inline(never)
func blackHole<T>(_ value: T) {}
