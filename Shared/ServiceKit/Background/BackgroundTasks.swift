import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// Work that runs after a response is sent (FastAPI's `BackgroundTasks`), owned by the service's
/// `ServiceGroup`.
///
/// - **After the response.** Submitted from inside a request, a task waits until the response's
///   last byte has been written to the connection (`BackgroundDeferralMiddleware`); a handler
///   that throws drops what it submitted, as FastAPI does. Submitted from anywhere else, it is
///   queued at once.
/// - **Bounded.** At most `limits.queueSize` tasks wait; past that a task is refused and counted
///   (`background_tasks_rejected_total{reason="queue_full"}`) rather than slowing the request
///   that submitted it: a handler's latency never depends on background work.
/// - **Limited.** At most `limits.concurrency` run at once, each for at most `limits.timeout`
///   (then it is cancelled, logged and counted as `outcome="timeout"`).
/// - **Drained.** On shutdown no new task is taken; queued and running ones finish, within
///   the group's `SHUTDOWN_TIMEOUT`, after which they are cancelled.
public final class BackgroundTasks: Service, Sendable {
    /// The bounds of the queue and of the work.
    public struct Limits: Sendable, Equatable {
        /// Tasks that may wait (`BACKGROUND_QUEUE_SIZE`, default 1000).
        public var queueSize: Int = 1000
        /// Tasks that may run at once (`BACKGROUND_CONCURRENCY`, default 16).
        public var concurrency: Int = 16
        /// The most one task may take (`BACKGROUND_TIMEOUT`, default 30 s).
        public var timeout: Duration = .seconds(30)

        public init(queueSize: Int = 1000, concurrency: Int = 16, timeout: Duration = .seconds(30)) {
            self.queueSize = queueSize
            self.concurrency = concurrency
            self.timeout = timeout
        }
    }

    struct Job: Sendable {
        let name: String
        let operation: @Sendable () async throws -> Void
    }

    /// The tasks a request submitted, handed to the queue once its response is written. A task
    /// submitted after that (from a task the handler started, which inherits the binding) is
    /// not held: `add` answers false and the caller queues it at once.
    final class Deferred: Sendable {
        private let state = Mutex<(jobs: [Job], taken: Bool)>(([], false))
        func add(_ job: Job) -> Bool {
            state.withLock { state in
                guard !state.taken else { return false }
                state.jobs.append(job)
                return true
            }
        }
        func take() -> [Job] {
            state.withLock { state in
                defer { state = ([], true) }
                return state.jobs
            }
        }
        var isEmpty: Bool { state.withLock { $0.jobs.isEmpty } }
    }

    /// Bound while a request is being answered.
    @TaskLocal static var deferred: Deferred?

    /// The limits in force.
    public let limits: Limits
    private let stream: AsyncStream<Job>
    private let continuation: AsyncStream<Job>.Continuation
    private let logger: Logger
    private let inFlight: Gauge
    private let queued: Gauge
    private let succeeded: Counter
    private let failed: Counter
    private let timedOut: Counter
    private let rejectedShutdown: Counter
    private let rejectedFull: Counter
    private let accepting = Atomic<Bool>(true)
    private let running = Atomic<Int>(0)
    private let waiting = Atomic<Int>(0)

    /// Failures are logged to `logger`; `background_tasks_*` go to `registry`.
    public init(logger: Logger, registry: PrometheusCollectorRegistry, limits: Limits = Limits()) {
        (stream, continuation) = AsyncStream.makeStream(of: Job.self)
        self.logger = logger
        self.limits = limits
        inFlight = registry.makeGauge(descriptor: .named("background_tasks_in_flight", "Background tasks running now."))
        queued = registry.makeGauge(descriptor: .named("background_tasks_queued", "Background tasks waiting to start."))
        let completed = MetricNameDescriptor.named("background_tasks_completed_total", "Background tasks finished, by outcome.")
        succeeded = registry.makeCounter(descriptor: completed, labels: [("outcome", "success")])
        failed = registry.makeCounter(descriptor: completed, labels: [("outcome", "failure")])
        timedOut = registry.makeCounter(descriptor: completed, labels: [("outcome", "timeout")])
        let rejected = MetricNameDescriptor.named("background_tasks_rejected_total", "Background tasks refused: the service was shutting down, or the queue was full.")
        rejectedShutdown = registry.makeCounter(descriptor: rejected, labels: [("reason", "shutdown")])
        rejectedFull = registry.makeCounter(descriptor: rejected, labels: [("reason", "queue_full")])
    }

    /// Tasks running right now.
    public var runningCount: Int { running.load(ordering: .relaxed) }

    /// Submits `operation`, named `name` in logs. Inside a request it runs after the response
    /// (true: taken; it may still be refused then, and is counted if so); elsewhere it is queued
    /// now, and false means it was refused (shutdown or a full queue).
    @discardableResult
    public func submit(_ name: String, _ operation: @escaping @Sendable () async throws -> Void) -> Bool {
        let job = Job(name: name, operation: operation)
        if let deferred = Self.deferred, deferred.add(job) {
            return true
        }
        return enqueue(job)
    }

    func enqueue(_ job: Job) -> Bool {
        guard accepting.load(ordering: .sequentiallyConsistent) else {
            rejectedShutdown.increment()
            return false
        }
        guard waiting.add(1, ordering: .relaxed).newValue <= limits.queueSize else {
            waiting.subtract(1, ordering: .relaxed)
            rejectedFull.increment()
            logger.warning("background task refused: the queue is full", metadata: ["task": .string(job.name)])
            return false
        }
        queued.increment()
        if case .terminated = continuation.yield(job) {
            waiting.subtract(1, ordering: .relaxed)
            queued.decrement()
            rejectedShutdown.increment()
            return false
        }
        return true
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            await withGracefulShutdownHandler {
                var active = 0
                for await job in stream {
                    if active >= limits.concurrency {
                        await group.next()
                        active -= 1
                    }
                    waiting.subtract(1, ordering: .relaxed)
                    queued.decrement()
                    active += 1
                    group.addTask { await self.execute(job) }
                }
            } onGracefulShutdown: {
                self.accepting.store(false, ordering: .sequentiallyConsistent)
                self.continuation.finish()
            }
            await group.waitForAll()
        }
    }

    struct TimedOut: Error {}

    private func execute(_ job: Job) async {
        inFlight.increment()
        running.add(1, ordering: .relaxed)
        defer {
            inFlight.decrement()
            running.subtract(1, ordering: .relaxed)
        }
        let timeout = limits.timeout
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await job.operation() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw TimedOut()
                }
                defer { group.cancelAll() }
                try await group.next()
            }
            succeeded.increment()
        } catch is TimedOut {
            timedOut.increment()
            logger.error("background task timed out", metadata: ["task": .string(job.name), "timeout_s": .stringConvertible(timeout.seconds)])
        } catch {
            failed.increment()
            logger.error("background task failed", metadata: ["task": .string(job.name), "error": .string(String(describing: error))])
        }
    }
}
