import Logging

/// The access line's own fields as one logger-metadata value under `access`: the JSON handler
/// writes it as `route`, `path`, `status` and `duration_ms`, so the line costs one metadata entry
/// instead of four boxed ones. Other handlers print it as `GET /items/{id} 200 1.2ms` text.
final class AccessLogFields: CustomStringConvertible, Sendable {
    static let key = "access"
    let route: String
    let path: String
    let status: Int
    let milliseconds: Double

    init(route: String, path: String, status: Int, milliseconds: Double) {
        self.route = route
        self.path = path
        self.status = status
        self.milliseconds = milliseconds
    }

    var description: String { "\(route) \(path) \(status) \(JSONNumber(milliseconds))ms" }

    /// Whether the access line writes `key` itself.
    static func writes(_ key: String) -> Bool {
        switch key {
        case "route", "path", "status", "duration_ms": true
        default: false
        }
    }

    /// The fields held in a metadata value, if it holds them.
    static func `in`(_ value: Logger.Metadata.Value?) -> AccessLogFields? {
        guard case .stringConvertible(let convertible) = value else { return nil }
        return convertible as? AccessLogFields
    }
}
