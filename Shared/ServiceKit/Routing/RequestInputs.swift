import Foundation
import Hummingbird

/// Reads a request's typed inputs (path, query, JSON body) and collects every problem, so one 422
/// names all of them, as FastAPI does. Call `validate()` before using the values.
public struct RequestInputs {
    let request: Request
    let context: FleetContext
    /// The problems found so far.
    public var collector = IssueCollector()

    /// Reads from `request`, with path parameters and limits from `context`.
    public init(_ request: Request, _ context: FleetContext) {
        self.request = request
        self.context = context
    }

    /// Throws a 422 listing everything found wrong.
    public func validate() throws { try collector.check() }

    // MARK: path

    /// An integer path parameter, with optional bounds.
    public mutating func path(_ name: String, _ type: Int.Type, gt: Int? = nil, ge: Int? = nil) -> Int {
        let raw = context.parameters.get(name) ?? ""
        let (value, errorType, msg) = Scalar.int(text: raw)
        guard let value else {
            collector.typeError(errorType, msg, ["path", .key(name)], input: .string(raw))
            return 0
        }
        collector.checkNumber(Double(value), input: .string(raw), loc: ["path", .key(name)], gt: gt.map { Double($0) }, ge: ge.map { Double($0) }, lt: nil, le: nil)
        return value
    }

    /// A string path parameter.
    public mutating func path(_ name: String, _ type: String.Type) -> String {
        context.parameters.get(name) ?? ""
    }

    // MARK: query

    /// An optional string query parameter.
    public mutating func query(_ name: String, maxLength: Int? = nil) -> String? {
        guard let raw = request.uri.queryParameters[name[...]].map({ String($0) }) else { return nil }
        collector.checkString(raw, loc: ["query", .key(name)], minLength: nil, maxLength: maxLength, pattern: nil)
        return raw
    }

    /// Every value of a repeated query parameter (`?tag=a&tag=b`).
    public mutating func queryAll(_ name: String, maxItems: Int? = nil) -> [String] {
        let values = request.uri.queryParameters.getAll(name).map { String($0) }
        collector.checkCount(values.count, input: .array(values.map(JSONValue.string)), loc: ["query", .key(name)], minItems: nil, maxItems: maxItems)
        return values
    }

    /// An integer query parameter with a default and bounds.
    public mutating func query(_ name: String, default fallback: Int, ge: Int? = nil, le: Int? = nil) -> Int {
        guard let raw = request.uri.queryParameters[name[...]].map({ String($0) }) else { return fallback }
        let loc: [ValidationIssue.Location] = ["query", .key(name)]
        let (value, errorType, msg) = Scalar.int(text: raw)
        guard let value else {
            collector.typeError(errorType, msg, loc, input: .string(raw))
            return fallback
        }
        collector.checkNumber(Double(value), input: .string(raw), loc: loc, gt: nil, ge: ge.map { Double($0) }, lt: nil, le: le.map { Double($0) })
        return value
    }

    // MARK: body

    /// A JSON body read into `Model`: 415 for another content type, 413 past `MAX_BODY_BYTES`
    /// (refused from Content-Length alone when it says so), 422 for malformed JSON or bad fields.
    public mutating func body<Model: RequestModel>(_ type: Model.Type) async throws -> Model {
        let json = try await Self.readJSON(request, limit: context.maxBodyBytes)
        var reader = FieldReader(json, path: ["body"])
        let model = Model(from: &reader)
        collector.add(contentsOf: reader.collector.issues)
        return model
    }

    /// Collects a JSON body within `limit` and parses it.
    public static func readJSON(_ request: Request, limit: Int) async throws -> JSONValue {
        if let contentType = request.headers[.contentType] {
            let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json")) else {
                throw HTTPProblem.unsupportedMediaType("application/json")
            }
        }
        let buffer = try await collectBody(request, limit: limit)
        return try JSONValue.parse(buffer.readableBytesView)
    }

    /// The body as bytes, refused with 413 as soon as it is known to exceed `limit`.
    public static func collectBody(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw HTTPProblem.contentTooLarge
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw HTTPProblem.contentTooLarge
        }
    }
}
