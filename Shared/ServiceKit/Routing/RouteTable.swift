import Hummingbird
import Synchronization

/// Every route a service declared: its method, path template and OpenAPI operation.
///
/// The error middleware asks it which methods a path allows (for 405 and `Allow`); the OpenAPI
/// generator reads the operations and the shared schema components.
public final class RouteTable: Sendable {
    /// One declared route; `operation` is nil for routes kept out of the document.
    public struct Entry: Sendable {
        public var method: HTTPRequest.Method
        public var path: String
        public var operation: OperationDescription?
    }

    /// How a route's operation is described, run when the document is first asked for: building
    /// the JSON Schemas at start-up would run (and keep resident) OpenAPIKit code that serving
    /// never needs. Each description starts from the components the routes before it added.
    typealias Describe = @Sendable (SchemaComponents) -> OperationDescription

    private struct Declared {
        var method: HTTPRequest.Method
        var path: String
        var describe: Describe?
    }

    private struct State {
        var declared: [Declared] = []
        var problems: [String] = []
        var described: (entries: [Entry], components: SchemaComponents)?
    }

    private let state = Mutex(State())

    public init() {}

    /// Every route in declaration order, with its operation.
    public var all: [Entry] { described().entries }

    /// Every model schema the routes met.
    public var components: SchemaComponents { described().components }

    /// Routes declared wrongly (a `Path` model that does not fit its template): the runtime refuses
    /// to start with them, naming each route.
    public var problems: [String] { state.withLock { $0.problems } }

    /// Records `problem` of the route `method path`, if there is one.
    @usableFromInline
    func check(_ method: HTTPRequest.Method, _ path: String, _ problem: String?) {
        guard let problem else { return }
        state.withLock { $0.problems.append("\(method.rawValue) \(path): \(problem)") }
    }

    func add(method: HTTPRequest.Method, path: String, describe: Describe?) {
        state.withLock { state in
            state.declared.append(Declared(method: method, path: path, describe: describe))
            state.described = nil
        }
    }

    private func described() -> (entries: [Entry], components: SchemaComponents) {
        let (cached, declared) = state.withLock { ($0.described, $0.declared) }
        if let cached { return cached }
        // Described outside the lock; two first readers at once both describe, and agree.
        var components = SchemaComponents()
        var entries: [Entry] = []
        for route in declared {
            let operation = route.describe.map { $0(components) }
            if let operation { components = operation.components }
            entries.append(Entry(method: route.method, path: route.path, operation: operation))
        }
        state.withLock { state in
            if state.declared.count == declared.count { state.described = (entries, components) }
        }
        return (entries, components)
    }

    /// The methods declared for templates that match `path` (`{name}` matches one segment).
    public func methods(matching path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var found: [HTTPRequest.Method] = []
        let declared = state.withLock { $0.declared }
        for entry in declared where Self.matches(template: entry.path, segments) {
            if !found.contains(entry.method) { found.append(entry.method) }
            if entry.method == .get, !found.contains(.head) { found.append(.head) }
        }
        return found
    }

    static func matches(template: String, _ segments: [Substring]) -> Bool {
        let parts = template.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == segments.count else { return false }
        for (part, segment) in zip(parts, segments) {
            if part.hasPrefix("{") || part.hasPrefix(":") || part == "*" { continue }
            if part != segment { return false }
        }
        return true
    }
}
