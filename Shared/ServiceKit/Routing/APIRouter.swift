import Foundation
import Hummingbird

/// Declares a service's routes with typed inputs and outputs, as FastAPI's `APIRouter` does:
///
/// ```swift
/// router.post("/items", status: .created, summary: "Create an item") {
///     (item: Body<ItemCreate>, store: Depends<ItemStore>) async throws -> Item in
///     try await store.value.create(item.value)
/// }
/// ```
///
/// Inputs are resolved in order and every problem is collected into one 422; the output type is
/// what is serialised and documented. `errors` documents `{"detail"}` answers and `responses`
/// other answers without a body (a 304, say). `group` nests routes under a prefix with tags,
/// shared dependencies and middleware of their own; `provide` registers service-wide values for
/// `Depends`.
public struct APIRouter {
    @usableFromInline let router: any RouterMethods<FleetContext>
    /// The routes declared so far.
    public let table: RouteTable
    @usableFromInline let environment: RouteEnvironment
    @usableFromInline let prefix: String
    @usableFromInline let tags: [String]
    @usableFromInline let dependencies: [any Dependency.Type]

    init(router: Router<FleetContext>, table: RouteTable, overrides: DependencyOverrides = DependencyOverrides()) {
        self.router = router
        self.table = table
        self.environment = RouteEnvironment(overrides: overrides)
        self.prefix = ""
        self.tags = []
        self.dependencies = []
    }

    private init(parent: APIRouter, router: any RouterMethods<FleetContext>, prefix: String, tags: [String], dependencies: [any Dependency.Type]) {
        self.router = router
        table = parent.table
        environment = parent.environment
        self.prefix = parent.prefix + prefix
        self.tags = parent.tags + tags
        self.dependencies = parent.dependencies + dependencies
    }

    /// Routes under `prefix`, tagged `tags`, each first resolving `dependencies` (a token check,
    /// say), like FastAPI's `include_router(router, prefix=..., tags=..., dependencies=[...])`.
    /// `middleware` run for the group's routes only, inside the service's and ServiceKit's.
    public func group(
        _ prefix: String, tags: [String] = [], dependencies: [any Dependency.Type] = [], middleware: [ServiceMiddleware] = []
    ) -> APIRouter {
        var target = router
        if !middleware.isEmpty {
            // An empty-path Hummingbird group: routes keep their full paths, and only the routes
            // added through it pass its middleware.
            let group = router.group()
            for layer in middleware { group.add(middleware: layer) }
            target = group
        }
        return APIRouter(parent: self, router: target, prefix: prefix, tags: tags, dependencies: dependencies)
    }

    /// Registers a service-wide value handed to routes that declare `Depends<T>`.
    public func provide<T: Injectable>(_ value: T) {
        environment.register(value, as: ObjectIdentifier(T.self))
    }

    /// `GET`.
    @inlinable
    public func get<each Input: RouteInput, Output: RouteOutput>(
        _ path: String, status: HTTPResponse.Status = .ok, summary: String? = nil, description: String? = nil,
        operationID: String? = nil, errors: [HTTPProblem] = [], responses: [DeclaredResponse] = [],
        _ handler: @escaping @Sendable (repeat each Input) async throws -> Output
    ) {
        add(.get, path, status: status, summary: summary, description: description, operationID: operationID, errors: errors, responses: responses, handler)
    }

    /// `POST`.
    @inlinable
    public func post<each Input: RouteInput, Output: RouteOutput>(
        _ path: String, status: HTTPResponse.Status = .ok, summary: String? = nil, description: String? = nil,
        operationID: String? = nil, errors: [HTTPProblem] = [], responses: [DeclaredResponse] = [],
        _ handler: @escaping @Sendable (repeat each Input) async throws -> Output
    ) {
        add(.post, path, status: status, summary: summary, description: description, operationID: operationID, errors: errors, responses: responses, handler)
    }

    /// `PUT`.
    @inlinable
    public func put<each Input: RouteInput, Output: RouteOutput>(
        _ path: String, status: HTTPResponse.Status = .ok, summary: String? = nil, description: String? = nil,
        operationID: String? = nil, errors: [HTTPProblem] = [], responses: [DeclaredResponse] = [],
        _ handler: @escaping @Sendable (repeat each Input) async throws -> Output
    ) {
        add(.put, path, status: status, summary: summary, description: description, operationID: operationID, errors: errors, responses: responses, handler)
    }

    /// `PATCH`.
    @inlinable
    public func patch<each Input: RouteInput, Output: RouteOutput>(
        _ path: String, status: HTTPResponse.Status = .ok, summary: String? = nil, description: String? = nil,
        operationID: String? = nil, errors: [HTTPProblem] = [], responses: [DeclaredResponse] = [],
        _ handler: @escaping @Sendable (repeat each Input) async throws -> Output
    ) {
        add(.patch, path, status: status, summary: summary, description: description, operationID: operationID, errors: errors, responses: responses, handler)
    }

    /// `DELETE`; return `NoContent()` for 204.
    @inlinable
    public func delete<each Input: RouteInput, Output: RouteOutput>(
        _ path: String, status: HTTPResponse.Status = .noContent, summary: String? = nil, description: String? = nil,
        operationID: String? = nil, errors: [HTTPProblem] = [], responses: [DeclaredResponse] = [],
        _ handler: @escaping @Sendable (repeat each Input) async throws -> Output
    ) {
        add(.delete, path, status: status, summary: summary, description: description, operationID: operationID, errors: errors, responses: responses, handler)
    }

    /// Serves `endpoint`, a route declared once for this service and its callers: the handler
    /// takes the endpoint's `Path` and `Body` models first, then any other inputs, and returns its
    /// answer model, so the route cannot drift from what callers were compiled against.
    @inlinable
    public func serve<P, B, O, each Extra: RouteInput>(
        _ endpoint: Endpoint<P, B, O>, summary: String? = nil, description: String? = nil,
        operationID: String? = nil, errors: [HTTPProblem] = [], responses: [DeclaredResponse] = [],
        _ handler: @escaping @Sendable (Path<P>, Body<B>, repeat each Extra) async throws -> O
    ) {
        add(
            endpoint.method, relativePath(of: endpoint), status: endpoint.status, summary: summary, description: description,
            operationID: operationID, errors: errors, responses: responses, handler)
    }

    /// Serves a body-less `endpoint` (a `GET`, a `DELETE`): the handler takes its `Path` first.
    @inlinable
    public func serve<P, O, each Extra: RouteInput>(
        _ endpoint: Endpoint<P, NoBody, O>, summary: String? = nil, description: String? = nil,
        operationID: String? = nil, errors: [HTTPProblem] = [], responses: [DeclaredResponse] = [],
        _ handler: @escaping @Sendable (Path<P>, repeat each Extra) async throws -> O
    ) {
        add(
            endpoint.method, relativePath(of: endpoint), status: endpoint.status, summary: summary, description: description,
            operationID: operationID, errors: errors, responses: responses, handler)
    }

    /// Serves a body-less `endpoint` whose answer carries headers or another status as well
    /// (`Reply<O>`: an ETag, a 304).
    @inlinable
    public func serve<P, O, each Extra: RouteInput>(
        _ endpoint: Endpoint<P, NoBody, O>, summary: String? = nil, description: String? = nil,
        operationID: String? = nil, errors: [HTTPProblem] = [], responses: [DeclaredResponse] = [],
        _ handler: @escaping @Sendable (Path<P>, repeat each Extra) async throws -> Reply<O>
    ) {
        add(
            endpoint.method, relativePath(of: endpoint), status: endpoint.status, summary: summary, description: description,
            operationID: operationID, errors: errors, responses: responses, handler)
    }

    /// An endpoint's full path below this router's prefix; one outside it is a declaration problem.
    @usableFromInline
    func relativePath<P, B, O>(of endpoint: Endpoint<P, B, O>) -> String {
        guard endpoint.path.hasPrefix(prefix) else {
            table.check(endpoint.method, endpoint.path, "the endpoint's path is outside the group's prefix \(prefix)")
            return endpoint.path
        }
        return String(endpoint.path.dropFirst(prefix.count))
    }

    /// A route whose handler builds the whole response, kept out of the document (admin endpoints,
    /// the documentation pages, the document itself).
    public func on(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping @Sendable (Request, FleetContext) async throws -> Response) {
        table.add(method: method, path: prefix + path, describe: nil)
        router.on(RouterPath(prefix + path), method: method) { request, context in try await handler(request, context) }
    }

    // Inlinable so that the per-request closure is compiled in the service's module with its
    // concrete input and output types: unspecialised, every request paid runtime lookups of the
    // generic and parameter-pack tuple metadata (about 5% of a request's CPU).
    @inlinable
    func add<each Input: RouteInput, Output: RouteOutput>(
        _ method: HTTPRequest.Method, _ path: String, status: HTTPResponse.Status, summary: String?, description: String?,
        operationID: String?, errors: [HTTPProblem], responses: [DeclaredResponse],
        _ handler: @escaping @Sendable (repeat each Input) async throws -> Output
    ) {
        let full = prefix + path
        repeat table.check(method, full, (each Input).problem(onRoute: full))
        describe(
            method, full, status: status, summary: summary, description: description, operationID: operationID,
            errors: errors, responses: responses, inputs: repeat (each Input).self, output: Output.self)
        let environment = self.environment
        let dependencies = self.dependencies
        router.on(RouterPath(full), method: method) { request, context in
            let scope = RequestScope(request: request, context: context, environment: environment)
            do {
                for dependency in dependencies { _ = try await Self.resolveShared(dependency, scope) }
                let inputs = (repeat try await (each Input).resolve(in: scope))
                try scope.checkIssues()
                let output = try await handler(repeat (each inputs)!)
                await scope.runCleanups(nil)
                let response = try output.response(status: status)
                if Output.bodyIsInMemory { context.recording.markBodyInMemory() }
                return response
            } catch {
                await scope.runCleanups(error)
                throw error
            }
        }
    }

    /// Adds the route to the table, described (for the document) when it is first asked for.
    @usableFromInline
    func describe<each Input: RouteInput, Output: RouteOutput>(
        _ method: HTTPRequest.Method, _ full: String, status: HTTPResponse.Status, summary: String?, description: String?,
        operationID: String?, errors: [HTTPProblem], responses: [DeclaredResponse],
        inputs: repeat (each Input).Type, output: Output.Type
    ) {
        let tags = self.tags
        let dependencies = self.dependencies
        table.add(method: method, path: full) { components in
            var operation = OperationDescription(method: method, path: full, tags: tags, components: components)
            operation.summary = summary
            operation.description = description
            operation.operationID = operationID ?? Self.operationID(method, full)
            for dependency in dependencies { dependency.document(&operation) }
            repeat (each Input).document(&operation)
            Output.document(status: status, &operation)
            if operation.readsInput { operation.answerValidationError() }
            for error in errors { operation.answerProblem(error.status, error.detail) }
            for response in responses { operation.answer(response.status, response.description, schema: nil) }
            return operation
        }
    }

    @usableFromInline
    static func resolveShared<D: Dependency>(_ dependency: D.Type, _ scope: RequestScope) async throws -> D.Value? {
        do {
            return try await scope.resolve(dependency)
        } catch is RequestScope.InvalidInput {
            return nil
        }
    }

    /// FastAPI's default: the method and the path's words (`get_items_id`).
    static func operationID(_ method: HTTPRequest.Method, _ path: String) -> String {
        let words = path.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        return ([method.rawValue.lowercased()] + words).joined(separator: "_")
    }
}
