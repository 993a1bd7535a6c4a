import Foundation

/// Runs `body` repeatedly for about `seconds` and returns operations per second (single thread).
func measureRate(seconds: Double, batch: Int = 1_000, _ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    // Warm up caches and lazy initialisation before timing.
    for _ in 0..<min(batch, 100) { try body() }
    var operations = 0
    let start = clock.now
    let deadline = start + .milliseconds(Int64(seconds * 1000))
    while clock.now < deadline {
        for _ in 0..<batch { try body() }
        operations += batch
    }
    let elapsed = clock.now - start
    let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(operations) / elapsedSeconds
}

func formatRate(_ rate: Double) -> String {
    rate >= 1_000_000 ? String(format: "%.2f M/s", rate / 1_000_000) : String(format: "%.0f /s", rate)
}

/// Keeps the optimiser from removing work whose result is otherwise unused.
@inline(never)
func blackHole<T>(_ value: T) {}
