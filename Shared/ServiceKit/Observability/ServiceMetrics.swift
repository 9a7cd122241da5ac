import Foundation
import HTTPTypes
import Prometheus
import Synchronization

/// The Prometheus registry of one service and the metrics ServiceKit itself records.
///
/// Metrics are created on the registry directly, with help text, so `promtool check metrics`
/// passes; swift-metrics users in the same process are routed to the same registry by `ServiceMain`.
public final class ServiceMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    private let process: ProcessMetrics
    private let activeRequests: Gauge
    private let inFlight = Atomic<Int>(0)
    private let durations = Mutex<[RouteKey: DurationHistogram]>([:])
    private let beforeScrape = Mutex<[@Sendable () -> Void]>([])

    /// Request latency buckets in seconds: fine below 10 ms, where fast services live.
    static let requestBuckets: [Duration] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
        .map { Duration.nanoseconds(Int64($0 * 1e9)) }

    private struct RouteKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    /// Registers the service's metrics, `build_info` among them, on `registry`.
    public init(build: BuildInfo, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.process = ProcessMetrics(registry: registry)
        self.activeRequests = registry.makeGauge(
            descriptor: .named("http_server_active_requests", "HTTP requests being served right now.")
        )
        registry.makeGauge(
            descriptor: .named("build_info", "Build of this service; the value is always 1."),
            labels: [("version", build.version), ("revision", build.revision)]
        ).set(to: 1)
    }

    /// Records one finished request under its route template (never the raw path).
    public func recordRequest(route: String, method: HTTPRequest.Method, status: Int, duration: Duration) {
        let key = RouteKey(route: route, method: method.rawValue, status: status)
        let histogram = durations.withLock { cache in
            if let existing = cache[key] { return existing }
            let made = registry.makeDurationHistogram(
                descriptor: .named(
                    "http_server_request_duration_seconds",
                    "Duration of HTTP server requests, by route template, method and status."
                ),
                labels: [
                    ("http_route", key.route), ("http_request_method", key.method),
                    ("http_response_status_code", String(key.status)),
                ],
                buckets: Self.requestBuckets
            )
            cache[key] = made
            return made
        }
        histogram.record(duration)
    }

    /// Counts a request in flight until `requestFinished()`.
    public func requestStarted() {
        inFlight.add(1, ordering: .relaxed)
        activeRequests.increment()
    }

    /// The counterpart of `requestStarted()`.
    public func requestFinished() {
        inFlight.subtract(1, ordering: .relaxed)
        activeRequests.decrement()
    }

    /// Requests being served right now.
    public var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// Registers work to run before each scrape, for gauges read from elsewhere.
    public func onScrape(_ update: @escaping @Sendable () -> Void) {
        beforeScrape.withLock { $0.append(update) }
    }

    /// The exposition text: process figures are read from /proc at this moment.
    public func render() -> [UInt8] {
        process.update()
        for update in beforeScrape.withLock({ $0 }) { update() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16_384)
        registry.emit(into: &buffer)
        return buffer
    }
}

extension MetricNameDescriptor {
    /// A metric whose full name is written out, as Fleet's metric contract spells it.
    public static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
