import CCurl
import Foundation

/// Why a request failed. An opaque struct over a private code, so cases can be added without
/// breaking callers; compare with the static values (`error == .timeout`) or read `kind`.
public struct CurlHTTPError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Code: Hashable, Sendable {
        case timeout
        case connectTimeout
        case connectionRefused
        case dnsFailure
        case tls
        case connectionClosed
        case invalidURL
        case httpStatus(Int)
        case circuitOpen
        case bodyTooLarge(Int)
        case shutdown
        case transport(Int32)
        case decoding
    }

    let code: Code
    /// What libcurl or the client said, for logs; never for metric labels (see `kind`).
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The request ran past its timeout or deadline.
    public static let timeout = CurlHTTPError(.timeout, "")
    /// No connection could be made within the connect timeout.
    public static let connectTimeout = CurlHTTPError(.connectTimeout, "")
    /// The server refused the connection: nothing listens there.
    public static let connectionRefused = CurlHTTPError(.connectionRefused, "")
    /// The host name did not resolve.
    public static let dnsFailure = CurlHTTPError(.dnsFailure, "")
    /// The TLS handshake or certificate check failed.
    public static let tls = CurlHTTPError(.tls, "")
    /// The connection was closed or reset before the answer was complete.
    public static let connectionClosed = CurlHTTPError(.connectionClosed, "")
    /// The URL is not one libcurl can use.
    public static let invalidURL = CurlHTTPError(.invalidURL, "")
    /// The peer's circuit breaker is open: the call was not attempted.
    public static let circuitOpen = CurlHTTPError(.circuitOpen, "")
    /// The client is shut down and takes no more requests.
    public static let shutdown = CurlHTTPError(.shutdown, "")
    /// The answer was not the JSON the caller asked for.
    public static let decoding = CurlHTTPError(.decoding, "")

    /// An answer that did not decode as the expected type, with what was wrong (a `decoding` error).
    public static func undecodable(_ message: String) -> CurlHTTPError { CurlHTTPError(.decoding, message) }

    /// The server answered with a status the caller did not accept.
    public static func httpStatus(_ status: Int, _ message: String = "") -> CurlHTTPError {
        CurlHTTPError(.httpStatus(status), message.isEmpty ? "HTTP status \(status)" : message)
    }

    /// A body was larger than the caller allowed.
    public static func bodyTooLarge(limit: Int) -> CurlHTTPError {
        CurlHTTPError(.bodyTooLarge(limit), "body larger than \(limit) bytes")
    }

    /// The HTTP status, when this error is one.
    public var status: Int? {
        if case .httpStatus(let status) = code { return status }
        return nil
    }

    /// A short, fixed name for the error, safe as a metric label or a log field.
    public var kind: String {
        switch code {
        case .timeout: "timeout"
        case .connectTimeout: "connect_timeout"
        case .connectionRefused: "connection_refused"
        case .dnsFailure: "dns"
        case .tls: "tls"
        case .connectionClosed: "connection_closed"
        case .invalidURL: "invalid_url"
        case .httpStatus: "http_status"
        case .circuitOpen: "circuit_open"
        case .bodyTooLarge: "body_too_large"
        case .shutdown: "shutdown"
        case .transport: "transport"
        case .decoding: "decoding"
        }
    }

    /// Connection failures where the request may not have reached the server, or never completed.
    var isConnectionFailure: Bool {
        switch code {
        case .connectionRefused, .connectionClosed, .connectTimeout: true
        default: false
        }
    }

    public var description: String {
        message.isEmpty ? kind : "\(kind): \(message)"
    }

    /// Errors are equal when they are of the same kind; the message is only for people.
    public static func == (lhs: CurlHTTPError, rhs: CurlHTTPError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
    }

    /// Maps a finished transfer's libcurl result to an error, nil for success.
    static func from(result: CURLcode, osErrno: Int, message: String, url: String) -> CurlHTTPError? {
        let detail = message.isEmpty ? String(cString: fleet_curl_easy_strerror(result)) : message
        switch result {
        case CURLE_OK:
            return nil
        case CURLE_OPERATION_TIMEDOUT:
            return CurlHTTPError(.timeout, "\(url): \(detail)")
        case CURLE_COULDNT_CONNECT:
            if osErrno == Int(ECONNREFUSED) { return CurlHTTPError(.connectionRefused, "\(url): \(detail)") }
            if osErrno == Int(ETIMEDOUT) { return CurlHTTPError(.connectTimeout, "\(url): \(detail)") }
            return CurlHTTPError(.connectionRefused, "\(url): \(detail)")
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return CurlHTTPError(.dnsFailure, "\(url): \(detail)")
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE:
            return CurlHTTPError(.tls, "\(url): \(detail)")
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return CurlHTTPError(.connectionClosed, "\(url): \(detail)")
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return CurlHTTPError(.invalidURL, "\(url): \(detail)")
        default:
            return CurlHTTPError(.transport(Int32(result.rawValue)), "\(url): \(detail)")
        }
    }
}
