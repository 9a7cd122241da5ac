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
        _ value: String, loc: [ValidationIssue.Location], minLength: Int?, maxLength: Int?, pattern: String?
    ) {
        let length = value.count
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
        if let pattern, value.range(of: pattern, options: .regularExpression) == nil {
            add(ValidationIssue(
                type: "string_pattern_mismatch", loc: loc, msg: "String should match pattern '\(pattern)'",
                input: .string(value), ctx: ["pattern": .string(pattern)]
            ))
        }
    }

    mutating func checkString(_ value: String, loc: [ValidationIssue.Location], rules: RuleSet) {
        checkString(value, loc: loc, minLength: rules.minLength, maxLength: rules.maxLength, pattern: nil)
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

/// Conversions of JSON and text inputs to Swift scalars with pydantic's lax rules and error types.
enum Scalar {
    static func int(_ value: JSONValue) -> (Int?, type: String, msg: String) {
        switch value {
        case .int(let whole): return (whole, "", "")
        case .double(let number):
            if number.rounded() == number, let whole = Int(exactly: number) { return (whole, "", "") }
            return (nil, "int_from_float", "Input should be a valid integer, got a number with a fractional part")
        case .string(let text): return int(text: text)
        default: return (nil, "int_type", "Input should be a valid integer")
        }
    }

    static func int(text: String) -> (Int?, type: String, msg: String) {
        if let whole = Int(text.trimmingSpaces()) { return (whole, "", "") }
        return (nil, "int_parsing", "Input should be a valid integer, unable to parse string as an integer")
    }

    static func double(_ value: JSONValue) -> (Double?, type: String, msg: String) {
        switch value {
        case .int(let whole): return (Double(whole), "", "")
        case .double(let number): return (number, "", "")
        case .string(let text): return double(text: text)
        default: return (nil, "float_type", "Input should be a valid number")
        }
    }

    static func double(text: String) -> (Double?, type: String, msg: String) {
        if let number = Double(text.trimmingSpaces()), number.isFinite { return (number, "", "") }
        return (nil, "float_parsing", "Input should be a valid number, unable to parse string as a number")
    }

    static func bool(text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "1", "yes", "on", "t", "y": return true
        case "false", "0", "no", "off", "f", "n": return false
        default: return nil
        }
    }
}

/// The string formats pydantic checks, with its error types: `value_error` for e-mail addresses,
/// `url_parsing`/`url_scheme` for HTTP URLs, `uuid_parsing`, `datetime_parsing`.
enum StringFormats {
    static func check(_ value: String, _ format: StringFormat, loc: [ValidationIssue.Location]) -> ValidationIssue? {
        switch format {
        case .email:
            guard let reason = emailProblem(value) else { return nil }
            return ValidationIssue(
                type: "value_error", loc: loc, msg: "value is not a valid email address: \(reason)",
                input: .string(value), ctx: ["reason": .string(reason)]
            )
        case .url:
            guard let components = URLComponents(string: value), let scheme = components.scheme,
                let host = components.host, !host.isEmpty
            else {
                return ValidationIssue(
                    type: "url_parsing", loc: loc, msg: "Input should be a valid URL, relative URL without a base",
                    input: .string(value), ctx: ["error": .string("relative URL without a base")]
                )
            }
            guard ["http", "https"].contains(scheme.lowercased()) else {
                return ValidationIssue(
                    type: "url_scheme", loc: loc, msg: "URL scheme should be 'http' or 'https'",
                    input: .string(value), ctx: ["expected_schemes": .string("'http' or 'https'")]
                )
            }
            return nil
        case .uuid:
            guard UUID(uuidString: value) == nil else { return nil }
            return ValidationIssue(
                type: "uuid_parsing", loc: loc, msg: "Input should be a valid UUID, invalid character",
                input: .string(value), ctx: ["error": .string("invalid character")]
            )
        case .dateTime:
            guard (try? Date.ISO8601FormatStyle(includingFractionalSeconds: false).parse(value)) == nil,
                (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(value)) == nil
            else { return nil }
            return ValidationIssue(
                type: "datetime_parsing", loc: loc, msg: "Input should be a valid datetime",
                input: .string(value), ctx: ["error": .string("invalid datetime")]
            )
        }
    }

    /// Why `value` is not an e-mail address (email-validator's wording), or nil when it is one.
    static func emailProblem(_ value: String) -> String? {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return parts.count < 2 ? "An email address must have an @-sign." : "The email address is not valid. It must have exactly one @-sign."
        }
        let local = parts[0]
        let domain = parts[1]
        if local.isEmpty { return "There must be something before the @-sign." }
        if domain.isEmpty { return "There must be something after the @-sign." }
        if value.contains(where: { $0.isWhitespace }) { return "The email address contains invalid characters." }
        if !domain.contains(".") || domain.hasPrefix(".") || domain.hasSuffix(".") || domain.contains("..") {
            return "The part after the @-sign is not valid. It should have a period."
        }
        return nil
    }
}

extension String {
    /// Without leading and trailing `.whitespaces`, as Foundation's `trimmingCharacters(in:)`, but
    /// text that starts and ends with an ASCII byte other than space or tab (almost every path
    /// and query value) is returned after two byte checks instead of a character-set scan.
    func trimmingSpaces() -> String {
        let bytes = utf8
        if let first = bytes.first, let last = bytes.last, first < 0x80, last < 0x80,
            first != 0x20, first != 0x09, last != 0x20, last != 0x09
        {
            return self
        }
        return trimmingCharacters(in: .whitespaces)
    }
}
