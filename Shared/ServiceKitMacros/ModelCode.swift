import SwiftSyntax

/// The members `@Model` adds, written as source text from the collected fields.
struct ModelCode {
    var typeName: String
    var access: String
    var all: [ModelField]
    /// The fields in JSON and the schema (all but `@Hidden` ones).
    var fields: [ModelField] { all.filter { !$0.isHidden } }

    init(typeName: String, access: String, fields: [ModelField]) {
        self.typeName = typeName
        self.access = access
        self.all = fields
    }

    func members() -> [DeclSyntax] {
        var decls: [DeclSyntax] = []
        decls.append(DeclSyntax(stringLiteral: memberwiseInit()))
        for field in fields {
            decls.append("private static let \(raw: rulesName(field)) = \(raw: field.rulesExpression)")
        }
        decls.append(DeclSyntax(stringLiteral: readerInit()))
        decls.append(DeclSyntax(stringLiteral: schemaFunction()))
        decls.append(DeclSyntax(stringLiteral: writerFunction()))
        decls.append(DeclSyntax(stringLiteral: "\(access)init(from decoder: any Decoder) throws { self = try ServiceKit.ModelDecoding.decode(Self.self, from: decoder) }"))
        decls.append(DeclSyntax(stringLiteral: encodeFunction()))
        return decls
    }

    private func rulesName(_ field: ModelField) -> String { "__rules_\(field.name)" }

    private func memberwiseInit() -> String {
        let parameters = all.map { field -> String in
            if let value = field.defaultValue { return "\(field.name): \(field.type) = \(value)" }
            if field.isOptional { return "\(field.name): \(field.type) = nil" }
            return "\(field.name): \(field.type)"
        }.joined(separator: ", ")
        let body = all.map { "self.\($0.name) = \($0.name)" }.joined(separator: "\n")
        return "\(access)init(\(parameters)) {\n\(body)\n}"
    }

    private func readerInit() -> String {
        var lines: [String] = []
        for field in fields {
            let defaultPart = field.defaultValue.map { ", default: \($0)" } ?? ""
            lines.append("let \(field.name) = reader.read(\"\(field.key)\", Self.\(rulesName(field))\(defaultPart))")
        }
        if !fields.isEmpty {
            lines.append("guard \(fields.map { "let \($0.name)" }.joined(separator: ", ")) else { throw ServiceKit.ModelReader.Incomplete() }")
        }
        lines.append(contentsOf: fields.map { "self.\($0.name) = \($0.name)" })
        return "\(access)init(from reader: inout ServiceKit.ModelReader) throws {\n\(lines.joined(separator: "\n"))\n}"
    }

    private func schemaFunction() -> String {
        let lines = fields.map { field -> String in
            let defaultPart = field.defaultValue.map { ", default: \($0)" } ?? ""
            return "schema.field(\"\(field.key)\", Self.\(rulesName(field))\(defaultPart))"
        }
        return "\(access)static func describeFields(_ schema: inout ServiceKit.ModelSchemaBuilder) {\n\(lines.joined(separator: "\n"))\n}"
    }

    private func writerFunction() -> String {
        let lines = fields.map { "writer.field(\"\($0.key)\", \($0.name))" }
        return "\(access)func writeJSON(to writer: inout ServiceKit.JSONWriter) {\nwriter.beginObject()\n\(lines.joined(separator: "\n"))\nwriter.endObject()\n}"
    }

    private func encodeFunction() -> String {
        let lines = fields.map { "try container.encode(\($0.name), forKey: ServiceKit.ModelCodingKey(\"\($0.key)\"))" }
        let body = fields.isEmpty ? "_ = encoder.container(keyedBy: ServiceKit.ModelCodingKey.self)" :
            "var container = encoder.container(keyedBy: ServiceKit.ModelCodingKey.self)\n\(lines.joined(separator: "\n"))"
        return "\(access)func encode(to encoder: any Encoder) throws {\n\(body)\n}"
    }
}
