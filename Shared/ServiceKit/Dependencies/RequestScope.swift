import Hummingbird
import Logging
import NIOConcurrencyHelpers
import Synchronization

/// One request's dependency state: the request, the values resolved so far, the input problems
/// found so far and the clean-ups to run after the handler. Resolution happens on the request's
/// own task, one input after another; the lock only guards against a dependency that resolves
/// others concurrently.
public final class RequestScope: Sendable {
    /// Thrown by `input` after recording issues, so collection can go on; never reaches a client.
    struct InvalidInput: Error {}

    /// The request being answered.
    public let request: Request
    /// Its context (request id, trace, limits).
    public let context: FleetContext
    let environment: RouteEnvironment
    private let state = NIOLockedValueBox(State())

    private struct State {
        var cache: [ObjectIdentifier: any Sendable] = [:]
        var issues = IssueCollector()
        var cleanups: [@Sendable ((any Error)?) async -> Void] = []
        var bodyTaken = false
    }

    @usableFromInline
    init(request: Request, context: FleetContext, environment: RouteEnvironment) {
        self.request = request
        self.context = context
        self.environment = environment
    }

    /// The request's logger (carries the request id).
    public var logger: Logger { context.logger }

    /// The value of dependency `D` for this request, resolved once.
    public func resolve<D: Dependency>(_ dependency: D.Type) async throws -> D.Value {
        let key = ObjectIdentifier(dependency)
        if let cached = state.withLockedValue({ $0.cache[key] }) { return cached as! D.Value }
        let value: D.Value
        if !environment.overrides.isEmpty, let replacement = environment.overrides.replacements[key] {
            value = try await replacement(self) as! D.Value
        } else {
            value = try await D.resolve(in: self)
        }
        state.withLockedValue { $0.cache[key] = value }
        return value
    }

    /// A request input read by a dependency (a query model for pagination, a header for a token).
    /// Invalid input is recorded with the route's other problems, so one 422 still lists them all.
    public func input<Input: RouteInput>(_ input: Input.Type) async throws -> Input {
        let key = ObjectIdentifier(input)
        if let cached = state.withLockedValue({ $0.cache[key] }) { return cached as! Input }
        guard let value = try await Input.resolve(in: self) else { throw InvalidInput() }
        state.withLockedValue { $0.cache[key] = value }
        return value
    }

    /// A service-wide value registered with `APIRouter.provide`.
    public func registered<T: Sendable>(_ type: T.Type) throws -> T {
        guard let value = environment.registered(ObjectIdentifier(type)) as? T else {
            throw DependencyError.notRegistered(String(describing: type))
        }
        return value
    }

    /// Runs `cleanup` after the handler finished, with its error if it failed, in reverse order of
    /// registration: FastAPI's code after `yield`.
    public func onCleanup(_ cleanup: @escaping @Sendable ((any Error)?) async -> Void) {
        state.withLockedValue { $0.cleanups.append(cleanup) }
    }

    /// Records input problems for the route's 422.
    func record(_ issues: [ValidationIssue]) {
        state.withLockedValue { $0.issues.add(contentsOf: issues) }
    }

    @usableFromInline
    func checkIssues() throws {
        try state.withLockedValue { $0.issues }.check()
    }

    /// Claims the request body for one input; a second claim is a route declaration mistake.
    func takeBody() {
        state.withLockedValue { $0.bodyTaken = true }
    }

    @usableFromInline
    func runCleanups(_ error: (any Error)?) async {
        let cleanups = state.withLockedValue { state in
            defer { state.cleanups = [] }
            return state.cleanups
        }
        for cleanup in cleanups.reversed() { await cleanup(error) }
    }
}

/// A dependency that could not be provided: a programming error reported as a 500.
public enum DependencyError: Error, CustomStringConvertible {
    case notRegistered(String)

    public var description: String {
        switch self {
        case .notRegistered(let type): return "no value of type \(type) was registered with APIRouter.provide"
        }
    }
}

/// What every route of a service shares: registered values and test overrides.
@usableFromInline
final class RouteEnvironment: Sendable {
    private let registry = Mutex<[ObjectIdentifier: any Sendable]>([:])
    let overrides: DependencyOverrides

    init(overrides: DependencyOverrides) {
        self.overrides = overrides
    }

    func register(_ value: any Sendable, as key: ObjectIdentifier) {
        registry.withLock { $0[key] = value }
    }

    func registered(_ key: ObjectIdentifier) -> (any Sendable)? {
        registry.withLock { $0[key] }
    }
}
