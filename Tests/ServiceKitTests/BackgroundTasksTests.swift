import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKitTesting
import Logging
import Prometheus
import ServiceKit
import ServiceLifecycle
import Synchronization
import Testing

/// Background tasks run after the response, within their limits, and are drained, not dropped,
/// on shutdown.
@Suite struct BackgroundTasksTests {
    @Test func queuedAndRunningTasksFinishBeforeShutdownCompletes() async throws {
        let registry = PrometheusCollectorRegistry()
        let tasks = BackgroundTasks(logger: Logger(label: "test"), registry: registry)
        let finished = Atomic<Int>(0)
        let group = ServiceGroup(services: [tasks], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { running in
            running.addTask { try await group.run() }
            for _ in 0..<5 {
                #expect(tasks.submit("work") {
                    try await Task.sleep(for: .milliseconds(200))
                    finished.add(1, ordering: .relaxed)
                })
            }
            try await Task.sleep(for: .milliseconds(50))
            await group.triggerGracefulShutdown()
            try await running.waitForAll()
        }
        #expect(finished.load(ordering: .relaxed) == 5)
        #expect(!tasks.submit("late") {})
        var text = ""
        text = registry.emitToString()
        #expect(text.contains(#"background_tasks_completed_total{outcome="success"} 5"#))
        #expect(text.contains(#"background_tasks_rejected_total{reason="shutdown"} 1"#))
    }

    @Test func aFailingTaskIsCountedAndLogged() async throws {
        let registry = PrometheusCollectorRegistry()
        let tasks = BackgroundTasks(logger: Logger(label: "test"), registry: registry)
        let group = ServiceGroup(services: [tasks], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { running in
            running.addTask { try await group.run() }
            tasks.submit("fails") { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(100))
            await group.triggerGracefulShutdown()
            try await running.waitForAll()
        }
        #expect(registry.emitToString().contains(#"background_tasks_completed_total{outcome="failure"} 1"#))
    }

    /// Runs `body` while `tasks` runs in a service group, then shuts the group down.
    func running(_ tasks: BackgroundTasks, _ body: () async throws -> Void) async throws {
        let group = ServiceGroup(services: [tasks], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { running in
            running.addTask { try await group.run() }
            try await body()
            await group.triggerGracefulShutdown()
            try await running.waitForAll()
        }
    }

    @Test func aFullQueueRefusesTheTaskAndCountsIt() async throws {
        let registry = PrometheusCollectorRegistry()
        let tasks = BackgroundTasks(logger: Logger(label: "test"), registry: registry, limits: .init(queueSize: 2, concurrency: 1))
        #expect(tasks.submit("one") {})
        #expect(tasks.submit("two") {})
        #expect(!tasks.submit("three") {}, "nothing runs the queue yet, and it holds two")
        #expect(registry.emitToString().contains(#"background_tasks_rejected_total{reason="queue_full"} 1"#))
    }

    @Test func noMoreThanTheConcurrencyLimitRunAtOnce() async throws {
        let tasks = BackgroundTasks(logger: Logger(label: "test"), registry: PrometheusCollectorRegistry(), limits: .init(concurrency: 2))
        let now = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        try await running(tasks) {
            for index in 0..<8 {
                tasks.submit("task-\(index)") {
                    let current = now.add(1, ordering: .relaxed).newValue
                    _ = most.max(current, ordering: .relaxed)
                    try await Task.sleep(for: .milliseconds(50))
                    now.subtract(1, ordering: .relaxed)
                    done.add(1, ordering: .relaxed)
                }
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while done.load(ordering: .relaxed) < 8, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        }
        let finished = done.load(ordering: .relaxed)
        let peak = most.load(ordering: .relaxed)
        #expect(finished == 8)
        #expect(peak == 2)
    }

    @Test func aTaskPastItsTimeoutIsCancelledLoggedByNameAndCounted() async throws {
        let registry = PrometheusCollectorRegistry()
        let logs = CapturedLogs()
        let tasks = BackgroundTasks(logger: Logger(label: "test", factory: logs.factory), registry: registry, limits: .init(timeout: .milliseconds(200)))
        let cancelled = Atomic<Bool>(false)
        try await running(tasks) {
            tasks.submit("send-mail") {
                do { try await Task.sleep(for: .seconds(60)) } catch { cancelled.store(true, ordering: .relaxed); throw error }
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while !cancelled.load(ordering: .relaxed), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        }
        let wasCancelled = cancelled.load(ordering: .relaxed)
        #expect(wasCancelled)
        #expect(registry.emitToString().contains(#"background_tasks_completed_total{outcome="timeout"} 1"#))
        #expect(logs.records.contains { $0.message == "background task timed out" && $0.metadata["task"] == "send-mail" })
    }
}

/// A handler's background tasks start after its response has been written, over a real socket.
@Suite struct BackgroundAfterResponseTests {
    static let taskStarted = Mutex<ContinuousClock.Instant?>(nil)
    static let handlerReturned = Mutex<ContinuousClock.Instant?>(nil)
    static let droppedRan = Atomic<Bool>(false)
    static let lateRan = Atomic<Bool>(false)

    static let definition = ServiceDefinition(name: "deferring", defaultPort: 0, defaultAdminPort: 0) { router, dependencies in
        let background = dependencies.background
        // The body's last part is written 300 ms after the handler returned.
        router.on(.get, "/slow-body") { _, _ in
            background.submit("after") { taskStarted.withLock { $0 = .now } }
            handlerReturned.withLock { $0 = .now }
            return Response(status: .ok, body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "first "))
                try await Task.sleep(for: .milliseconds(300))
                try await writer.write(ByteBuffer(string: "last"))
                try await writer.finish(nil)
            })
        }
        // A task the handler starts submits once the response is long gone: it must still run.
        router.get("/spawns") { () -> NoContent in
            Task {
                try await Task.sleep(for: .milliseconds(200))
                background.submit("late") { lateRan.store(true, ordering: .relaxed) }
            }
            return NoContent()
        }
        router.get("/throws") { () -> NoContent in
            background.submit("dropped") { droppedRan.store(true, ordering: .relaxed) }
            throw HTTPProblem(.conflict, "no")
        }
    }

    @Test func aTaskStartsOnlyOnceTheLastByteIsWrittenAndAFailedHandlersTasksAreDroppedAndLateOnesStillRun() async throws {
        try await InProcessService.with(Self.definition) { service in
            let group = ServiceGroup(services: [service.runtime.background], logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { running in
                running.addTask { try await group.run() }
                try await service.api(.live) { client in
                    let answer = try await client.execute(uri: "/slow-body", method: .get)
                    #expect(String(buffer: answer.body) == "first last")
                    #expect(try await client.execute(uri: "/throws", method: .get).status == .conflict)
                    #expect(try await client.execute(uri: "/spawns", method: .get).status == .noContent)
                }
                let deadline = ContinuousClock.now + .seconds(30)
                while Self.taskStarted.withLock({ $0 }) == nil || !Self.lateRan.load(ordering: .relaxed), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                await group.triggerGracefulShutdown()
                try await running.waitForAll()
            }
        }
        let started = try #require(Self.taskStarted.withLock { $0 })
        let returned = try #require(Self.handlerReturned.withLock { $0 })
        #expect(started - returned >= .milliseconds(250), "the task waited for the body's last part: \(started - returned)")
        let droppedRan = Self.droppedRan.load(ordering: .relaxed)
        #expect(!droppedRan, "a handler that throws drops its tasks")
        let lateRan = Self.lateRan.load(ordering: .relaxed)
        #expect(lateRan, "a task submitted after the response is queued, not held forever")
    }
}
