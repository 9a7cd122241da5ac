import Foundation
import OpenAPIKit

/// The named schemas of a document: each model is described once and referenced everywhere else.
public struct SchemaComponents: Sendable {
    /// Schemas by component name, in the order they were first met.
    public private(set) var schemas: OrderedDictionary<String, JSONSchemaValue> = [:]
    private var owners: [String: ObjectIdentifier] = [:]

    public init() {}

    /// A `$ref` to `M`'s schema, describing `M` first if needed.
    public mutating func reference<M: Model>(to type: M.Type) -> JSONSchemaValue {
        let name = Self.name(of: type)
        if schemas[name] == nil {
            schemas[name] = .object  // placeholder: a model that contains itself refers to it
            owners[name] = ObjectIdentifier(type)
            var builder = ModelSchemaBuilder(components: self)
            M.describeFields(&builder)
            self = builder.components
            schemas[name] = builder.schema(title: name)
        }
        return .reference(.component(named: name))
    }

    /// A schema added by hand (error bodies).
    public mutating func add(_ name: String, _ schema: JSONSchemaValue) -> JSONSchemaValue {
        if schemas[name] == nil { schemas[name] = schema }
        return .reference(.component(named: name))
    }

    /// The component name: the type's own name, generic arguments spelled out.
    static func name(of type: Any.Type) -> String {
        String(describing: type).replacingOccurrences(of: "<", with: "_").replacingOccurrences(of: ">", with: "").replacingOccurrences(of: ", ", with: "_")
    }
}

/// Collects the field schemas of one model for `describeFields`.
public struct ModelSchemaBuilder {
    var components: SchemaComponents
    var properties: OrderedDictionary<String, JSONSchemaValue> = [:]

    init(components: SchemaComponents) { self.components = components }

    /// Field `key`: required unless it has a default or is optional.
    public mutating func field<Value: FieldValue>(_ key: String, _ rules: FieldRules<Value>, default fallback: Value? = nil) {
        var schema = Value.schema(rules: rules, in: &components)
        if let description = rules.set.description { schema = schema.with(description: description) }
        if let example = rules.set.example, let withExample = try? schema.with(example: AnyCodable(example)) { schema = withExample }
        if let fallback, let value = JSONValue.encoding(fallback).anyCodable { schema = schema.with(defaultValue: value) }
        let required = fallback == nil && Value.absentValue == nil
        properties[key] = required ? schema.requiredSchemaObject() : schema.optionalSchemaObject()
    }

    func schema(title: String) -> JSONSchemaValue {
        .object(title: title, properties: properties)
    }
}

extension JSONValue {
    /// The JSON form of a field value, for defaults and examples in the document.
    static func encoding(_ value: some FieldValue) -> JSONValue {
        var writer = JSONWriter()
        value.writeJSON(to: &writer)
        return (try? JSONParser.parse(writer.buffer.readableBytesView)) ?? .null
    }

    /// The value as OpenAPIKit's `AnyCodable` (defaults and examples in the document).
    var anyCodable: AnyCodable? {
        guard let data = try? JSONEncoder().encode(self) else { return nil }
        return try? JSONDecoder().decode(AnyCodable.self, from: data)
    }
}
