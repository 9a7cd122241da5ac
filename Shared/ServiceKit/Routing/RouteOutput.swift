import Hummingbird
import NIOCore

/// What a handler may return: a model (or an array of them), a `Reply` with headers or another
/// status, `NoContent`, or a raw `Response`. The declared type is what is documented and the only
/// thing serialised: a model writes its declared fields and nothing else.
public protocol RouteOutput: Sendable {
    /// The response, with the route's declared status unless the value says otherwise.
    func response(status: HTTPResponse.Status) throws -> Response
    /// Documents the answer for `status`.
    static func document(status: HTTPResponse.Status, _ operation: inout OperationDescription)
    /// Whether the response's body is complete in memory when it is returned, so the request can
    /// be recorded then. False (the default) for anything that may stream: its request is recorded
    /// once the last byte is written.
    static var bodyIsInMemory: Bool { get }
}

extension RouteOutput {
    public static var bodyIsInMemory: Bool { false }
}

extension Model {
    public static var bodyIsInMemory: Bool { true }

    public func response(status: HTTPResponse.Status) throws -> Response {
        var writer = JSONWriter()
        writeJSON(to: &writer)
        return JSONResponse.make(buffer: writer.buffer, status: status)
    }

    public static func document(status: HTTPResponse.Status, _ operation: inout OperationDescription) {
        let schema = Self.schema(rules: FieldRules(), in: &operation.components)
        operation.answer(status, status.reasonPhrase, schema: schema)
    }
}

extension Array: RouteOutput where Element: Model {
    public static var bodyIsInMemory: Bool { true }

    public func response(status: HTTPResponse.Status) throws -> Response {
        var writer = JSONWriter()
        writeJSON(to: &writer)
        return JSONResponse.make(buffer: writer.buffer, status: status)
    }

    public static func document(status: HTTPResponse.Status, _ operation: inout OperationDescription) {
        let schema = Self.schema(rules: FieldRules(), in: &operation.components)
        operation.answer(status, status.reasonPhrase, schema: schema)
    }
}

/// A model answer with headers, or another status than the route's (304 with no body, say).
public struct Reply<Body: Model>: RouteOutput {
    public var body: Body?
    public var status: HTTPResponse.Status?
    public var headers: HTTPFields

    /// `body` with extra `headers`, under the route's status.
    public init(_ body: Body, headers: HTTPFields = [:]) {
        self.body = body
        self.headers = headers
    }

    /// An answer without a body (`.notModified`).
    public init(status: HTTPResponse.Status, headers: HTTPFields = [:]) {
        self.status = status
        self.headers = headers
    }

    public static var bodyIsInMemory: Bool { true }

    public func response(status declared: HTTPResponse.Status) throws -> Response {
        guard let body else { return Response(status: status ?? declared, headers: headers) }
        var response = try body.response(status: status ?? declared)
        response.headers.append(contentsOf: headers)
        return response
    }

    public static func document(status: HTTPResponse.Status, _ operation: inout OperationDescription) {
        Body.document(status: status, &operation)
    }
}

/// 204 with no body.
public struct NoContent: RouteOutput {
    public init() {}

    public static var bodyIsInMemory: Bool { true }

    public func response(status: HTTPResponse.Status) throws -> Response { Response(status: .noContent) }

    public static func document(status: HTTPResponse.Status, _ operation: inout OperationDescription) {
        operation.answer(.noContent, "No Content", schema: nil)
    }
}

extension Response: RouteOutput {
    public func response(status: HTTPResponse.Status) throws -> Response { self }

    public static func document(status: HTTPResponse.Status, _ operation: inout OperationDescription) {
        operation.answer(status, status.reasonPhrase, schema: nil)
    }
}
