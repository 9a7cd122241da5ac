import CoreMetrics
import Metrics

/// The client's Prometheus-friendly metrics, named after OpenTelemetry's HTTP client conventions.
public struct ClientMetrics: Sendable {
    let factory: any MetricsFactory

    /// Each metric's help text, for a factory that writes Prometheus' `# HELP` lines
    /// (swift-metrics has no place for it).
    public static let help: [String: String] = [
        "http_client_request_duration_seconds": "Duration of calls to peer services, by peer, method, status and error.",
        "http_client_requests_total": "Calls to peer services, by peer, method, status and error.",
        "http_client_retries_total": "Retries of calls to peer services, sent or refused by the retry budget.",
        "http_client_circuit_state": "Circuit breaker state per peer: 0 closed, 1 half-open, 2 open.",
    ]

    init(factory: (any MetricsFactory)?) {
        self.factory = factory ?? MetricsSystem.factory
    }

    /// One exchange ended: its duration, labelled by peer, method, status and error kind (one is "").
    func record(peer: String, method: String, status: Int?, error: String?, duration: Duration) {
        let dimensions = [
            ("peer", peer), ("http_request_method", method),
            ("http_response_status_code", status.map(String.init) ?? ""), ("error_type", error ?? ""),
        ]
        Timer(label: "http_client_request_duration_seconds", dimensions: dimensions, factory: factory)
            .recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        Counter(label: "http_client_requests_total", dimensions: dimensions, factory: factory).increment()
    }

    /// A retry was sent (or refused by the budget, with `allowed` false).
    func retried(peer: String, allowed: Bool) {
        Counter(label: "http_client_retries_total", dimensions: [("peer", peer), ("outcome", allowed ? "sent" : "budget_exhausted")], factory: factory)
            .increment()
    }

    /// The peer's circuit changed state.
    func circuit(peer: String, state: CircuitState) {
        Gauge(label: "http_client_circuit_state", dimensions: [("peer", peer)], factory: factory).record(state.rawValue)
    }
}
