import Foundation
import NIOCore
import NIOPosix

/// What a failed connection to a peer means for an operator, in place of SwiftNIO's and
/// BoringSSL's own descriptions (`SingleConnectionFailure(target: …, error: connection reset (error
/// set): Connection refused) (errno: 111))`, `handshakeFailed(… SSLV3_ALERT_CERTIFICATE_UNKNOWN at
/// …/tls_record.cc:491])`). Errors it does not know keep their own description.
public enum TransportErrorText {
    static func explain(_ error: any Error) -> String {
        if let code = errnoCode(error) {
            switch code {
            case ECONNREFUSED:
                return
                    "connection refused: nothing listens at that address (is the peer's parleyd running, and is its URL right?)"
            case ETIMEDOUT: return "the connection timed out (the host is down, or a firewall drops the packets)"
            case EHOSTUNREACH, ENETUNREACH:
                return "no route to the host (\(String(cString: strerror(code)))): check the network path"
            case ECONNRESET, EPIPE: return "the connection was reset by the peer"
            default: break
            }
        }
        if let error = error as? ChannelError, case .connectTimeout(let timeout) = error {
            return
                "no connection within \(timeout.nanoseconds / 1_000_000_000) s (the host is down, or a firewall drops the packets)"
        }
        if let error = error as? NIOConnectionError, error.dnsAError != nil || error.dnsAAAAError != nil,
            error.connectionErrors.isEmpty
        {
            return "the host name \(error.host) does not resolve: check the peer's URL and DNS"
        }
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return
                "TLS handshake failed: this node refused the server's certificate (the 'TLS server refused' line of this log says why)"
        }
        let refusedUs = [
            "ALERT_CERTIFICATE_UNKNOWN", "ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_REVOKED",
            "ALERT_CERTIFICATE_EXPIRED", "ALERT_UNKNOWN_CA", "ALERT_ACCESS_DENIED", "ALERT_HANDSHAKE_FAILURE",
        ]
        if let alert = refusedUs.first(where: text.contains) {
            let name = alert.replacingOccurrences(of: "ALERT_", with: "").replacingOccurrences(of: "_", with: " ")
                .lowercased()
            return
                "TLS handshake failed: the peer refused this node's TLS certificate (alert: \(name)); its log says why: often its own CRLs are out of date, or it does not trust this node's CA or certificate"
        }
        return text
    }

    /// The system error (`errno`) behind a failed connection, as SwiftNIO reports it: an `IOError`,
    /// or the first `IOError` of a `NIOConnectionError`'s attempts.
    public static func errnoCode(_ error: any Error) -> Int32? {
        if let error = error as? IOError { return error.errnoCode }
        if let error = error as? NIOConnectionError {
            return error.connectionErrors.lazy.compactMap { ($0.error as? IOError)?.errnoCode }.first
        }
        return nil
    }
}

extension Node {
    /// Why the daemon stopped with `error`, for its last log line. SwiftNIO's "address already in
    /// use" does not say which address: the configured listeners that cannot be bound are named.
    public static func startFailureText(_ error: any Error, configuration: NodeConfiguration) -> String {
        guard let error = error as? IOError, error.errnoCode == EADDRINUSE else { return "\(error)" }
        var busy: [String] = []
        if !canBind(configuration.listenHost, configuration.listenPort) {
            busy.append("listen \(configuration.listenHost):\(configuration.listenPort)")
        }
        if let port = configuration.metricsPort, !canBind(configuration.metricsHost, port) {
            busy.append("metrics \(configuration.metricsHost):\(port)")
        }
        return
            "address already in use (\(busy.isEmpty ? "listen or metrics" : busy.joined(separator: ", "))): another parleyd or another program listens there; stop it, or change the port in the configuration"
    }

    /// Whether a TCP listener could be bound to `host`:`port` now.
    static func canBind(_ host: String, _ port: Int) -> Bool {
        guard let address = try? SocketAddress.makeAddressResolvingHost(host, port: port) else { return true }
        let fd = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        return address.withSockAddr { bind(fd, $0, socklen_t($1)) } == 0
    }
}
