import Foundation
import ParleyTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
@testable import ParleyNode
import Testing

/// The `parleyd` executable: `--check-config` exit codes, SIGHUP and SIGTERM.
@Suite(.serialized) struct DaemonTests {
    static var parleyd: URL {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("parleyd")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return testBinary.deletingLastPathComponent().appendingPathComponent("parleyd")
    }

    func configFile(
        _ pki: TestPKI,
        directory: URL,
        port: Int,
        participant: String = "US-NRRC",
        metricsPort: Int? = nil
    ) throws -> String {
        let path = directory.appendingPathComponent("parleyd.json").path
        try writeConfigurationFile(
            path,
            pki,
            participant,
            port: port,
            adminSocket: "\(directory.path)/admin.sock",
            dataDirectory: directory.path,
            members: (metricsPort.map { [#""metrics": {"host": "127.0.0.1", "port": \#($0)}"#] } ?? [])
                + [#""peers": {"RU-NRRC": {"url": "https://127.0.0.1:1"}}"#]
        )
        return path
    }

    /// With `standardOutputAsJournal`, `JOURNAL_STREAM` names the output pipe, as systemd names the
    /// journal stream it connects.
    func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        standardOutputAsJournal: Bool = false
    ) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = Self.parleyd
        process.arguments = arguments
        let output = Pipe()
        var environment = environment
        if standardOutputAsJournal {
            var status = stat()
            try #require(fstat(output.fileHandleForWriting.fileDescriptor, &status) == 0)
            environment["JOURNAL_STREAM"] = "\(status.st_dev):\(status.st_ino)"
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Starts parleyd with `config`; its standard error goes to `log` (or nowhere).
    func launch(_ config: String, log: Pipe? = nil) throws -> Process {
        let process = Process()
        process.executableURL = Self.parleyd
        process.arguments = ["--config", config]
        process.standardError = log ?? FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs parleyd with `config` until it exits by itself: its status and standard error.
    func runToExit(_ config: String) throws -> (Int32, String) {
        let log = Pipe()
        let process = try launch(config, log: log)
        let text = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func checkConfigExitsZeroOrSeventyEightWithOneLinePerProblem() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.parleyd.path),
            "build parleyd: \(Self.parleyd.path)"
        )
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let path = try configFile(pki, directory: directory, port: 8443)
        let (ok, okOutput) = try run(["--config", path, "--check-config"])
        #expect(ok == 0, "\(okOutput)")
        let (bad, badOutput) = try run(
            ["--config", path, "--check-config"],
            environment: ["PARLEY_LISTEN_PORT": "99999", "PARLEY_TLS_KEY": "/nonexistent/tls.key"]
        )
        #expect(bad == 78)
        let lines = badOutput.split(separator: "\n")
        #expect(lines.count == 2, "\(badOutput)")
        #expect(lines.contains { $0.contains("listen.port:") })
        let (bad2, bad2Output) = try run(
            ["--config", path, "--check-config"],
            environment: ["PARLEY_TLS_KEY": "/nonexistent/tls.key"]
        )
        #expect(bad2 == 78)
        #expect(bad2Output.contains("tls.key:"))
        // Under systemd (JOURNAL_STREAM names standard output's stream) each problem carries the
        // error priority, so `journalctl -p err` shows why a start failed.
        let (journaled, journaledOutput) = try run(
            ["--config", path, "--check-config"],
            environment: ["PARLEY_TLS_KEY": "/nonexistent/tls.key"],
            standardOutputAsJournal: true
        )
        #expect(journaled == 78)
        #expect(journaledOutput.hasPrefix("<3>\(path): tls.key:"), "\(journaledOutput)")
    }

    @Test func readyAndStoppingArriveOnNotifySocket() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.parleyd.path),
            "build parleyd: \(Self.parleyd.path)"
        )
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let metricsPort = try freePort()
        let path = try configFile(pki, directory: directory, port: try freePort(), metricsPort: metricsPort)
        let socketPath = directory.appendingPathComponent("notify.sock").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in socketPath.utf8.enumerated() { buffer[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let process = Process()
        process.executableURL = Self.parleyd
        process.arguments = ["--config", path]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "400000",
        ]) { $1 }
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        func receive() -> String? {
            var buffer = [UInt8](repeating: 0, count: 512)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
        }
        let ready = receive()
        #expect(ready?.hasPrefix("READY=1") == true, "\(ready ?? "nothing")")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("admin.sock").path))
        #expect(receive() == "WATCHDOG=1")
        // The daemon's metrics listener serves the swift-prometheus registry.
        let (metricsData, metricsResponse) = try await URLSession.shared.data(
            from: URL(string: "http://127.0.0.1:\(metricsPort)/metrics")!
        )
        #expect((metricsResponse as? HTTPURLResponse)?.statusCode == 200)
        let exposition = String(decoding: metricsData, as: UTF8.self)
        #expect(
            exposition.contains("# TYPE parley_messages_received_total counter\nparley_messages_received_total 0\n"),
            "\(exposition)"
        )
        #expect(exposition.contains("parley_queue_depth{peer=\"RU-NRRC\"} 0.0\n"), "\(exposition)")
        process.terminate()
        var messages: [String] = []
        while let message = receive() {
            messages.append(message)
            if message == "STOPPING=1" { break }
        }
        #expect(messages.last == "STOPPING=1")
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test func sighupReloadsTrustAndSigtermStopsTheDaemonCleanly() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.parleyd.path),
            "build parleyd: \(Self.parleyd.path)"
        )
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let path = try configFile(pki, directory: directory, port: try freePort())
        let process = Process()
        process.executableURL = Self.parleyd
        process.arguments = ["--config", path]
        let log = Pipe()
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let socket = directory.appendingPathComponent("admin.sock").path
        try await waitUntil("the admin socket") { FileManager.default.fileExists(atPath: socket) }
        let attributes = try FileManager.default.attributesOfItem(atPath: socket)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        try await Task.sleep(for: .milliseconds(300))
        // SIGHUP re-reads the file: the retry policy applies, a new listen address waits for a restart.
        var edited = try String(contentsOfFile: path, encoding: .utf8)
        edited = edited.replacingOccurrences(of: "\"peers\":", with: "\"retry\": {\"initialSeconds\": 7}, \"peers\":")
            .replacingOccurrences(of: "\"host\": \"127.0.0.1\"", with: "\"host\": \"localhost\"")
        try Data(edited.utf8).write(to: URL(fileURLWithPath: path))
        kill(process.processIdentifier, SIGHUP)
        try await Task.sleep(for: .milliseconds(600))
        #expect(process.isRunning)
        process.terminate()  // SIGTERM
        try await waitUntil("parleyd to exit", timeout: .seconds(10)) { !process.isRunning }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        let text = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.contains("parleyd stopped"), "\(text)")
        #expect(text.contains("trust reloaded"), "\(text)")
        #expect(text.contains("reloaded, applied retry.initialSeconds"), "\(text)")
        #expect(text.contains("used only after a restart (systemctl restart parleyd): listen.host"), "\(text)")
    }

    /// A peer keeps its connection open between deliveries. On SIGTERM the node closes it with a TLS
    /// close_notify; the stop must not wait for NIOSSL's 5 s shutdown timeout (nor for a service's
    /// sleep): systemd's restart, and the time the node does not listen, depend on it.
    @Test func sigtermStopsPromptlyWhileAPeerHoldsAKeptAliveConnection() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.parleyd.path),
            "build parleyd: \(Self.parleyd.path)"
        )
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        let process = try launch(try configFile(pki, directory: directory, port: port))
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        var opened: NIOAsyncChannel<ByteBuffer, ByteBuffer>?
        let deadline = ContinuousClock.now + .seconds(60)
        while opened == nil && ContinuousClock.now < deadline {
            opened = try? await rawTLSConnection(pki, port: port, as: "RU-NRRC")
            if opened == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let connection = try #require(opened, "the peer listener")
        try await connection.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET /v1/health HTTP/1.1\r\nHost: us-nrrc\r\n\r\n"))
            var answer = ""
            var parts = inbound.makeAsyncIterator()
            while !answer.contains("\r\n\r\n"), let part = try await parts.next() { answer += String(buffer: part) }
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            // The connection stays open, read as a client would (so the server's close_notify is answered).
            let drained = Task { while (try? await parts.next()) != nil {} }
            try await Task.sleep(for: .milliseconds(300))
            let start = ContinuousClock.now
            kill(process.processIdentifier, SIGTERM)
            try await waitUntil("parleyd to exit", timeout: .seconds(15)) { !process.isRunning }
            let stopping = ContinuousClock.now - start
            _ = await drained.value
            #expect(process.terminationStatus == 0)
            #expect(stopping < .seconds(3), "parleyd took \(stopping) to stop")
        }
    }

    /// Two daemons on one store would number channels and sign from it at the same time: the second
    /// stops at once, naming the first. A second daemon on the first one's port says which address.
    @Test func aSecondDaemonOnTheSameDataDirectoryOrPortIsRefusedWithTheReason() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.parleyd.path),
            "build parleyd: \(Self.parleyd.path)"
        )
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let port = try freePort()
        let first = try launch(try configFile(pki, directory: directory, port: port))
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        try await waitUntil("the admin socket") {
            FileManager.default.fileExists(atPath: directory.appendingPathComponent("admin.sock").path)
        }

        let other = try temporaryDirectory()
        let path = other.appendingPathComponent("second.json").path
        try writeConfigurationFile(
            path,
            pki,
            "US-NRRC",
            port: try freePort(),
            adminSocket: "\(other.path)/admin.sock",
            dataDirectory: directory.path,
            members: [#""peers": {}"#]
        )
        let (secondStatus, text) = try runToExit(path)
        #expect(secondStatus == 1)
        #expect(
            text.contains(
                "dataDirectory: another parleyd (pid \(first.processIdentifier)) is running on \(directory.path)"
            ),
            "\(text)"
        )
        #expect(!FileManager.default.fileExists(atPath: "\(other.path)/admin.sock"))
        #expect(first.isRunning)

        // On its own data directory but the first one's port: the address in use is named, and the
        // admin socket it had bound is removed again.
        let otherData = other.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: otherData, withIntermediateDirectories: true)
        try writeConfigurationFile(
            path,
            pki,
            "US-NRRC",
            port: port,
            adminSocket: "\(other.path)/admin.sock",
            dataDirectory: otherData.path,
            members: [#""peers": {}"#]
        )
        let (thirdStatus, thirdText) = try runToExit(path)
        #expect(thirdStatus == 1)
        #expect(thirdText.contains("parleyd failed: address already in use (listen 127.0.0.1:\(port))"), "\(thirdText)")
        #expect(!thirdText.contains("critical parleyd: [ParleyNode]"), "\(thirdText)")
        #expect(!FileManager.default.fileExists(atPath: "\(other.path)/admin.sock"))

        first.terminate()
        try await waitUntil("parleyd to exit", timeout: .seconds(15)) { !first.isRunning }
    }
}
