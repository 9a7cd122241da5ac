import Foundation

/// Reads the fields of one model from its source (a JSON object, or the text fields of a query,
/// headers, cookies or a form), collecting every issue so one 422 names all of them.
public struct ModelReader {
    /// Thrown by a model's reader after its issues were recorded; never escapes ServiceKit.
    public struct Incomplete: Error {
        public init() {}
    }

    enum Source {
        case json([String: JSONValue], whole: JSONValue)
        case text(TextFields)
    }

    let source: Source
    let loc: [ValidationIssue.Location]
    /// Header models match and report keys with hyphens (`x_token` is `x-token`).
    var headerStyle = false
    /// What was found wrong so far.
    public internal(set) var issues = IssueCollector()

    init(json object: [String: JSONValue], whole: JSONValue, at loc: [ValidationIssue.Location]) {
        source = .json(object, whole: whole)
        self.loc = loc
    }

    init(text fields: TextFields, at loc: [ValidationIssue.Location]) {
        source = .text(fields)
        self.loc = loc
    }

    /// The field `key`: its value, the default or absent value when missing, or nil once the
    /// issues found are recorded.
    public mutating func read<Value: FieldValue>(_ key: String, _ rules: FieldRules<Value>, default fallback: Value? = nil) -> Value? {
        let key = headerStyle ? key.replacingOccurrences(of: "_", with: "-") : key
        let fieldLoc = loc + [.key(key)]
        let raw: JSONValue?
        let missingInput: JSONValue
        switch source {
        case .json(let object, let whole):
            raw = object[key]
            missingInput = whole
        case .text(let fields):
            raw = fields.value(key, repeated: Value.takesRepeatedValues)
            missingInput = .null
        }
        guard let raw else {
            if let fallback { return fallback }
            if let absent = Value.absentValue { return absent }
            issues.missing(fieldLoc, input: missingInput)
            return nil
        }
        return Value.read(raw, at: fieldLoc, rules: rules, issues: &issues)
    }
}

/// Text inputs with repeatable keys: a query string, headers, cookies or a urlencoded form.
/// Values are presented to fields as JSON strings (or arrays of them for array fields).
public struct TextFields: Sendable {
    var pairs: [(String, String)]
    /// Files of a multipart form by field name; a field sees a file as `UploadedFile.token(at:)`.
    private(set) var files: [(key: String, file: UploadedFile)] = []

    public init(_ pairs: [(String, String)]) { self.pairs = pairs }

    /// A multipart form's text fields and files.
    init(_ pairs: [(String, String)], files: [(String, UploadedFile)]) {
        self.pairs = pairs
        self.files = files.map { (key: $0.0, file: $0.1) }
    }

    func value(_ key: String, repeated: Bool) -> JSONValue? {
        if !repeated {
            // The last value wins; a file after the text fields of the same name, as before.
            if let index = files.lastIndex(where: { $0.key == key }) { return UploadedFile.token(at: index) }
            return pairs.last(where: { $0.0 == key }).map { JSONValue.string($0.1) }
        }
        var values: [JSONValue] = []
        for pair in pairs where pair.0 == key { values.append(.string(pair.1)) }
        for (index, file) in files.enumerated() where file.key == key { values.append(UploadedFile.token(at: index)) }
        return values.isEmpty ? nil : .array(values)
    }

    /// Keys compared without regard to case (HTTP header names).
    func lowercasingKeys() -> TextFields {
        var copy = self
        copy.pairs = pairs.map { ($0.0.lowercased(), $0.1) }
        return copy
    }
}
