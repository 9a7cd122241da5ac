import Foundation
import OpenAPIKit

/// The JSON Schema type used in generated documents (OpenAPIKit's, for OpenAPI 3.1).
public typealias JSONSchemaValue = OpenAPIKit.JSONSchema

/// A type a `@Model` field may have: it reads itself from a parsed JSON value (or a text input
/// presented as one) with pydantic's lax rules, describes itself as a schema and writes itself as
/// JSON. Strings, numbers, booleans, optionals, arrays, enums and models conform.
public protocol FieldValue: Sendable, Encodable {
    /// The value at `loc`, or nil after recording every issue found.
    static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<Self>, issues: inout IssueCollector) -> Self?
    /// The schema of a value with these rules; models register themselves in `components`.
    static func schema(rules: FieldRules<Self>, in components: inout SchemaComponents) -> JSONSchemaValue
    /// The value when the input does not have the field at all; nil means the field is required.
    static var absentValue: Self? { get }
    /// Whether a text source (query, header, form) gives every value of a repeated key.
    static var takesRepeatedValues: Bool { get }
    /// Writes the value as JSON.
    func writeJSON(to writer: inout JSONWriter)
}

extension FieldValue {
    public static var absentValue: Self? { nil }
    public static var takesRepeatedValues: Bool { false }
}

extension String: FieldValue {
    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<String>, issues: inout IssueCollector) -> String? {
        guard case .string(let text) = value else {
            issues.typeError("string_type", "Input should be a valid string", loc, input: value)
            return nil
        }
        if text.utf8.contains(0) {
            // PostgreSQL's text cannot hold U+0000 and SQLite's C API ends strings at it, so no
            // engine could store such a string faithfully: refused alike on both.
            issues.add(ValidationIssue(
                type: "value_error", loc: loc, msg: "Value error, String should not contain the NUL character",
                input: value, ctx: ["error": .object([:])]
            ))
            return nil
        }
        let before = issues.issues.count
        issues.checkString(text, loc: loc, rules: rules.set)
        return issues.issues.count == before ? text : nil
    }

    public static func schema(rules: FieldRules<String>, in components: inout SchemaComponents) -> JSONSchemaValue {
        let set = rules.set
        let format: JSONTypeFormat.StringFormat = set.format.map { .other($0.rawValue) } ?? .unspecified
        return .string(format: format, minLength: set.minLength, maxLength: set.maxLength, pattern: set.pattern?.source)
    }

    public func writeJSON(to writer: inout JSONWriter) { writer.string(self) }
}

extension Int: FieldValue {
    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<Int>, issues: inout IssueCollector) -> Int? {
        if case .double(let number) = value, number.rounded() == number, Int(exactly: number) == nil {
            // A whole number beyond Int's range: pydantic keeps it exact and checks its bounds first.
            let before = issues.issues.count
            issues.checkNumber(number, input: value, loc: loc, rules: rules.set)
            if issues.issues.count == before {
                issues.typeError("int_parsing_size", "Input should be a valid integer, unable to parse input as an integer", loc, input: value)
            }
            return nil
        }
        let (parsed, type, msg) = Scalar.int(value)
        guard let parsed else {
            issues.typeError(type, msg, loc, input: value)
            return nil
        }
        let before = issues.issues.count
        issues.checkNumber(Double(parsed), input: value, loc: loc, rules: rules.set)
        return issues.issues.count == before ? parsed : nil
    }

    public static func schema(rules: FieldRules<Int>, in components: inout SchemaComponents) -> JSONSchemaValue {
        let set = rules.set
        return .integer(
            maximum: SchemaBounds.integer(inclusive: set.le, exclusive: set.lt, upper: true),
            minimum: SchemaBounds.integer(inclusive: set.ge, exclusive: set.gt, upper: false)
        )
    }

    public func writeJSON(to writer: inout JSONWriter) { writer.int(self) }
}

extension Double: FieldValue {
    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<Double>, issues: inout IssueCollector) -> Double? {
        let (parsed, type, msg) = Scalar.double(value)
        guard let parsed else {
            issues.typeError(type, msg, loc, input: value)
            return nil
        }
        let before = issues.issues.count
        issues.checkNumber(parsed, input: value, loc: loc, rules: rules.set)
        return issues.issues.count == before ? parsed : nil
    }

    public static func schema(rules: FieldRules<Double>, in components: inout SchemaComponents) -> JSONSchemaValue {
        let set = rules.set
        return .number(
            maximum: SchemaBounds.number(inclusive: set.le, exclusive: set.lt),
            minimum: SchemaBounds.number(inclusive: set.ge, exclusive: set.gt)
        )
    }

    public func writeJSON(to writer: inout JSONWriter) { writer.double(self) }
}

extension Bool: FieldValue {
    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<Bool>, issues: inout IssueCollector) -> Bool? {
        switch value {
        case .bool(let flag): return flag
        case .int(0): return false
        case .int(1): return true
        case .string(let text):
            if let flag = Scalar.bool(text: text) { return flag }
            issues.typeError("bool_parsing", "Input should be a valid boolean, unable to interpret input", loc, input: value)
        case .int, .double:
            issues.typeError("bool_parsing", "Input should be a valid boolean, unable to interpret input", loc, input: value)
        default:
            issues.typeError("bool_type", "Input should be a valid boolean", loc, input: value)
        }
        return nil
    }

    public static func schema(rules: FieldRules<Bool>, in components: inout SchemaComponents) -> JSONSchemaValue { .boolean }

    public func writeJSON(to writer: inout JSONWriter) { writer.bool(self) }
}

extension Optional: FieldValue where Wrapped: FieldValue {
    public static var absentValue: Self? { .some(.none) }
    public static var takesRepeatedValues: Bool { Wrapped.takesRepeatedValues }

    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<Self>, issues: inout IssueCollector) -> Self? {
        if value == .null { return .some(.none) }
        guard let wrapped = Wrapped.read(value, at: loc, rules: rules.retyped(), issues: &issues) else { return nil }
        return .some(wrapped)
    }

    public static func schema(rules: FieldRules<Self>, in components: inout SchemaComponents) -> JSONSchemaValue {
        let wrapped = Wrapped.schema(rules: rules.retyped(), in: &components)
        if wrapped.reference != nil { return .any(of: [wrapped, .null()]) }
        return wrapped.nullableSchemaObject()
    }

    public func writeJSON(to writer: inout JSONWriter) {
        switch self {
        case .none: writer.null()
        case .some(let wrapped): wrapped.writeJSON(to: &writer)
        }
    }
}

extension Array: FieldValue where Element: FieldValue {
    public static var takesRepeatedValues: Bool { true }

    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<Self>, issues: inout IssueCollector) -> Self? {
        guard case .array(let elements) = value else {
            issues.typeError("list_type", "Input should be a valid list", loc, input: value)
            return nil
        }
        let elementRules = FieldRules<Element>(rules.set.items.first ?? RuleSet())
        var result: [Element] = []
        result.reserveCapacity(elements.count)
        var valid = true
        for (index, element) in elements.enumerated() {
            if let item = Element.read(element, at: loc + [.index(index)], rules: elementRules, issues: &issues) {
                result.append(item)
            } else {
                valid = false
            }
        }
        let before = issues.issues.count
        issues.checkCount(elements.count, input: value, loc: loc, minItems: rules.set.minItems, maxItems: rules.set.maxItems)
        return valid && issues.issues.count == before ? result : nil
    }

    public static func schema(rules: FieldRules<Self>, in components: inout SchemaComponents) -> JSONSchemaValue {
        let item = Element.schema(rules: FieldRules<Element>(rules.set.items.first ?? RuleSet()), in: &components)
        return .array(minItems: rules.set.minItems, maxItems: rules.set.maxItems, items: item)
    }

    public func writeJSON(to writer: inout JSONWriter) {
        writer.beginArray()
        for element in self {
            writer.arrayElement()
            element.writeJSON(to: &writer)
        }
        writer.endArray()
    }
}

/// A string enum usable as a field: `enum Color: String, ModelEnum { case red, green }`.
/// Anything else is 422 `enum`, listing the allowed values, as pydantic does.
public protocol ModelEnum: FieldValue, RawRepresentable, CaseIterable, Codable where RawValue == String {}

extension ModelEnum {
    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<Self>, issues: inout IssueCollector) -> Self? {
        if case .string(let text) = value, let match = Self(rawValue: text) { return match }
        let names = allCases.map { "'\($0.rawValue)'" }
        let expected = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names.joined()
        issues.add(ValidationIssue(type: "enum", loc: loc, msg: "Input should be \(expected)", input: value, ctx: ["expected": .string(expected)]))
        return nil
    }

    public static func schema(rules: FieldRules<Self>, in components: inout SchemaComponents) -> JSONSchemaValue {
        .string(allowedValues: allCases.map { AnyCodable($0.rawValue) })
    }

    public func writeJSON(to writer: inout JSONWriter) { writer.string(rawValue) }
}

/// A PATCH field: absent leaves the value alone, `null` clears it, a value sets it.
public enum Patch<Value: FieldValue & Equatable>: FieldValue, Equatable {
    case unchanged
    case cleared
    case set(Value)

    public static var absentValue: Self? { .unchanged }

    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<Self>, issues: inout IssueCollector) -> Self? {
        if value == .null { return .cleared }
        return Value.read(value, at: loc, rules: rules.retyped(), issues: &issues).map { .set($0) }
    }

    public static func schema(rules: FieldRules<Self>, in components: inout SchemaComponents) -> JSONSchemaValue {
        Value.schema(rules: rules.retyped(), in: &components).nullableSchemaObject()
    }

    public func writeJSON(to writer: inout JSONWriter) {
        switch self {
        case .unchanged, .cleared: writer.null()
        case .set(let value): value.writeJSON(to: &writer)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .unchanged, .cleared: try container.encodeNil()
        case .set(let value): try container.encode(value)
        }
    }
}

extension Patch: StringConstrainable where Value: StringConstrainable {}
extension Patch: NumberConstrainable where Value: NumberConstrainable {}

/// Bounds in the shape OpenAPIKit wants.
enum SchemaBounds {
    static func integer(inclusive: Double?, exclusive: Double?, upper: Bool) -> (Int, exclusive: Bool)? {
        if let exclusive { return (Int(exclusive), true) }
        if let inclusive { return (Int(inclusive), false) }
        return nil
    }

    static func number(inclusive: Double?, exclusive: Double?) -> (Double, exclusive: Bool)? {
        if let exclusive { return (exclusive, true) }
        if let inclusive { return (inclusive, false) }
        return nil
    }
}
