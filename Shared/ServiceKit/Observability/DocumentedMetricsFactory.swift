import CoreMetrics
import CurlHTTP
import Prometheus

/// A swift-metrics factory over the service's Prometheus registry that gives each metric the
/// `# HELP` text it is known by. `PrometheusMetricsFactory` registers every metric without one,
/// which `promtool check metrics` refuses; libraries that speak swift-metrics (CurlHTTP) name
/// their metrics' help in a table instead (`ClientMetrics.help`).
struct DocumentedMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let help: [String: String]
    /// Buckets, destruction and anything unknown are the stock factory's.
    let stock: PrometheusMetricsFactory

    init(registry: PrometheusCollectorRegistry, help: [String: String]) {
        self.registry = registry
        self.help = help
        self.stock = PrometheusMetricsFactory(registry: registry)
    }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help[label] ?? "")
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        let buckets = stock.valueHistogramBuckets[label] ?? stock.defaultValueHistogramBuckets
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let buckets = stock.durationHistogramBuckets[label] ?? stock.defaultDurationHistogramBuckets
        return registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { stock.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { stock.destroyFloatingPointCounter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { stock.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { stock.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { stock.destroyTimer(handler) }
}
