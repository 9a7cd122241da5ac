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

/// Liveness and readiness for one service: the registered checks plus the built-in `migrations`
/// and `shutdown` gates. Readiness turns to fail the moment shutdown begins.
public final class Probes: Sendable {
    private let checks = Mutex<[HealthCheck]>([])
    private let migrated = Atomic<Bool>(false)
    private let shuttingDown = Atomic<Bool>(false)
    private let started = ContinuousClock.now

    public init() {}

    /// Adds a readiness check.
    public func register(_ check: HealthCheck) {
        checks.withLock { $0.append(check) }
    }

    /// Called once migrations are done; until then readiness fails.
    public func markMigrated() { migrated.store(true, ordering: .sequentiallyConsistent) }

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

    /// Readiness: every check run concurrently, each bounded by `timeout`.
    public func readiness(timeout: Duration = .seconds(2)) async -> ProbeReport {
        var results: [ProbeReport.Check] = [
            .init(name: "shutdown", status: isShuttingDown ? "fail" : "pass", duration_ms: 0,
                  error: isShuttingDown ? "shutting down" : nil),
            .init(name: "migrations", status: migrated.load(ordering: .sequentiallyConsistent) ? "pass" : "fail", duration_ms: 0,
                  error: migrated.load(ordering: .sequentiallyConsistent) ? nil : "migrations not applied yet"),
        ]
        let registered = checks.withLock { $0 }
        let outcomes = await withTaskGroup(of: (Int, ProbeReport.Check).self) { group in
            for (index, check) in registered.enumerated() {
                group.addTask { (index, await Self.run(check, timeout: timeout)) }
            }
            var collected: [(Int, ProbeReport.Check)] = []
            for await outcome in group { collected.append(outcome) }
            return collected.sorted { $0.0 < $1.0 }.map(\.1)
        }
        results.append(contentsOf: outcomes)
        let passed = results.allSatisfy { $0.status == "pass" }
        return ProbeReport(status: passed ? "pass" : "fail", checks: results)
    }

    private static func run(_ check: HealthCheck, timeout: Duration) async -> ProbeReport.Check {
        let start = ContinuousClock.now
        let failure: String? = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    try await check.run()
                    return nil
                } catch {
                    return String(describing: error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return "timed out after \(timeout.seconds)s"
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let elapsed = (ContinuousClock.now - start).seconds * 1000
        return .init(name: check.name, status: failure == nil ? "pass" : "fail",
                     duration_ms: (elapsed * 1000).rounded() / 1000, error: failure)
    }
}
