import Foundation
import Logging

/// The identity of one request as a single logger-metadata value under `request_id`: the JSON
/// handler writes it as the fields `request_id`, `trace_id`, `span_id`, `method` and `route`, so a
/// request pays one metadata insertion instead of five. Other handlers see the request id.
final class RequestLogFields: CustomStringConvertible, Sendable {
    static let key = "request_id"
    let requestID: String
    let traceID: String
    let spanID: String
    let method: String
    let route: String?

    init(requestID: String, traceID: String, spanID: String, method: String, route: String?) {
        self.requestID = requestID
        self.traceID = traceID
        self.spanID = spanID
        self.method = method
        self.route = route
    }

    var description: String { requestID }

    /// Whether writing these fields writes `key` (so a metadata provider's value for it is dropped).
    func writes(_ key: String) -> Bool {
        switch key {
        case "request_id", "trace_id", "span_id", "method": true
        case "route": route != nil
        default: false
        }
    }

    /// The fields held in a metadata value, if it holds them.
    static func `in`(_ value: Logger.Metadata.Value?) -> RequestLogFields? {
        guard case .stringConvertible(let convertible) = value else { return nil }
        return convertible as? RequestLogFields
    }
}
