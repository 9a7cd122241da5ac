import CCurl
import Logging
import Metrics

/// Everything a `CurlClient` is set up with; the defaults suit calls between services in a cluster.
public struct ClientConfiguration: Sendable {
    /// The HTTP versions libcurl may use.
    public enum HTTPVersion: Sendable {
        /// HTTP/2 over TLS when the server offers it (ALPN), HTTP/1.1 otherwise.
        case automatic
        /// HTTP/1.1 only.
        case http1
        /// HTTP/2 without TLS ("h2c" with prior knowledge), for peers known to speak it.
        /// libcurl 7.88 (Debian 12) fails to reuse such connections: see docs/client.md.
        case http2PriorKnowledge
    }

    /// Time allowed to set up a connection (TCP and TLS).
    public var connectTimeout: Duration = .seconds(2)
    /// Time allowed for one attempt, connect to last byte, unless the request sets its own.
    public var timeout: Duration = .seconds(10)
    /// Retries of idempotent requests.
    public var retry: RetryPolicy = RetryPolicy()
    /// The share of requests that may be retries.
    public var retryBudget: RetryBudgetPolicy = RetryBudgetPolicy()
    /// Per-peer circuit breaking.
    public var circuitBreaker: CircuitBreakerPolicy = CircuitBreakerPolicy()
    /// HTTP version negotiation.
    public var httpVersion: HTTPVersion = .automatic
    /// A PEM bundle of the CAs that sign peers' certificates (an in-cluster CA); the system's when nil.
    public var caCertificateFile: String?
    /// Idle connections kept for reuse, across all peers.
    public var maxIdleConnections: Int = 128
    /// Bytes of a streamed request body buffered ahead of the socket.
    public var uploadBufferBytes: Int = 256 * 1024
    /// Where the per-call debug lines go.
    public var logger: Logger = Logger(label: "curlhttp")
    /// Where `http_client_*` metrics go; the process-wide `MetricsSystem` when nil.
    public var metricsFactory: (any MetricsFactory)?
    /// Names the driver thread, to tell clients apart in `top -H` and thread counts.
    public var threadName: String = "curlhttp"
    /// Loads libcurl and answers why it could not, or nil. Run once, on NIO's blocking-I/O pool,
    /// by the first call; replaceable so tests can make the load slow.
    public var loadLibrary: @Sendable () -> String? = { fleet_curl_load().map { String(cString: $0) } }

    /// The defaults: 2 s connect, 10 s per attempt, 3 attempts on 502/503/504, breaker at 5 failures.
    public init() {}
}
