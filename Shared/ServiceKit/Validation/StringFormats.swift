import Foundation

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
