import Foundation
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// The systemd notify protocol (sd_notify(3)): datagrams such as `READY=1` to `$NOTIFY_SOCKET`.
public struct SystemdNotifier: Sendable {
    public let socketPath: String

    /// nil when not started by systemd with `Type=notify` (no `NOTIFY_SOCKET`).
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty, path.utf8.count < 108 else { return nil }
        socketPath = path
    }

    /// Sends one state message; returns false (and changes nothing) if it could not be sent.
    @discardableResult
    public func send(_ state: String) -> Bool {
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in path.enumerated() { buffer[i] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sockaddrPointer, length) }
            }
        }
        return sent == message.count
        #else
        return false
        #endif
    }
}

/// Tells systemd `READY=1` once `isReady()` holds, `WATCHDOG=1` every half `WATCHDOG_USEC`, and
/// `STOPPING=1` when the service group starts to stop. Put it last in the group (stopped first).
public struct SystemdNotifyService: Service {
    let notifier: SystemdNotifier
    let watchdogInterval: Duration?
    let isReady: @Sendable () -> Bool
    let logger: Logger

    public init?(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger,
        isReady: @escaping @Sendable () -> Bool
    ) {
        guard let notifier = SystemdNotifier(environment: environment) else { return nil }
        self.notifier = notifier
        self.logger = logger
        self.isReady = isReady
        let pidMatches = environment["WATCHDOG_PID"].map { $0 == "\(getpid())" } ?? true
        if pidMatches, let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0 {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    public func run() async throws {
        let stop: @Sendable () -> Bool = { Task.isCancelled || Task.isShuttingDownGracefully }
        while !isReady() && !stop() { try? await Task.sleep(for: .milliseconds(20)) }
        if !stop() {
            notifier.send("READY=1\nSTATUS=listening")
            logger.info("systemd notified: READY=1")
        }
        var sinceWatchdog = Duration.zero
        while !stop() {
            try? await Task.sleep(for: .milliseconds(100))
            sinceWatchdog += .milliseconds(100)
            if let watchdogInterval, sinceWatchdog >= watchdogInterval {
                notifier.send("WATCHDOG=1")
                sinceWatchdog = .zero
            }
        }
        notifier.send("STOPPING=1")
    }
}
