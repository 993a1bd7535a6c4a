import Foundation
import GRDB
@testable import ParleyNode
import ParleyProtocol
import ParleyStore
import Synchronization
import Testing
import ParleyTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Found by the fault-injection soak (Tests/Soak, issue 7): when a delivery attempt failed while the
/// sender's store refused writes (a full disk), the failure could not be recorded and the delivery
/// stayed `inflight`, which is never due again: it waited for a daemon restart.
@Suite(.serialized) struct DeliveryRecoveryTests {
    @Test func attemptThatFailsWhileTheStoreRefusesWritesIsRetriedOnceItAcceptsThem() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let peer = try ClosingListener()
        let configuration = try pki.nodeConfiguration(
            "US-NRRC",
            port: try freePort(),
            peers: ["RU-NRRC": peer.port],
            directory: directory
        )
        let us = try await RunningNode(configuration)
        let draft = try JSONSerialization.data(withJSONObject: preLaunchComposition(recipients: ["RU-NRRC"]))
        let id = try await us.node.submit(try Composition(json: draft)).id

        // The first attempt is in flight once the peer sees a connection. Lock the store (every
        // write now fails with busy after the store's 5 s timeout), then fail the attempt: from now
        // on the peer closes every connection at once.
        try await waitUntil("the first attempt") { peer.connections >= 1 }
        #expect(try await us.node.store.message(id)?.deliveries.first?.state == .inFlight)
        let lock = try DatabaseQueue(path: configuration.storePath)
        let (locked, released) = (Flag(), Flag())
        Thread {
            try? lock.inDatabase { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                locked.set()
                Thread.sleep(forTimeInterval: 12)
                try db.execute(sql: "COMMIT")
            }
            released.set()
        }.start()
        try await waitUntil("the store locked") { locked.isSet }
        peer.closeAll()
        try await waitUntil("the store unlocked", timeout: .seconds(60)) { released.isSet }

        // Once writes succeed again, the failure is recorded (the delivery is no longer in flight)
        // and the message is attempted again, without a restart.
        try await waitUntil("the failed attempt recorded", timeout: .seconds(30)) {
            let delivery = try await us.node.store.message(id)?.deliveries.first
            return delivery?.lastError != nil && delivery?.state != .inFlight
        }
        try await waitUntil("another attempt", timeout: .seconds(30)) {
            (try await us.node.store.message(id)?.deliveries.first?.attempts ?? 0) >= 2
        }
        #expect(try await us.node.store.message(id)?.deliveries.first?.lastError?.contains("transport") == true)
        peer.closeAll()
        await us.stop()
        peer.stop()
    }

    /// Found by review: a delivery settled while its attempt was out (cancelled by an operator,
    /// expired, delivered by a second attempt) made recording the failure throw "invalid state"
    /// forever; the request never finished and its window slot was never freed, so delivery to the
    /// peer stopped until a restart.
    @Test func aDeliverySettledWhileItsAttemptIsOutDoesNotHoldTheWindow() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let peer = try ClosingListener()
        var configuration = try pki.nodeConfiguration(
            "US-NRRC",
            port: try freePort(),
            peers: ["RU-NRRC": peer.port],
            directory: directory
        )
        configuration.limits.deliveryWindow = 1
        let us = try await RunningNode(configuration)
        func submit() async throws -> MessageID {
            try await us.node.submit(
                try Composition(
                    json: try JSONSerialization.data(withJSONObject: preLaunchComposition(recipients: ["RU-NRRC"]))
                )
            ).id
        }
        let first = try await submit()
        try await waitUntil("the first attempt") { peer.connections >= 1 }
        #expect(try await us.node.store.message(first)?.deliveries.first?.state == .inFlight)
        #expect(try await us.node.store.cancel(first, recipient: "RU-NRRC".pid, note: "test") == 1)
        peer.closeAll()
        let second = try await submit()
        try await waitUntil("the next message attempted", timeout: .seconds(30)) {
            (try await us.node.store.message(second)?.deliveries.first?.attempts ?? 0) >= 1
        }
        #expect(try await us.node.store.message(first)?.deliveries.first?.state == .cancelled)
        peer.closeAll()
        await us.stop()
        peer.stop()
    }
}

final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// A loopback TCP listener that accepts connections and never answers; after `closeAll()` it closes them.
final class ClosingListener: Sendable {
    let port: Int
    private let fd: Int32
    private let open = Mutex<[Int32]>([])
    private let accepted = Atomic<Int>(0)
    private let refusing = Flag()

    var connections: Int { accepted.load(ordering: .acquiring) }

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(descriptor >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        precondition(bound && listen(descriptor, 16) == 0)
        fd = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in
            while true {
                let client = accept(descriptor, nil, nil)
                if client < 0 { return }
                accepted.add(1, ordering: .releasing)
                if refusing.isSet {
                    close(client)
                    continue
                }
                open.withLock { $0.append(client) }
            }
        }
        thread.start()
    }

    /// Closes the open connections, and every later one as soon as it is accepted.
    func closeAll() {
        refusing.set()
        open.withLock { fds in
            for client in fds { close(client) }
            fds.removeAll()
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
