import Foundation
import Hummingbird

/// Declares a service's routes: each handler returns a model (encoded as JSON with the declared
/// status) or a full `Response`, and each route is recorded in the `RouteTable`.
///
/// `group(_:tags:)` nests routes under a prefix, as FastAPI's `APIRouter` does.
public struct APIRouter {
    let router: Router<FleetContext>
    /// The routes declared so far.
    public let table: RouteTable
    let prefix: String
    let tags: [String]

    init(router: Router<FleetContext>, table: RouteTable, prefix: String = "", tags: [String] = []) {
        self.router = router
        self.table = table
        self.prefix = prefix
        self.tags = tags
    }

    /// Routes under `prefix`, tagged `tags` in the documentation.
    public func group(_ prefix: String, tags: [String] = []) -> APIRouter {
        APIRouter(router: router, table: table, prefix: self.prefix + prefix, tags: self.tags + tags)
    }

    /// `GET` returning a JSON model.
    public func get<Output: Encodable & Sendable>(
        _ path: String, status: HTTPResponse.Status = .ok, summary: String? = nil,
        _ handler: @escaping @Sendable (Request, FleetContext) async throws -> Output
    ) {
        add(.get, path, status: status, summary: summary, handler)
    }

    /// `POST` returning a JSON model.
    public func post<Output: Encodable & Sendable>(
        _ path: String, status: HTTPResponse.Status = .ok, summary: String? = nil,
        _ handler: @escaping @Sendable (Request, FleetContext) async throws -> Output
    ) {
        add(.post, path, status: status, summary: summary, handler)
    }

    /// `PATCH` returning a JSON model.
    public func patch<Output: Encodable & Sendable>(
        _ path: String, status: HTTPResponse.Status = .ok, summary: String? = nil,
        _ handler: @escaping @Sendable (Request, FleetContext) async throws -> Output
    ) {
        add(.patch, path, status: status, summary: summary, handler)
    }

    /// `PUT` returning a JSON model.
    public func put<Output: Encodable & Sendable>(
        _ path: String, status: HTTPResponse.Status = .ok, summary: String? = nil,
        _ handler: @escaping @Sendable (Request, FleetContext) async throws -> Output
    ) {
        add(.put, path, status: status, summary: summary, handler)
    }

    /// A route whose handler builds the whole response (headers, 304s, 204s, streams).
    public func on(
        _ method: HTTPRequest.Method, _ path: String, status: HTTPResponse.Status = .ok, summary: String? = nil,
        _ handler: @escaping @Sendable (Request, FleetContext) async throws -> Response
    ) {
        let full = prefix + path
        table.add(.init(method: method, path: full, status: status, summary: summary, tags: tags))
        router.on(RouterPath(full), method: method) { request, context in
            try await handler(request, context)
        }
    }

    /// `DELETE` answering 204 No Content.
    public func delete(_ path: String, summary: String? = nil, _ handler: @escaping @Sendable (Request, FleetContext) async throws -> Void) {
        on(.delete, path, status: .noContent, summary: summary) { request, context in
            try await handler(request, context)
            return Response(status: .noContent)
        }
    }

    private func add<Output: Encodable & Sendable>(
        _ method: HTTPRequest.Method, _ path: String, status: HTTPResponse.Status, summary: String?,
        _ handler: @escaping @Sendable (Request, FleetContext) async throws -> Output
    ) {
        on(method, path, status: status, summary: summary) { request, context in
            try JSONResponse.make(try await handler(request, context), status: status)
        }
    }
}

/// Encodes models as JSON responses the same way everywhere.
public enum JSONResponse {
    /// One encoder for every response: its configuration never changes after this line.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    /// A JSON response of `value` with `status` and any extra headers.
    public static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        let data = try encoder.encode(value)
        var fields: HTTPFields = [.contentType: "application/json"]
        fields.append(contentsOf: headers)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
