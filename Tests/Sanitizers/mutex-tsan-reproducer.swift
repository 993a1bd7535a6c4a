// ThreadSanitizer false positive with Synchronization.Mutex on Linux (Swift 6.3.1), for
// Tests/RELIABILITY.md §2. Every access below is inside `withLock`, yet
//   swiftc -O -sanitize=thread mutex-tsan-reproducer.swift -o m && ./m
// prints "WARNING: ThreadSanitizer: Swift access race"; the same program with a pthread mutex
// (NIOLock) prints none. Not part of any target.
import Synchronization
import Dispatch
final class Box: Sendable {
    struct S {
        var items: [Int] = []
        var flag = false
    }
    let state = Mutex(S())
}
let box = Box()
let q = DispatchQueue(label: "drain")
DispatchQueue.concurrentPerform(iterations: 20000) { i in
    let start = box.state.withLock { s in
        s.items.append(i)
        if s.flag { return false }
        s.flag = true
        return true
    }
    if start {
        q.async {
            while true {
                let taken = box.state.withLock { s -> [Int] in
                    let t = Array(s.items.prefix(8))
                    s.items.removeFirst(t.count)
                    if t.isEmpty { s.flag = false }
                    return t
                }
                if taken.isEmpty { return }
            }
        }
    }
}
q.sync {}
print("done")
