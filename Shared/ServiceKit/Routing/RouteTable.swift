import Hummingbird
import Synchronization

/// Every route a service declared: its method, path template and documentation.
///
/// The error middleware asks it which methods a path allows (for 405 and `Allow`); the OpenAPI
/// generator reads it to describe the API.
public final class RouteTable: Sendable {
    /// One declared route.
    public struct Entry: Sendable {
        public var method: HTTPRequest.Method
        public var path: String
        public var status: HTTPResponse.Status
        public var summary: String?
        public var tags: [String]
    }

    private let entries = Mutex<[Entry]>([])

    public init() {}

    /// Every route in declaration order.
    public var all: [Entry] { entries.withLock { $0 } }

    func add(_ entry: Entry) {
        entries.withLock { $0.append(entry) }
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
