import Foundation
import Logging
import Prometheus
import ServiceKit
import ServiceLifecycle
import Synchronization
import Testing

/// Background tasks run after the response and are drained, not dropped, on shutdown.
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
        #expect(text.contains("background_tasks_rejected_total 1"))
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
}
