import Foundation

/// Declares a request or response model once: decoding, validation of every field at once, the
/// JSON Schema, the memberwise initialiser and the JSON encoding all come from the struct.
///
/// ```swift
/// @Model public struct ItemCreate {
///     @Field(minLength: 1, maxLength: 100) public var name: String
///     @Field(gt: 0) public var price: Double
///     public var tags: [String] = []
/// }
/// ```
@attached(member, names: named(init), named(describeFields), named(writeJSON), named(encode), arbitrary)
@attached(extension, conformances: Model)
public macro Model() = #externalMacro(module: "ServiceKitMacros", type: "ModelMacro")

/// Constraints and documentation of one `@Model` field. A constraint that cannot apply to the
/// field's type does not compile. Keys default to the property name in snake_case.
@attached(peer)
public macro Field(
    key: String? = nil,
    description: String? = nil,
    example: String? = nil,
    minLength: Int? = nil,
    maxLength: Int? = nil,
    pattern: String? = nil,
    format: StringFormat? = nil,
    gt: Double? = nil,
    ge: Double? = nil,
    lt: Double? = nil,
    le: Double? = nil,
    minItems: Int? = nil,
    maxItems: Int? = nil,
    itemMinLength: Int? = nil,
    itemMaxLength: Int? = nil,
    itemPattern: String? = nil,
    itemFormat: StringFormat? = nil
) = #externalMacro(module: "ServiceKitMacros", type: "FieldMacro")

/// A stored property of a `@Model` that is never decoded, encoded or documented (it needs a default).
@attached(peer)
public macro Hidden() = #externalMacro(module: "ServiceKitMacros", type: "HiddenMacro")

/// What `@Model` generates. Conform through the macro, not by hand.
public protocol Model: FieldValue, Codable, RouteOutput {
    /// Reads and validates every field; throws `ModelReader.Incomplete` after recording issues.
    init(from reader: inout ModelReader) throws
    /// Adds each field's schema, in declaration order.
    static func describeFields(_ schema: inout ModelSchemaBuilder)
}

extension Model {
    /// Decodes and validates a parsed JSON value found at `loc`, throwing a 422 listing every issue.
    public static func validate(_ value: JSONValue, at loc: [ValidationIssue.Location] = ["body"]) throws -> Self {
        var issues = IssueCollector()
        let model = read(value, at: loc, rules: FieldRules(), issues: &issues)
        try issues.check()
        guard let model else { throw ValidationFailure(issues.issues) }
        return model
    }

    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<Self>, issues: inout IssueCollector) -> Self? {
        guard case .object(let object) = value else {
            issues.typeError("model_attributes_type", "Input should be a valid dictionary or object to extract fields from", loc, input: value)
            return nil
        }
        var reader = ModelReader(json: object, whole: value, at: loc)
        let model = try? Self(from: &reader)
        issues.add(contentsOf: reader.issues.issues)
        return model
    }

    public static func schema(rules: FieldRules<Self>, in components: inout SchemaComponents) -> JSONSchemaValue {
        components.reference(to: Self.self)
    }
}

/// A coding key built from the field key the macro computed.
public struct ModelCodingKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }

    public init(_ key: String) { stringValue = key }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { return nil }
}

/// `Decodable` for models goes through the same validation as request bodies, so a model decoded
/// anywhere (a peer's answer, a test) has met its constraints.
public enum ModelDecoding {
    ///
    /// A value that breaks the model's rules throws `DecodingError.dataCorrupted`, never a
    /// `ValidationFailure`: bad stored data or a peer's bad answer is the server's fault (500, or
    /// 502 through `CurlHTTPError.decoding`), not a 422 to the caller.
    public static func decode<M: Model>(_ type: M.Type, from decoder: any Decoder) throws -> M {
        let value = try JSONValue(from: decoder)
        do {
            return try M.validate(value, at: [])
        } catch let failure as ValidationFailure {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath, debugDescription: "\(M.self) does not meet its own rules: \(failure)"))
        }
    }
}
