import Foundation

/// String formats a field may be checked against (and documented with).
public enum StringFormat: String, Sendable {
    case email
    case url = "uri"
    case uuid
    case dateTime = "date-time"
}

/// The untyped constraints of one field; `FieldRules` puts a type on it so only constraints that
/// fit the field's type can be written.
public struct RuleSet: Sendable {
    public var minLength: Int?
    public var maxLength: Int?
    public var pattern: CompiledPattern?
    public var format: StringFormat?
    public var gt: Double?
    public var ge: Double?
    public var lt: Double?
    public var le: Double?
    public var minItems: Int?
    public var maxItems: Int?
    /// Rules for each element of an array field.
    public var items: [RuleSet] = []
    public var description: String?
    public var example: String?

    public init() {}
}

/// A regular expression compiled once, when the model's rules are first used.
///
/// `@Field(pattern:)` checks the pattern when the model compiles (a bad one is a compile error
/// naming the field). Rules written by hand that name a pattern which does not compile match no
/// value, so a request meets a 422, never a trap.
public struct CompiledPattern: @unchecked Sendable {
    // NSRegularExpression is immutable after creation and documented as thread-safe.
    let regex: NSRegularExpression?
    /// The source, as declared (reported in errors and in the schema).
    public let source: String

    init(_ source: String) {
        self.source = source
        self.regex = try? NSRegularExpression(pattern: source)
    }

    func matches(_ text: String) -> Bool {
        guard let regex else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

/// The constraints of a field of type `Value`. Each family of constraints exists only where it
/// applies (`strings` on strings, `bounds` on numbers, `items` on arrays), so a misplaced one is a
/// compile error.
public struct FieldRules<Value>: Sendable {
    public var set: RuleSet

    public init() { set = RuleSet() }
    public init(_ set: RuleSet) { self.set = set }

    /// The same rules for another view of the value (an optional's wrapped type).
    public func retyped<Other>(_: Other.Type = Other.self) -> FieldRules<Other> { FieldRules<Other>(set) }

    /// Description and example, for the documentation.
    public func documented(description: String? = nil, example: String? = nil) -> Self {
        var copy = self
        copy.set.description = description
        copy.set.example = example
        return copy
    }
}

/// Types `minLength`, `maxLength`, `pattern` and `format` apply to.
public protocol StringConstrainable {}
/// Types `gt`, `ge`, `lt` and `le` apply to.
public protocol NumberConstrainable {}
/// Types `minItems`, `maxItems` and item constraints apply to.
public protocol ArrayConstrainable { associatedtype Element }

extension String: StringConstrainable {}
extension Int: NumberConstrainable {}
extension Double: NumberConstrainable {}
extension Array: ArrayConstrainable {}
extension Optional: StringConstrainable where Wrapped: StringConstrainable {}
extension Optional: NumberConstrainable where Wrapped: NumberConstrainable {}
extension Optional: ArrayConstrainable where Wrapped: ArrayConstrainable {
    public typealias Element = Wrapped.Element
}

extension FieldRules where Value: StringConstrainable {
    /// Length (in characters), pattern and format of a string.
    public func strings(minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil, format: StringFormat? = nil) -> Self {
        var copy = self
        copy.set.minLength = minLength
        copy.set.maxLength = maxLength
        copy.set.pattern = pattern.map(CompiledPattern.init)
        copy.set.format = format
        return copy
    }
}

extension FieldRules where Value: NumberConstrainable {
    /// Exclusive (`gt`, `lt`) and inclusive (`ge`, `le`) bounds of a number.
    public func bounds(gt: Double? = nil, ge: Double? = nil, lt: Double? = nil, le: Double? = nil) -> Self {
        var copy = self
        copy.set.gt = gt
        copy.set.ge = ge
        copy.set.lt = lt
        copy.set.le = le
        return copy
    }
}

extension FieldRules where Value: ArrayConstrainable {
    /// Item count of an array, and rules for each element.
    public func items(
        minItems: Int? = nil, maxItems: Int? = nil,
        each: (FieldRules<Value.Element>) -> FieldRules<Value.Element> = { $0 }
    ) -> Self {
        var copy = self
        copy.set.minItems = minItems
        copy.set.maxItems = maxItems
        copy.set.items = [each(FieldRules<Value.Element>()).set]
        return copy
    }
}
