import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// Work that runs after a response is sent (FastAPI's `BackgroundTasks`), owned by the service's
/// `ServiceGroup`: on shutdown no new task is taken and the queued and running ones are drained.
public final class BackgroundTasks: Service, Sendable {
    private struct Job: Sendable {
        let name: String
        let operation: @Sendable () async throws -> Void
    }

    private let stream: AsyncStream<Job>
    private let continuation: AsyncStream<Job>.Continuation
    private let logger: Logger
    private let inFlight: Gauge
    private let queued: Gauge
    private let succeeded: Counter
    private let failed: Counter
    private let rejected: Counter
    private let accepting = Atomic<Bool>(true)
    private let running = Atomic<Int>(0)

    /// Failures are logged to `logger`; `background_tasks_*` go to `registry`.
    public init(logger: Logger, registry: PrometheusCollectorRegistry) {
        (stream, continuation) = AsyncStream.makeStream(of: Job.self)
        self.logger = logger
        inFlight = registry.makeGauge(descriptor: .named("background_tasks_in_flight", "Background tasks running now."))
        queued = registry.makeGauge(descriptor: .named("background_tasks_queued", "Background tasks waiting to start."))
        let completed = MetricNameDescriptor.named("background_tasks_completed_total", "Background tasks finished, by outcome.")
        succeeded = registry.makeCounter(descriptor: completed, labels: [("outcome", "success")])
        failed = registry.makeCounter(descriptor: completed, labels: [("outcome", "failure")])
        rejected = registry.makeCounter(descriptor: .named("background_tasks_rejected_total", "Background tasks refused because the service was shutting down."))
    }

    /// Tasks running right now.
    public var runningCount: Int { running.load(ordering: .relaxed) }

    /// Queues `operation`; returns false (and runs nothing) once shutdown has begun.
    @discardableResult
    public func submit(_ name: String, _ operation: @escaping @Sendable () async throws -> Void) -> Bool {
        guard accepting.load(ordering: .sequentiallyConsistent) else {
            rejected.increment()
            return false
        }
        queued.increment()
        if case .terminated = continuation.yield(Job(name: name, operation: operation)) {
            queued.decrement()
            rejected.increment()
            return false
        }
        return true
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                for await job in stream {
                    queued.decrement()
                    group.addTask { await self.execute(job) }
                }
            } onGracefulShutdown: {
                self.accepting.store(false, ordering: .sequentiallyConsistent)
                self.continuation.finish()
            }
        }
    }

    private func execute(_ job: Job) async {
        inFlight.increment()
        running.add(1, ordering: .relaxed)
        defer {
            inFlight.decrement()
            running.subtract(1, ordering: .relaxed)
        }
        do {
            try await job.operation()
            succeeded.increment()
        } catch {
            failed.increment()
            logger.error("background task failed", metadata: ["task": .string(job.name), "error": .string(String(describing: error))])
        }
    }
}
