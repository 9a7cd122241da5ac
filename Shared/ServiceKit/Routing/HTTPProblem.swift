import HTTPTypes
import Hummingbird

/// An HTTP error with a client-safe message, rendered as FastAPI's `{"detail": "..."}`.
///
/// Handlers throw it; the error middleware is the one place that turns it into a response.
public struct HTTPProblem: Error, Sendable, CustomStringConvertible {
    /// The response status.
    public let status: HTTPResponse.Status
    /// The `detail` sent to the client.
    public let detail: String
    /// Extra response headers (`Allow`, `Retry-After`, ...).
    public let headers: HTTPFields

    public init(_ status: HTTPResponse.Status, detail: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.detail = detail ?? status.reasonPhrase
        self.headers = headers
    }

    public var description: String { "\(status.code) \(detail)" }

    /// 404 with FastAPI's default message unless another is given.
    public static func notFound(_ detail: String = "Not Found") -> HTTPProblem { HTTPProblem(.notFound, detail: detail) }
    /// 409 Conflict.
    public static func conflict(_ detail: String) -> HTTPProblem { HTTPProblem(.conflict, detail: detail) }
    /// 413 Content Too Large.
    public static let contentTooLarge = HTTPProblem(.contentTooLarge, detail: "Request body too large")
    /// 415 Unsupported Media Type.
    public static func unsupportedMediaType(_ expected: String) -> HTTPProblem {
        HTTPProblem(.unsupportedMediaType, detail: "Unsupported media type; expected \(expected)")
    }
}

/// One invalid input, in pydantic's shape: `type`, `loc`, `msg`, `input`, `ctx`.
public struct ValidationIssue: Sendable, Equatable, Encodable {
    /// One step of a `loc` path: an object key or an array index.
    public enum Location: Sendable, Equatable, Encodable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        case key(String)
        case index(Int)

        public init(stringLiteral value: String) { self = .key(value) }
        public init(integerLiteral value: Int) { self = .index(value) }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .key(let key): try container.encode(key)
            case .index(let index): try container.encode(index)
            }
        }
    }

    public var type: String
    public var loc: [Location]
    public var msg: String
    public var input: JSONValue?
    public var ctx: [String: JSONValue]?

    public init(type: String, loc: [Location], msg: String, input: JSONValue?, ctx: [String: JSONValue]? = nil) {
        self.type = type
        self.loc = loc
        self.msg = msg
        self.input = input
        self.ctx = ctx
    }

    enum CodingKeys: String, CodingKey { case type, loc, msg, input, ctx }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(loc, forKey: .loc)
        try container.encode(msg, forKey: .msg)
        try container.encode(input ?? .null, forKey: .input)
        try container.encodeIfPresent(ctx, forKey: .ctx)
    }
}

/// A 422: every invalid field of a request at once.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public var issues: [ValidationIssue]

    public init(_ issues: [ValidationIssue]) { self.issues = issues }

    public var description: String {
        "validation failed: " + issues.map { "\($0.loc.map(\.text).joined(separator: ".")): \($0.msg)" }.joined(separator: "; ")
    }
}

extension ValidationIssue.Location {
    var text: String {
        switch self {
        case .key(let key): return key
        case .index(let index): return String(index)
        }
    }
}
