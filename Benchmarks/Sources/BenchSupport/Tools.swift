#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The Parley source tree this package was built from (Benchmarks/ is inside it).
public let sourceRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Certs/make-test-pki.sh of the source tree.
public func testPKIScript() throws -> String {
    let script = sourceRoot.appendingPathComponent("Certs/make-test-pki.sh").path
    guard FileManager.default.fileExists(atPath: script) else {
        throw BenchError("the test-PKI script is not at \(script); run the benchmarks from a Parley source tree")
    }
    return script
}

/// Makes a test PKI for `participants` with `--alg` `algorithm` (ed25519, p256, p384) in `directory`.
public func makeTestPKI(in directory: String, algorithm: String, participants: [String]) throws {
    _ = try runTool("bash", [try testPKIScript(), "--alg", algorithm, directory] + participants)
}

/// Runs a tool and returns its standard output (standard error is discarded).
///
/// Spawned with posix_spawn and an empty signal mask: Foundation's `Process` passes on the parent's
/// blocked signals, and `openssl speed` ends each measurement with SIGALRM, so under `Process` it
/// would never stop.
public func runTool(_ executable: String, _ arguments: [String]) throws -> String {
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { throw BenchError("pipe failed: \(String(cString: strerror(errno)))") }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGALRM, SIGTERM, SIGINT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigmask(&attributes, &emptyMask)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    var pid: pid_t = 0
    let status = posix_spawnp(&pid, executable, &actions, &attributes, argv, environ)
    close(pipeEnds[1])
    guard status == 0 else {
        close(pipeEnds[0])
        throw BenchError("cannot run \(executable): \(String(cString: strerror(status)))")
    }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        output.append(contentsOf: buffer[0..<count])
    }
    close(pipeEnds[0])
    var exitStatus: Int32 = 0
    while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
    let exited = exitStatus & 0x7f == 0
    let code = (exitStatus >> 8) & 0xff
    guard exited && code == 0 else {
        throw BenchError(
            "\(executable) \(arguments.prefix(3).joined(separator: " ")) failed (wait status \(exitStatus))"
        )
    }
    return String(decoding: output, as: UTF8.self)
}
