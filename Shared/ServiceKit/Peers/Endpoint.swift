import Foundation
import HTTPTypes

/// One route's contract, declared once by the service that serves it and imported by the
/// services that call it: method, path template, path model, body model and answer model.
///
/// The serving side registers its handler with `APIRouter.serve(_:)`, whose signature takes
/// `Path<P>`, `Body<B>` and returns `O`; a caller uses `PeerClient.call(_:path:body:)`, which
/// fills the template from `P`, sends `B` and decodes (and validates) `O`. A change to the route
/// or its models on one side is thus a compile error on the other, and no URL string or copied
/// type lives in the caller (docs/adding-a-service.md, "Calling a peer").
///
/// ```swift
/// public enum CatalogAPI {
///     public static let reserve = Endpoint<ItemPath, Reservation, ReservationResult>(.post, "/items/{id}/reserve")
/// }
/// ```
public struct Endpoint<P: Model, B: Model, O: Model>: Sendable {
    /// The HTTP method.
    public let method: HTTPRequest.Method
    /// The full path template, `{name}` for each field of `P`.
    public let path: String
    /// The status of a successful answer.
    public let status: HTTPResponse.Status

    /// The route `method path`, answering `status` on success.
    public init(_ method: HTTPRequest.Method, _ path: String, status: HTTPResponse.Status = .ok) {
        self.method = method
        self.path = path
        self.status = status
    }

    /// The path for `parameters`: each `{name}` replaced by that field's value, percent-encoded,
    /// and every other field that has a value sent as a query parameter (`?limit=1&user_id=7`),
    /// so a list route's filters are declared in the same model.
    public func path(for parameters: P) throws -> String {
        guard case .object(let fields) = try JSONValueEncoder.encode(parameters) else { return path }
        var used = Set<String>()
        let segments = try path.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            guard segment.hasPrefix("{"), segment.hasSuffix("}") else { return String(segment) }
            let name = String(segment.dropFirst().dropLast())
            guard let value = fields[name] else { throw EndpointError.missingParameter(name, path) }
            used.insert(name)
            return Self.text(value).addingPercentEncoding(withAllowedCharacters: pathSegmentCharacters) ?? ""
        }
        let query = fields.keys.sorted().filter { !used.contains($0) }.compactMap { name -> String? in
            guard let value = fields[name], value != .null else { return nil }
            let encoded = Self.text(value).addingPercentEncoding(withAllowedCharacters: queryValueCharacters) ?? ""
            return "\(name)=\(encoded)"
        }
        let joined = segments.joined(separator: "/")
        return query.isEmpty ? joined : joined + "?" + query.joined(separator: "&")
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        default: return ""
        }
    }
}

/// What a path segment may hold unescaped: a value's `/` is escaped.
private let pathSegmentCharacters = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))
/// What a query value may hold unescaped.
private let queryValueCharacters = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+#"))

/// A body or path with nothing in it: `Endpoint<ItemPath, NoBody, Item>` for a `GET`.
@Model
public struct NoBody: Equatable {}

/// A declaration mistake in an `Endpoint`, found when it is used.
public enum EndpointError: Error, CustomStringConvertible {
    case missingParameter(String, String)

    public var description: String {
        switch self {
        case .missingParameter(let name, let path): return "the path model has no field '\(name)' for \(path)"
        }
    }
}
