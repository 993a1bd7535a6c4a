import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the trust anchors and CRLs on SIGHUP (configuration changes still need a restart).
struct TrustReloadService: Service {
    let node: Node

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            for await _ in signals.cancelOnGracefulShutdown() {
                do {
                    try node.reloadTrust()
                } catch {
                    node.logger.error("SIGHUP: trust not reloaded, the previous anchors and CRLs stay in use: \(error)")
                }
            }
        } onGracefulShutdown: {}
    }
}
