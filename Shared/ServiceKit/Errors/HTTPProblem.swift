import HTTPTypes
import Hummingbird

/// An HTTP error with a client-safe message, rendered as FastAPI's `{"detail": "..."}`.
///
/// Handlers throw it; the error middleware is the one place that turns it into a response. The
/// same value documents it: `static let notFound = HTTPProblem(.notFound, "Item not found")` is
/// thrown by the handler and listed in the route's `errors: [Self.notFound]`, so the document
/// cannot drift from what is answered.
public struct HTTPProblem: Error, Sendable, CustomStringConvertible {
    /// The response status.
    public let status: HTTPResponse.Status
    /// The `detail` sent to the client.
    public let detail: String
    /// Extra response headers (`Allow`, `Retry-After`, ...).
    public let headers: HTTPFields
    /// Whether the answer ends the connection: set for refusals made while the body was still
    /// arriving (413, a malformed multipart body), whose rest is not worth reading.
    public var endsConnection = false

    /// A problem answered with `status`, `detail` (the reason phrase when nil) and `headers`.
    public init(_ status: HTTPResponse.Status, detail: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.detail = detail ?? status.reasonPhrase
        self.headers = headers
    }

    /// A problem declared once, for throwing and for `errors:` alike.
    public init(_ status: HTTPResponse.Status, _ detail: String) {
        self.init(status, detail: detail, headers: [:])
    }

    /// `404 Item not found`, for logs.
    public var description: String { "\(status.code) \(detail)" }

    /// 404 with FastAPI's default message unless another is given.
    public static func notFound(_ detail: String = "Not Found") -> HTTPProblem { HTTPProblem(.notFound, detail: detail) }
    /// 409 Conflict.
    public static func conflict(_ detail: String) -> HTTPProblem { HTTPProblem(.conflict, detail: detail) }
    /// 413 Content Too Large; it ends the connection.
    public static var contentTooLarge: HTTPProblem {
        var problem = HTTPProblem(.contentTooLarge, detail: "Request body too large")
        problem.endsConnection = true
        return problem
    }
    /// 415 Unsupported Media Type.
    public static func unsupportedMediaType(_ expected: String) -> HTTPProblem {
        HTTPProblem(.unsupportedMediaType, detail: "Unsupported media type; expected \(expected)")
    }
}
