import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// The entry point of every service executable: configuration, logging and metrics bootstrap,
/// then one `ServiceGroup` that owns every long-running part and handles SIGTERM/SIGINT.
///
/// Exit codes: 0 after a graceful shutdown, 2 for bad configuration, 1 for anything else.
public enum ServiceMain {
    /// Runs `definition` until it is told to stop; never returns.
    public static func run(_ definition: ServiceDefinition, environment: [String: String] = ProcessInfo.processInfo.environment) async -> Never {
        let configuration: ServiceConfiguration
        do {
            configuration = try ServiceConfiguration.load(
                service: definition.name, defaultPort: definition.defaultPort,
                defaultAdminPort: definition.defaultAdminPort, peers: definition.peers, environment: EnvironmentReader(environment)
            )
        } catch {
            FileHandle.standardError.write(Data("\(definition.name): configuration error: \(error)\n".utf8))
            exit(2)
        }
        let sink = LogSink()
        let levels = LogLevels(root: configuration.logLevel)
        LoggingSystem.bootstrap { label in
            JSONLogHandler(label: label, service: configuration.serviceName, sink: sink, levels: levels)
        }
        // The level comes from `LogLevels`, so `PUT /loggers` governs this logger too.
        let logger = Logger(label: configuration.serviceName)
        let code: Int32
        do {
            let runtime = try ServiceRuntime(definition: definition, configuration: configuration, logger: logger, logLevels: levels)
            MetricsSystem.bootstrap(PrometheusMetricsFactory.sanitizing(registry: runtime.metrics.registry))
            let services: [ServiceGroupConfiguration.ServiceConfiguration]
            do {
                services = try runtime.makeServices()
            } catch {
                // A service's own settings are read while its routes are declared: close what the
                // runtime opened before reporting it.
                await runtime.close()
                throw error
            }
            let group = ServiceGroup(configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ).withShutdownLimits(delay: configuration.shutdownDelay, timeout: configuration.shutdownTimeout))
            logger.info("starting", metadata: [
                "port": .stringConvertible(configuration.port), "admin_port": .stringConvertible(configuration.adminPort),
                "database": .string(configuration.database.description), "version": .string(configuration.build.version),
            ])
            try await group.run()
            logger.info("stopped")
            code = 0
        } catch let error as ConfigurationError {
            // A service's own settings, read while its routes are declared (a key file, a cost).
            sink.flush()
            FileHandle.standardError.write(Data("\(definition.name): configuration error: \(error)\n".utf8))
            exit(2)
        } catch {
            logger.critical("service failed", metadata: ["error": .string(String(describing: error))])
            code = 1
        }
        sink.flush()
        exit(code)
    }
}

extension ServiceGroupConfiguration {
    /// Bounds shutdown: the delay plus `timeout` to drain, then tasks are cancelled.
    func withShutdownLimits(delay: Duration, timeout: Duration) -> Self {
        var copy = self
        copy.maximumGracefulShutdownDuration = .nanoseconds(Int64((delay + timeout).seconds * 1e9))
        copy.maximumCancellationDuration = .seconds(2)
        return copy
    }
}

extension PrometheusMetricsFactory {
    /// A factory whose names and labels from third-party swift-metrics users (dotted OpenTelemetry
    /// names) are made valid Prometheus identifiers.
    static func sanitizing(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in
            (sanitize(name), labels.map { (sanitize($0.0), $0.1) })
        }
        return factory
    }

    private static func sanitize(_ text: String) -> String {
        String(text.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" ? $0 : "_" })
    }
}
