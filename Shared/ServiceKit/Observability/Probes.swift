import Foundation
import Synchronization

/// A named check behind `/readyz` and `/healthz`: passes by returning, fails by throwing.
public struct HealthCheck: Sendable {
    /// Shown as the check's `name`.
    public let name: String
    /// The check itself; it should answer within a second or two.
    public let run: @Sendable () async throws -> Void

    public init(_ name: String, run: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.run = run
    }
}

/// The outcome of one probe: `{"status": "pass"|"fail", "checks": [...]}`.
public struct ProbeReport: Sendable, Codable, Equatable {
    /// One check's outcome.
    public struct Check: Sendable, Codable, Equatable {
        public var name: String
        public var status: String
        public var duration_ms: Double
        public var error: String?
    }

    public var status: String
    public var checks: [Check]

    /// Whether every check passed.
    public var passed: Bool { status == "pass" }
}

/// Liveness and readiness for one service: the registered checks plus the built-in `shutdown`,
/// `migrations` and `serving` gates. Readiness passes only once the API port accepts connections,
/// and turns to fail the moment shutdown begins.
public final class Probes: Sendable {
    private let checks = Mutex<[HealthCheck]>([])
    private let running = Mutex<Set<String>>([])
    private let migrated = Atomic<Bool>(false)
    private let serving = Atomic<Bool>(false)
    private let shuttingDown = Atomic<Bool>(false)
    private let started = ContinuousClock.now

    public init() {}

    /// Adds a readiness check.
    public func register(_ check: HealthCheck) {
        checks.withLock { $0.append(check) }
    }

    /// Called once migrations are done; until then readiness fails.
    public func markMigrated() { migrated.store(true, ordering: .sequentiallyConsistent) }

    /// Called once the API server is bound and accepting; until then readiness fails.
    public func markServing() { serving.store(true, ordering: .sequentiallyConsistent) }

    /// Called on SIGTERM; from then on readiness fails.
    public func beginShutdown() { shuttingDown.store(true, ordering: .sequentiallyConsistent) }

    /// Whether shutdown has begun.
    public var isShuttingDown: Bool { shuttingDown.load(ordering: .sequentiallyConsistent) }

    /// Time since this service started.
    public var uptime: Duration { ContinuousClock.now - started }

    /// Liveness: the process answers, so it is alive.
    public func liveness() -> ProbeReport {
        ProbeReport(status: "pass", checks: [])
    }

    /// Readiness: every check run concurrently, each answering within `timeout` whether or not
    /// the check honours cancellation.
    public func readiness(timeout: Duration = .seconds(2)) async -> ProbeReport {
        let isMigrated = migrated.load(ordering: .sequentiallyConsistent)
        let isServing = serving.load(ordering: .sequentiallyConsistent)
        var results: [ProbeReport.Check] = [
            .init(name: "shutdown", status: isShuttingDown ? "fail" : "pass", duration_ms: 0,
                  error: isShuttingDown ? "shutting down" : nil),
            .init(name: "migrations", status: isMigrated ? "pass" : "fail", duration_ms: 0,
                  error: isMigrated ? nil : "migrations not applied yet"),
            .init(name: "serving", status: isServing ? "pass" : "fail", duration_ms: 0,
                  error: isServing ? nil : "the API port is not accepting connections yet"),
        ]
        let registered = checks.withLock { $0 }
        let outcomes = await withTaskGroup(of: (Int, ProbeReport.Check).self) { group in
            for (index, check) in registered.enumerated() {
                group.addTask { (index, await self.run(check, timeout: timeout)) }
            }
            var collected: [(Int, ProbeReport.Check)] = []
            for await outcome in group { collected.append(outcome) }
            return collected.sorted { $0.0 < $1.0 }.map(\.1)
        }
        results.append(contentsOf: outcomes)
        let passed = results.allSatisfy { $0.status == "pass" }
        return ProbeReport(status: passed ? "pass" : "fail", checks: results)
    }

    /// Runs `check` in a task of its own and waits for it or the deadline, whichever comes first.
    /// A check still running at the deadline is cancelled and left to end by itself (a database
    /// ping waiting on a pool lease ignores cancellation); until it has, the next probe reports
    /// it as still running instead of starting another, so stuck checks cannot pile up.
    private func run(_ check: HealthCheck, timeout: Duration) async -> ProbeReport.Check {
        let start = ContinuousClock.now
        func report(_ failure: String?) -> ProbeReport.Check {
            let elapsed = (ContinuousClock.now - start).seconds * 1000
            return .init(name: check.name, status: failure == nil ? "pass" : "fail",
                         duration_ms: (elapsed * 1000).rounded() / 1000, error: failure)
        }
        let started = running.withLock { $0.insert(check.name).inserted }
        guard started else { return report("still running from an earlier probe") }
        let outcome = CheckOutcome()
        // Owned by `running`: the name stays there until the task ends, which bounds it to one
        // task per check.
        let work = Task { [self] in
            defer { _ = self.running.withLock { $0.remove(check.name) } }
            do {
                try await check.run()
                outcome.finish(nil)
            } catch {
                outcome.finish(String(describing: error))
            }
        }
        let failure = await outcome.wait(timeout: timeout)
        if failure == CheckOutcome.timedOut(timeout) { work.cancel() }
        return report(failure)
    }
}

/// The first of a check's own end and its deadline, delivered once.
private final class CheckOutcome: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<String?, Never>)
        case done(String?)
    }

    private let state = Mutex(State.pending)

    static func timedOut(_ timeout: Duration) -> String { "timed out after \(timeout.seconds)s" }

    /// The check ended with `failure` (nil: passed); only the first of this and the deadline counts.
    func finish(_ failure: String?) {
        let waiter: CheckedContinuation<String?, Never>? = state.withLock { state in
            switch state {
            case .pending:
                state = .done(failure)
                return nil
            case .waiting(let continuation):
                state = .done(failure)
                return continuation
            case .done:
                return nil
            }
        }
        waiter?.resume(returning: failure)
    }

    /// The check's failure, nil when it passed, or the time-out message at the deadline.
    func wait(timeout: Duration) async -> String? {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                try? await Task.sleep(for: timeout)
                finish(Self.timedOut(timeout))
            }
            let result = await withCheckedContinuation { continuation in
                let ready: String?? = state.withLock { state in
                    switch state {
                    case .pending:
                        state = .waiting(continuation)
                        return nil
                    case .done(let failure): return .some(failure)
                    case .waiting: return nil
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
            group.cancelAll()
            return result
        }
    }
}
