import Foundation

/// Collects pydantic-shaped issues while inputs are read, so one 422 lists every bad field.
public struct IssueCollector: Sendable {
    /// The issues found so far, in input order.
    public private(set) var issues: [ValidationIssue] = []

    public init() {}

    /// Adds an issue found elsewhere.
    public mutating func add(_ issue: ValidationIssue) { issues.append(issue) }

    /// Adds several issues.
    public mutating func add(contentsOf more: [ValidationIssue]) { issues.append(contentsOf: more) }

    /// Throws a `ValidationFailure` when anything was collected.
    public func check() throws {
        if !issues.isEmpty { throw ValidationFailure(issues) }
    }

    mutating func missing(_ loc: [ValidationIssue.Location], input: JSONValue?) {
        add(ValidationIssue(type: "missing", loc: loc, msg: "Field required", input: input))
    }

    mutating func typeError(_ type: String, _ msg: String, _ loc: [ValidationIssue.Location], input: JSONValue) {
        add(ValidationIssue(type: type, loc: loc, msg: msg, input: input))
    }

    mutating func checkString(
        _ value: String, loc: [ValidationIssue.Location], minLength: Int?, maxLength: Int?
    ) {
        // Pydantic counts code points (Python's `len`), not grapheme clusters: one letter with
        // thousands of combining marks is one `Character` but thousands of scalars.
        let length = value.unicodeScalars.count
        if let minLength, length < minLength {
            add(ValidationIssue(
                type: "string_too_short", loc: loc,
                msg: "String should have at least \(minLength) character\(minLength == 1 ? "" : "s")",
                input: .string(value), ctx: ["min_length": .int(minLength)]
            ))
        }
        if let maxLength, length > maxLength {
            add(ValidationIssue(
                type: "string_too_long", loc: loc,
                msg: "String should have at most \(maxLength) character\(maxLength == 1 ? "" : "s")",
                input: .string(value), ctx: ["max_length": .int(maxLength)]
            ))
        }
    }

    mutating func checkString(_ value: String, loc: [ValidationIssue.Location], rules: RuleSet) {
        checkString(value, loc: loc, minLength: rules.minLength, maxLength: rules.maxLength)
        if let pattern = rules.pattern, !pattern.matches(value) {
            add(ValidationIssue(
                type: "string_pattern_mismatch", loc: loc, msg: "String should match pattern '\(pattern.source)'",
                input: .string(value), ctx: ["pattern": .string(pattern.source)]
            ))
        }
        if let format = rules.format, let issue = StringFormats.check(value, format, loc: loc) { add(issue) }
    }

    mutating func checkNumber(_ value: Double, input: JSONValue, loc: [ValidationIssue.Location], rules: RuleSet) {
        checkNumber(value, input: input, loc: loc, gt: rules.gt, ge: rules.ge, lt: rules.lt, le: rules.le)
    }

    mutating func checkNumber(
        _ value: Double, input: JSONValue, loc: [ValidationIssue.Location], gt: Double?, ge: Double?, lt: Double?, le: Double?
    ) {
        if let gt, !(value > gt) {
            add(bound("greater_than", "greater than", gt, "gt", loc, input))
        }
        if let ge, !(value >= ge) {
            add(bound("greater_than_equal", "greater than or equal to", ge, "ge", loc, input))
        }
        if let lt, !(value < lt) {
            add(bound("less_than", "less than", lt, "lt", loc, input))
        }
        if let le, !(value <= le) {
            add(bound("less_than_equal", "less than or equal to", le, "le", loc, input))
        }
    }

    mutating func checkCount(_ count: Int, input: JSONValue, loc: [ValidationIssue.Location], minItems: Int?, maxItems: Int?) {
        if let minItems, count < minItems {
            add(ValidationIssue(
                type: "too_short", loc: loc,
                msg: "List should have at least \(minItems) item\(minItems == 1 ? "" : "s") after validation, not \(count)",
                input: input, ctx: ["field_type": .string("List"), "min_length": .int(minItems), "actual_length": .int(count)]
            ))
        }
        if let maxItems, count > maxItems {
            add(ValidationIssue(
                type: "too_long", loc: loc,
                msg: "List should have at most \(maxItems) item\(maxItems == 1 ? "" : "s") after validation, not \(count)",
                input: input, ctx: ["field_type": .string("List"), "max_length": .int(maxItems), "actual_length": .int(count)]
            ))
        }
    }

    private func bound(
        _ type: String, _ phrase: String, _ limit: Double, _ key: String, _ loc: [ValidationIssue.Location], _ input: JSONValue
    ) -> ValidationIssue {
        let limitValue: JSONValue = limit.rounded() == limit && abs(limit) < 1e15 ? .int(Int(limit)) : .double(limit)
        let text: String
        switch limitValue {
        case .int(let whole): text = String(whole)
        default: text = String(limit)
        }
        return ValidationIssue(type: type, loc: loc, msg: "Input should be \(phrase) \(text)", input: input, ctx: [key: limitValue])
    }
}
