import Hummingbird
import OpenAPIKit

/// What the document says about one route, gathered from its inputs, output and declaration.
public struct OperationDescription: Sendable {
    /// One parameter read by a `Path`, `Query`, `Header` or `Cookie` input.
    public struct Parameter: Sendable {
        var name: String
        var location: ParameterLocation
        var required: Bool
        var schema: JSONSchemaValue
    }

    /// The request body and its media type.
    public struct RequestBody: Sendable {
        var contentType: String
        var schema: JSONSchemaValue
    }

    /// One documented answer.
    public struct Answer: Sendable {
        var status: Int
        var description: String
        var schema: JSONSchemaValue?
    }

    public var method: HTTPRequest.Method
    public var path: String
    public var operationID: String?
    public var summary: String?
    public var description: String?
    public var tags: [String]
    public var deprecated = false
    var parameters: [Parameter] = []
    var requestBody: RequestBody?
    var answers: [Answer] = []
    /// Security scheme names this route requires (see `SecuritySchemes`).
    public var security: [String] = []
    /// Whether the route also answers without credentials (`OptionalUser`): an empty requirement
    /// is added to the document's alternatives.
    public var securityOptional = false
    /// Models met while describing the route.
    public var components: SchemaComponents

    init(method: HTTPRequest.Method, path: String, tags: [String], components: SchemaComponents) {
        self.method = method
        self.path = path
        self.tags = tags
        self.components = components
    }

    /// Documents an answer, replacing one already documented for the same status.
    public mutating func answer(_ status: HTTPResponse.Status, _ description: String, schema: JSONSchemaValue?) {
        answers.removeAll { $0.status == status.code }
        answers.append(Answer(status: status.code, description: description, schema: schema))
    }

    /// Declares that the route may answer `status` with FastAPI's `{"detail": "..."}` body.
    public mutating func answerProblem(_ status: HTTPResponse.Status, _ description: String) {
        let schema = components.add("HTTPError", .object(
            title: "HTTPError", properties: ["detail": .string]
        ))
        if !answers.contains(where: { $0.status == status.code }) {
            answers.append(Answer(status: status.code, description: description, schema: schema))
        }
    }

    /// Documents 422 with pydantic's error list, as FastAPI does for every route that reads input.
    public mutating func answerValidationError() {
        let issue = components.add("ValidationError", .object(
            title: "ValidationError",
            properties: [
                "type": .string,
                "loc": .array(items: .one(of: [.string, .integer])),
                "msg": .string,
                "input": .fragment(.init(required: false)),
                "ctx": .object(required: false),
            ]
        ))
        let schema = components.add("HTTPValidationError", .object(
            title: "HTTPValidationError", properties: ["detail": .array(items: issue)]
        ))
        if !answers.contains(where: { $0.status == 422 }) {
            answers.append(Answer(status: 422, description: "Validation Error", schema: schema))
        }
    }

    /// Requires a security scheme (added to the document's components).
    public mutating func requireSecurity(_ scheme: String) {
        if !security.contains(scheme) { security.append(scheme) }
    }

    /// Marks the security requirements as optional: the route answers anonymous callers too.
    public mutating func allowAnonymous() {
        securityOptional = true
    }

    /// Whether anything the route reads can be invalid (it then documents 422).
    var readsInput: Bool { !parameters.isEmpty || requestBody != nil }
}

/// An error answer a route declares in its documentation: the `HTTPProblem` it throws.
public typealias DeclaredError = HTTPProblem

/// Another answer a route declares in its documentation, without a body: `.init(.notModified,
/// "Not Modified")` for a conditional GET. FastAPI's `responses=`.
public struct DeclaredResponse: Sendable {
    public var status: HTTPResponse.Status
    public var description: String

    public init(_ status: HTTPResponse.Status, _ description: String) {
        self.status = status
        self.description = description
    }
}
