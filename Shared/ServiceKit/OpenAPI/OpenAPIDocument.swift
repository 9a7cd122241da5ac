import Foundation
import OpenAPIKit

/// Builds the service's OpenAPI 3.1 document from its route table with OpenAPIKit: nothing in it
/// is written by hand, so it cannot drift from the routes.
public enum OpenAPIDocument {
    /// The security schemes routes may require by name.
    ///
    /// `OAuth2PasswordBearer` is FastAPI's name for the password flow: `/docs`' Authorize button
    /// posts the username and password to `/token` (relative to the document: users' own, or the
    /// gateway's proxy of it) and sends the token it gets. `bearerAuth` takes a pasted token, for a
    /// service whose own origin has no `/token`.
    public static let securitySchemes: OrderedDictionary<String, OpenAPI.SecurityScheme> = [
        "OAuth2PasswordBearer": .oauth2(
            flows: .init(password: .init(tokenUrl: URL(string: "/token")!, scopes: [:])),
            description: "Sign in with a username and password at the users service's POST /token"
        ),
        "bearerAuth": .init(type: .http(scheme: "bearer", bearerFormat: "JWT"), description: "A token from the users service's POST /token"),
    ]

    /// The document for `routes`.
    public static func make(title: String, version: String, description: String? = nil, routes: RouteTable) -> OpenAPI.Document {
        var paths: OrderedDictionary<OpenAPI.Path, OpenAPI.PathItem> = [:]

        var usedSchemes: Set<String> = []
        for entry in routes.all {
            guard let operation = entry.operation else { continue }
            let path = OpenAPI.Path(rawValue: entry.path)
            var item = paths[path] ?? OpenAPI.PathItem()
            let built = build(operation)
            usedSchemes.formUnion(operation.security)
            switch entry.method {
            case .get: item.get = built
            case .post: item.post = built
            case .put: item.put = built
            case .patch: item.patch = built
            case .delete: item.delete = built
            case .head: item.head = built
            case .options: item.options = built
            default: continue
            }
            paths[path] = item
        }
        var schemas: OrderedDictionary<OpenAPI.ComponentKey, JSONSchemaValue> = [:]
        for (name, schema) in routes.components.schemas {
            if let key = OpenAPI.ComponentKey(rawValue: name) { schemas[key] = schema }
        }
        var schemes: OrderedDictionary<OpenAPI.ComponentKey, Either<OpenAPI.Reference<OpenAPI.SecurityScheme>, OpenAPI.SecurityScheme>> = [:]
        for (name, scheme) in securitySchemes where usedSchemes.contains(name) {
            if let key = OpenAPI.ComponentKey(rawValue: name) { schemes[key] = .b(scheme) }
        }
        return OpenAPI.Document(
            openAPIVersion: .v3_1_1,
            info: .init(title: title, description: description, version: version),
            servers: [],
            paths: paths.mapValues { .b($0) },
            components: .init(schemas: schemas, securitySchemes: schemes),
            security: []
        )
    }

    /// The document as JSON bytes, keys sorted so it is stable between runs.
    public static func encode(_ document: OpenAPI.Document) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(document)
    }

    private static func build(_ operation: OperationDescription) -> OpenAPI.Operation {
        let parameters: OpenAPI.Parameter.Array = operation.parameters.map { parameter in
            let schema = parameter.schema.requiredSchemaObject()
            switch parameter.location {
            case .path: return .b(.path(name: parameter.name, schema: schema))
            case .query: return .b(.query(name: parameter.name, required: parameter.required, schema: schema))
            case .header: return .b(.header(name: parameter.name, required: parameter.required, schema: schema))
            case .cookie: return .b(.cookie(name: parameter.name, required: parameter.required, schema: schema))
            }
        }
        var responses: OpenAPI.Response.Map = [:]
        for answer in operation.answers.sorted(by: { $0.status < $1.status }) {
            var content: OpenAPI.Content.Map = [:]
            if let schema = answer.schema { content[.json] = .content(.init(schema: schema)) }
            responses[.status(code: answer.status)] = .b(OpenAPI.Response(description: answer.description, content: content))
        }
        var security: [OpenAPI.SecurityRequirement]? = operation.security.isEmpty ? nil : operation.security.map { name in
            [JSONReference<OpenAPI.SecurityScheme>.component(named: name): []]
        }
        if operation.securityOptional { security?.append([:]) }
        if let body = operation.requestBody {
            let type = OpenAPI.ContentType(rawValue: body.contentType) ?? .json
            return OpenAPI.Operation(
                tags: operation.tags.isEmpty ? nil : operation.tags,
                summary: operation.summary,
                description: operation.description,
                operationId: operation.operationID,
                parameters: parameters,
                requestBody: .b(OpenAPI.Request(content: [type: .content(.init(schema: body.schema))], required: true)),
                responses: responses,
                deprecated: operation.deprecated,
                security: security
            )
        }
        return OpenAPI.Operation(
            tags: operation.tags.isEmpty ? nil : operation.tags,
            summary: operation.summary,
            description: operation.description,
            operationId: operation.operationID,
            parameters: parameters,
            responses: responses,
            deprecated: operation.deprecated,
            security: security
        )
    }
}
