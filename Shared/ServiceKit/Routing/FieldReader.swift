import Foundation

/// A request body model: built from a JSON object through a `FieldReader`, which validates every
/// field as it is read and reports all problems at once.
public protocol RequestModel: Sendable {
    /// Reads each field with its constraints; problems are collected by `fields`, not thrown.
    init(from fields: inout FieldReader)
}

/// Reads the fields of one JSON object with their constraints, collecting a pydantic-shaped issue
/// for each missing or invalid one and returning a placeholder so reading can go on.
public struct FieldReader {
    private let object: [String: JSONValue]
    private let source: JSONValue
    private let path: [ValidationIssue.Location]
    /// What was found wrong so far.
    public var collector = IssueCollector()

    /// Reads `value` found at `path` (for a body: `["body"]`).
    public init(_ value: JSONValue, path: [ValidationIssue.Location]) {
        self.source = value
        self.path = path
        if case .object(let fields) = value {
            self.object = fields
        } else {
            self.object = [:]
            collector.add(ValidationIssue(
                type: "model_attributes_type", loc: path,
                msg: "Input should be a valid dictionary or object to extract fields from", input: value
            ))
        }
    }

    /// Builds a model from a parsed body, throwing a `ValidationFailure` listing every issue.
    public static func decode<Model: RequestModel>(_ type: Model.Type, from value: JSONValue, path: [ValidationIssue.Location] = ["body"]) throws -> Model {
        var reader = FieldReader(value, path: path)
        if !reader.collector.issues.isEmpty { try reader.collector.check() }
        let model = Model(from: &reader)
        try reader.collector.check()
        return model
    }

    /// Whether the object has `key` at all (even as null): PATCH bodies use it to tell
    /// "leave alone" from "clear".
    public func contains(_ key: String) -> Bool { object[key] != nil }

    private func present(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    // MARK: strings

    /// A required string.
    public mutating func string(_ key: String, minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil) -> String {
        optionalString(key, minLength: minLength, maxLength: maxLength, pattern: pattern, required: true) ?? ""
    }

    /// A string with a default when absent or null.
    public mutating func string(_ key: String, default fallback: String, minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil) -> String {
        optionalString(key, minLength: minLength, maxLength: maxLength, pattern: pattern) ?? fallback
    }

    /// An optional string (absent or null: nil).
    public mutating func optionalString(_ key: String, minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil) -> String? {
        optionalString(key, minLength: minLength, maxLength: maxLength, pattern: pattern, required: false)
    }

    /// A required string that must look like an e-mail address.
    public mutating func email(_ key: String) -> String {
        let value = string(key)
        if object[key] != nil, !value.isEmpty, !Self.looksLikeEmail(value) {
            collector.add(ValidationIssue(
                type: "value_error", loc: path + [.key(key)],
                msg: "value is not a valid email address: An email address must have an @-sign.",
                input: .string(value), ctx: ["reason": .string("An email address must have an @-sign.")]
            ))
        }
        return value
    }

    static func looksLikeEmail(_ value: String) -> Bool {
        value.range(of: #"^[^@\s]+@[^@\s]+\.[^@\s]+$"#, options: .regularExpression) != nil
    }

    private mutating func optionalString(_ key: String, minLength: Int?, maxLength: Int?, pattern: String?, required: Bool) -> String? {
        let loc = path + [.key(key)]
        guard let value = present(key) else {
            if required { missingOrNull(key) }
            return nil
        }
        guard case .string(let text) = value else {
            collector.typeError("string_type", "Input should be a valid string", loc, input: value)
            return nil
        }
        collector.checkString(text, loc: loc, minLength: minLength, maxLength: maxLength, pattern: pattern)
        return text
    }

    // MARK: numbers

    /// A required integer.
    public mutating func int(_ key: String, gt: Int? = nil, ge: Int? = nil, lt: Int? = nil, le: Int? = nil) -> Int {
        optionalInt(key, gt: gt, ge: ge, lt: lt, le: le, required: true) ?? 0
    }

    /// An integer with a default when absent or null.
    public mutating func int(_ key: String, default fallback: Int, gt: Int? = nil, ge: Int? = nil, lt: Int? = nil, le: Int? = nil) -> Int {
        optionalInt(key, gt: gt, ge: ge, lt: lt, le: le, required: false) ?? fallback
    }

    /// An optional integer.
    public mutating func optionalInt(_ key: String, gt: Int? = nil, ge: Int? = nil, lt: Int? = nil, le: Int? = nil) -> Int? {
        optionalInt(key, gt: gt, ge: ge, lt: lt, le: le, required: false)
    }

    private mutating func optionalInt(_ key: String, gt: Int?, ge: Int?, lt: Int?, le: Int?, required: Bool) -> Int? {
        let loc = path + [.key(key)]
        guard let value = present(key) else {
            if required { missingOrNull(key) }
            return nil
        }
        let (parsed, type, msg) = Scalar.int(value)
        guard let parsed else {
            collector.typeError(type, msg, loc, input: value)
            return nil
        }
        collector.checkNumber(Double(parsed), input: value, loc: loc, gt: gt.map { Double($0) }, ge: ge.map { Double($0) }, lt: lt.map { Double($0) }, le: le.map { Double($0) })
        return parsed
    }

    /// A required number.
    public mutating func double(_ key: String, gt: Double? = nil, ge: Double? = nil, lt: Double? = nil, le: Double? = nil) -> Double {
        optionalDouble(key, gt: gt, ge: ge, lt: lt, le: le, required: true) ?? 0
    }

    /// An optional number.
    public mutating func optionalDouble(_ key: String, gt: Double? = nil, ge: Double? = nil, lt: Double? = nil, le: Double? = nil) -> Double? {
        optionalDouble(key, gt: gt, ge: ge, lt: lt, le: le, required: false)
    }

    private mutating func optionalDouble(_ key: String, gt: Double?, ge: Double?, lt: Double?, le: Double?, required: Bool) -> Double? {
        let loc = path + [.key(key)]
        guard let value = present(key) else {
            if required { missingOrNull(key) }
            return nil
        }
        let (parsed, type, msg) = Scalar.double(value)
        guard let parsed else {
            collector.typeError(type, msg, loc, input: value)
            return nil
        }
        collector.checkNumber(parsed, input: value, loc: loc, gt: gt, ge: ge, lt: lt, le: le)
        return parsed
    }

    // MARK: arrays

    /// An array of strings, each checked; `default` when absent or null.
    public mutating func stringArray(
        _ key: String, default fallback: [String], minItems: Int? = nil, maxItems: Int? = nil,
        itemMinLength: Int? = nil, itemMaxLength: Int? = nil, itemPattern: String? = nil
    ) -> [String] {
        optionalStringArray(key, minItems: minItems, maxItems: maxItems, itemMinLength: itemMinLength, itemMaxLength: itemMaxLength, itemPattern: itemPattern) ?? fallback
    }

    /// An optional array of strings.
    public mutating func optionalStringArray(
        _ key: String, minItems: Int? = nil, maxItems: Int? = nil,
        itemMinLength: Int? = nil, itemMaxLength: Int? = nil, itemPattern: String? = nil
    ) -> [String]? {
        let loc = path + [.key(key)]
        guard let value = present(key) else { return nil }
        guard case .array(let elements) = value else {
            collector.typeError("list_type", "Input should be a valid list", loc, input: value)
            return nil
        }
        var strings: [String] = []
        for (index, element) in elements.enumerated() {
            guard case .string(let text) = element else {
                collector.typeError("string_type", "Input should be a valid string", loc + [.index(index)], input: element)
                continue
            }
            collector.checkString(text, loc: loc + [.index(index)], minLength: itemMinLength, maxLength: itemMaxLength, pattern: itemPattern)
            strings.append(text)
        }
        collector.checkCount(elements.count, input: value, loc: loc, minItems: minItems, maxItems: maxItems)
        return strings
    }

    /// An array of nested models, each read with its own constraints under `loc + [index]`.
    public mutating func modelArray<Element: RequestModel>(_ key: String, of type: Element.Type, minItems: Int? = nil, maxItems: Int? = nil) -> [Element] {
        let loc = path + [.key(key)]
        guard let value = present(key) else {
            missingOrNull(key)
            return []
        }
        guard case .array(let elements) = value else {
            collector.typeError("list_type", "Input should be a valid list", loc, input: value)
            return []
        }
        var models: [Element] = []
        for (index, element) in elements.enumerated() {
            var nested = FieldReader(element, path: loc + [.index(index)])
            let model = Element(from: &nested)
            collector.add(contentsOf: nested.collector.issues)
            models.append(model)
        }
        collector.checkCount(elements.count, input: value, loc: loc, minItems: minItems, maxItems: maxItems)
        return models
    }

    private mutating func missingOrNull(_ key: String) {
        // A body that is not an object was reported once already; its fields are not missing too.
        guard case .object = source else { return }
        let loc = path + [.key(key)]
        if object[key] == .null {
            collector.typeError("missing", "Field required", loc, input: .null)
        } else {
            collector.missing(loc, input: source)
        }
    }
}
