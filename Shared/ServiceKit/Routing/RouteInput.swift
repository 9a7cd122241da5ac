import Foundation
import Hummingbird

/// A typed handler parameter: `Path<M>`, `Query<M>`, `Header<M>`, `Cookie<M>`, `Body<M>`,
/// `Form<M>`, `Multipart<M>` or `Depends<D>`. Each reads itself from the request and says what
/// it reads in the route's OpenAPI operation.
public protocol RouteInput: Sendable {
    /// The input, or nil once its problems are recorded in `scope` (so one 422 lists them all).
    static func resolve(in scope: RequestScope) async throws -> Self?
    /// Adds the parameters or request body this input reads.
    static func document(_ operation: inout OperationDescription)
    /// What is wrong with declaring this input on a route with path `template`, checked when the
    /// route is registered (a `Path` model field the template lacks), or nil.
    static func problem(onRoute template: String) -> String?
}

extension RouteInput {
    public static func problem(onRoute template: String) -> String? { nil }
}

/// Where a model's fields are read from, and how they are named in `loc` and in the document.
enum ParameterLocation: String, Sendable {
    case path, query, header, cookie

    /// Header fields are matched and reported with hyphens (`x_token` is `x-token`), as FastAPI does.
    func name(for key: String) -> String {
        self == .header ? key.replacingOccurrences(of: "_", with: "-") : key
    }
}

/// Reads model `M` from text fields and records its problems.
func readModel<M: Model>(_ type: M.Type, from fields: TextFields, location: String, keyStyle: ParameterLocation?, in scope: RequestScope) -> M? {
    var reader = ModelReader(text: fields, at: [.key(location)])
    reader.headerStyle = keyStyle == .header
    // Files of a multipart form are this request's own: `UploadedFile` fields find them here.
    let model = UploadedFile.$requestFiles.withValue(fields.files.map(\.file)) { try? M(from: &reader) }
    scope.record(reader.issues.issues)
    return model
}

/// Documents each field of `M` as a parameter in `location`.
func documentParameters<M: Model>(_ type: M.Type, _ location: ParameterLocation, _ operation: inout OperationDescription) {
    var builder = ModelSchemaBuilder(components: operation.components)
    M.describeFields(&builder)
    operation.components = builder.components
    for (key, schema) in builder.properties {
        operation.parameters.append(.init(name: location.name(for: key), location: location, required: location == .path || schema.required, schema: schema))
    }
}

/// Path parameters as a model: `Path<ItemPath>` with `@Model struct ItemPath { @Field(ge: 1) var id: Int }`.
@dynamicMemberLookup
public struct Path<M: Model>: RouteInput {
    public let value: M
    public subscript<Member>(dynamicMember keyPath: KeyPath<M, Member>) -> Member { value[keyPath: keyPath] }

    public static func resolve(in scope: RequestScope) async throws -> Self? {
        let pairs = scope.context.parameters.map { (String($0.key), String($0.value)) }
        return readModel(M.self, from: TextFields(pairs), location: "path", keyStyle: .path, in: scope).map(Self.init)
    }

    public static func document(_ operation: inout OperationDescription) { documentParameters(M.self, .path, &operation) }

    /// Every required field of `M` must be a `{name}` of the template: a typo is a start-up
    /// error naming the route, not a 422 on every call. Found by reading `M` from the template's
    /// own parameter names, which reports each field the template lacks as missing.
    public static func problem(onRoute template: String) -> String? {
        let names = template.split(separator: "/").compactMap { segment -> String? in
            if segment.hasPrefix("{"), segment.hasSuffix("}") { return String(segment.dropFirst().dropLast()) }
            if segment.hasPrefix(":") { return String(segment.dropFirst()) }
            return nil
        }
        var reader = ModelReader(text: TextFields(names.map { ($0, "") }), at: [.key("path")])
        _ = try? M(from: &reader)
        let missing = reader.issues.issues.filter { $0.type == "missing" }.compactMap { $0.loc.last?.text }
        guard !missing.isEmpty else { return nil }
        return "path model \(M.self) reads \(missing.map { "'\($0)'" }.joined(separator: ", ")), which the template does not have"
    }
}

/// Query parameters as a model; array fields take every value of a repeated key.
@dynamicMemberLookup
public struct Query<M: Model>: RouteInput {
    public let value: M
    public subscript<Member>(dynamicMember keyPath: KeyPath<M, Member>) -> Member { value[keyPath: keyPath] }

    public static func resolve(in scope: RequestScope) async throws -> Self? {
        let pairs = scope.request.uri.queryParameters.map { (String($0.key), String($0.value)) }
        return readModel(M.self, from: TextFields(pairs), location: "query", keyStyle: .query, in: scope).map(Self.init)
    }

    public static func document(_ operation: inout OperationDescription) { documentParameters(M.self, .query, &operation) }
}

/// Request headers as a model: field `x_token` reads header `X-Token`.
@dynamicMemberLookup
public struct Header<M: Model>: RouteInput {
    public let value: M
    public subscript<Member>(dynamicMember keyPath: KeyPath<M, Member>) -> Member { value[keyPath: keyPath] }

    public static func resolve(in scope: RequestScope) async throws -> Self? {
        let pairs = scope.request.headers.map { ($0.name.canonicalName, $0.value) }
        return readModel(M.self, from: TextFields(pairs), location: "header", keyStyle: .header, in: scope).map(Self.init)
    }

    public static func document(_ operation: inout OperationDescription) { documentParameters(M.self, .header, &operation) }
}

/// Cookies as a model.
@dynamicMemberLookup
public struct Cookie<M: Model>: RouteInput {
    public let value: M
    public subscript<Member>(dynamicMember keyPath: KeyPath<M, Member>) -> Member { value[keyPath: keyPath] }

    public static func resolve(in scope: RequestScope) async throws -> Self? {
        var pairs: [(String, String)] = []
        for header in scope.request.headers[values: .cookie] {
            for item in header.split(separator: ";") {
                let pair = item.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { continue }
                pairs.append((pair[0].trimmingCharacters(in: .whitespaces), pair[1].trimmingCharacters(in: .whitespaces)))
            }
        }
        return readModel(M.self, from: TextFields(pairs), location: "cookie", keyStyle: .cookie, in: scope).map(Self.init)
    }

    public static func document(_ operation: inout OperationDescription) { documentParameters(M.self, .cookie, &operation) }
}

/// A JSON body as a model: 415 for another content type, 413 past `MAX_BODY_BYTES`, 422
/// `json_invalid` for malformed JSON and one issue per invalid field.
@dynamicMemberLookup
public struct Body<M: Model>: RouteInput {
    public let value: M
    public subscript<Member>(dynamicMember keyPath: KeyPath<M, Member>) -> Member { value[keyPath: keyPath] }

    public static func resolve(in scope: RequestScope) async throws -> Self? {
        scope.takeBody()
        let buffer = try await RequestInputs.jsonBytes(scope.request, limit: scope.context.maxBodyBytes)
        guard buffer.readableBytes > 0 else {
            scope.record([ValidationIssue(type: "missing", loc: ["body"], msg: "Field required", input: nil)])
            return nil
        }
        let json = try JSONValue.parse(buffer.readableBytesView)
        var issues = IssueCollector()
        let model = M.read(json, at: ["body"], rules: FieldRules(), issues: &issues)
        scope.record(issues.issues)
        return model.map(Self.init)
    }

    public static func document(_ operation: inout OperationDescription) {
        let schema = M.schema(rules: FieldRules(), in: &operation.components)
        operation.requestBody = .init(contentType: "application/json", schema: schema)
    }
}

/// A urlencoded form as a model (fields in `loc` under "body").
@dynamicMemberLookup
public struct Form<M: Model>: RouteInput {
    public let value: M
    public subscript<Member>(dynamicMember keyPath: KeyPath<M, Member>) -> Member { value[keyPath: keyPath] }

    public static func resolve(in scope: RequestScope) async throws -> Self? {
        scope.takeBody()
        let media = scope.request.headers[.contentType].map(RequestInputs.mediaType) ?? ""
        if media == "multipart/form-data" {
            let fields = try await MultipartForm.receive(scope)
            return readModel(M.self, from: fields, location: "body", keyStyle: nil, in: scope).map(Self.init)
        }
        guard media == "application/x-www-form-urlencoded" || media.isEmpty else {
            throw HTTPProblem.unsupportedMediaType("application/x-www-form-urlencoded")
        }
        let buffer = try await RequestInputs.collectBody(scope.request, limit: scope.context.maxBodyBytes)
        let text = String(buffer: buffer)
        let pairs = text.split(separator: "&").compactMap { item -> (String, String)? in
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(pair[0]) else { return nil }
            return (name, pair.count > 1 ? Self.decode(pair[1]) ?? "" : "")
        }
        return readModel(M.self, from: TextFields(pairs), location: "body", keyStyle: nil, in: scope).map(Self.init)
    }

    static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    public static func document(_ operation: inout OperationDescription) {
        let schema = M.schema(rules: FieldRules(), in: &operation.components)
        operation.requestBody = .init(contentType: "application/x-www-form-urlencoded", schema: schema)
    }
}

/// A `multipart/form-data` body as a model: `UploadedFile` fields receive files (kept in memory
/// up to a threshold, streamed to disk above it, refused past `MAX_UPLOAD_BYTES`), other fields text.
@dynamicMemberLookup
public struct Multipart<M: Model>: RouteInput {
    public let value: M
    public subscript<Member>(dynamicMember keyPath: KeyPath<M, Member>) -> Member { value[keyPath: keyPath] }

    public static func resolve(in scope: RequestScope) async throws -> Self? {
        scope.takeBody()
        let fields = try await MultipartForm.receive(scope)
        return readModel(M.self, from: fields, location: "body", keyStyle: nil, in: scope).map(Self.init)
    }

    public static func document(_ operation: inout OperationDescription) {
        let schema = M.schema(rules: FieldRules(), in: &operation.components)
        operation.requestBody = .init(contentType: "multipart/form-data", schema: schema)
    }
}
