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

    private struct State {
        var entries: [Entry] = []
        var components = SchemaComponents()
    }

    private let state = Mutex(State())

    public init() {}

    /// Every route in declaration order.
    public var all: [Entry] { state.withLock { $0.entries } }

    /// Every model schema the routes met.
    public var components: SchemaComponents { state.withLock { $0.components } }

    func add(method: HTTPRequest.Method, path: String, operation: OperationDescription?) {
        state.withLock { state in
            state.entries.append(Entry(method: method, path: path, operation: operation))
            if let operation { state.components = operation.components }
        }
    }

    /// The methods declared for templates that match `path` (`{name}` matches one segment).
    public func methods(matching path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var found: [HTTPRequest.Method] = []
        for entry in all where Self.matches(template: entry.path, segments) {
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
