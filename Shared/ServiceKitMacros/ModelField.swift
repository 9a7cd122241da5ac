import Foundation
import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxMacros

/// One stored property of a `@Model` struct, as the macro sees it.
struct ModelField {
    var name: String
    var key: String
    var type: String
    var isOptional: Bool
    var defaultValue: String?
    var arguments: [String: String]
    /// `@Hidden`: only in the memberwise initialiser, never in JSON or the schema.
    var isHidden = false

    static let stringArguments = ["minLength", "maxLength", "pattern", "format"]
    static let numberArguments = ["gt", "ge", "lt", "le"]
    static let itemArguments = ["minItems", "maxItems", "itemMinLength", "itemMaxLength", "itemPattern", "itemFormat"]
    static let otherArguments = ["key", "description", "example"]

    /// The fields of `structDecl`, or nil after diagnosing a declaration the macro cannot handle.
    static func collect(from structDecl: StructDeclSyntax, in context: some MacroExpansionContext) -> [ModelField]? {
        var fields: [ModelField] = []
        var valid = true
        for member in structDecl.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self) else { continue }
            if variable.modifiers.contains(where: { $0.name.tokenKind == .keyword(.static) }) { continue }
            let attributes = variable.attributes.compactMap { $0.as(AttributeSyntax.self) }
            let isHidden = attributes.contains { $0.attributeName.trimmedDescription == "Hidden" }
            for binding in variable.bindings {
                if let accessors = binding.accessorBlock, Self.isComputed(accessors) { continue }
                guard let identifier = binding.pattern.as(IdentifierPatternSyntax.self) else { continue }
                let name = identifier.identifier.text
                if isHidden {
                    guard let initializer = binding.initializer, let type = binding.typeAnnotation?.type else {
                        context.diagnose(Diagnostic(node: binding, message: ModelDiagnostic.hiddenNeedsDefault(name)))
                        valid = false
                        continue
                    }
                    var hidden = ModelField(name: name, key: name, type: type.trimmedDescription, isOptional: false, defaultValue: initializer.value.trimmedDescription, arguments: [:])
                    hidden.isHidden = true
                    fields.append(hidden)
                    continue
                }
                guard let typeSyntax = binding.typeAnnotation?.type else {
                    context.diagnose(Diagnostic(node: binding, message: ModelDiagnostic.needsType(name)))
                    valid = false
                    continue
                }
                if variable.bindingSpecifier.tokenKind == .keyword(.let), binding.initializer != nil {
                    context.diagnose(Diagnostic(node: binding, message: ModelDiagnostic.letWithDefault(name)))
                    valid = false
                    continue
                }
                let field = attributes.first { $0.attributeName.trimmedDescription == "Field" }
                var arguments: [String: String] = [:]
                if let list = field?.arguments?.as(LabeledExprListSyntax.self) {
                    for argument in list {
                        guard let label = argument.label?.text else { continue }
                        arguments[label] = argument.expression.trimmedDescription
                    }
                }
                let (base, optional) = Self.unwrapOptional(typeSyntax)
                var defaultValue = binding.initializer?.value.trimmedDescription
                if optional, defaultValue == "nil" { defaultValue = nil }
                let model = ModelField(
                    name: name,
                    key: arguments["key"].map(Self.unquote) ?? Self.snakeCase(name),
                    type: typeSyntax.trimmedDescription,
                    isOptional: optional,
                    defaultValue: defaultValue,
                    arguments: arguments
                )
                if let problem = model.mismatch(base: base) {
                    context.diagnose(Diagnostic(node: field.map(Syntax.init) ?? Syntax(binding), message: problem))
                    valid = false
                }
                for argument in field?.arguments?.as(LabeledExprListSyntax.self) ?? [] {
                    guard let label = argument.label?.text, label == "pattern" || label == "itemPattern",
                        let problem = Self.patternProblem(argument.expression)
                    else { continue }
                    context.diagnose(Diagnostic(node: argument, message: ModelDiagnostic.badPattern(label, name, problem)))
                    valid = false
                }
                fields.append(model)
            }
        }
        return valid ? fields : nil
    }

    /// A constraint that cannot apply to a field of a well-known type is a compile error here; for
    /// other types the generated `FieldRules` calls fail to type-check instead.
    func mismatch(base: TypeSyntax) -> ModelDiagnostic? {
        let text = base.trimmedDescription
        let isArray = base.is(ArrayTypeSyntax.self) || text.hasPrefix("Array<")
        let isString = text == "String"
        let isNumber = ["Int", "Int64", "Int32", "Double", "Float", "UInt", "UInt64"].contains(text)
        let known = isArray || isString || isNumber || text == "Bool"
        guard known else { return nil }
        for label in arguments.keys.sorted() {
            if Self.stringArguments.contains(label), !isString { return .misplaced(label, name, text, "String") }
            if Self.numberArguments.contains(label), !isNumber { return .misplaced(label, name, text, "a number") }
            if Self.itemArguments.contains(label), !isArray { return .misplaced(label, name, text, "an array") }
        }
        return nil
    }

    /// Why a literal pattern does not compile as the run-time engine (`NSRegularExpression`)
    /// reads it, or nil when it compiles or is not a literal the macro can read.
    static func patternProblem(_ expression: ExprSyntax) -> String? {
        guard let literal = expression.as(StringLiteralExprSyntax.self), let source = literal.representedLiteralValue else {
            return nil
        }
        do {
            _ = try NSRegularExpression(pattern: source)
            return nil
        } catch {
            return "'\(source)' is not a valid regular expression"
        }
    }

    /// The `FieldRules` expression for this field.
    var rulesExpression: String {
        var expression = "ServiceKit.FieldRules<\(type)>()"
        let strings = Self.call(Self.stringArguments, arguments)
        if !strings.isEmpty { expression += ".strings(\(strings))" }
        let numbers = Self.call(Self.numberArguments, arguments)
        if !numbers.isEmpty { expression += ".bounds(\(numbers))" }
        var items = Self.call(["minItems", "maxItems"], arguments)
        let itemStrings = Self.call(["itemMinLength", "itemMaxLength", "itemPattern", "itemFormat"], arguments)
            .replacingOccurrences(of: "itemMinLength", with: "minLength")
            .replacingOccurrences(of: "itemMaxLength", with: "maxLength")
            .replacingOccurrences(of: "itemPattern", with: "pattern")
            .replacingOccurrences(of: "itemFormat", with: "format")
        if !itemStrings.isEmpty { items += (items.isEmpty ? "" : ", ") + "each: { $0.strings(\(itemStrings)) }" }
        if !items.isEmpty { expression += ".items(\(items))" }
        let docs = Self.call(["description", "example"], arguments)
        if !docs.isEmpty { expression += ".documented(\(docs))" }
        return expression
    }

    private static func call(_ labels: [String], _ arguments: [String: String]) -> String {
        labels.compactMap { label in arguments[label].map { "\(label): \($0)" } }.joined(separator: ", ")
    }

    private static func isComputed(_ accessors: AccessorBlockSyntax) -> Bool {
        switch accessors.accessors {
        case .getter: return true
        case .accessors(let list):
            return list.contains { ["get", "set", "_read", "_modify"].contains($0.accessorSpecifier.text) }
        }
    }

    private static func unwrapOptional(_ type: TypeSyntax) -> (TypeSyntax, Bool) {
        if let optional = type.as(OptionalTypeSyntax.self) { return (optional.wrappedType, true) }
        if let identifier = type.as(IdentifierTypeSyntax.self), identifier.name.text == "Optional",
            let argument = identifier.genericArgumentClause?.arguments.first,
            case .type(let wrapped) = argument.argument
        {
            return (wrapped, true)
        }
        return (type, false)
    }

    static func snakeCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                if !result.isEmpty { result += "_" }
                result += character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static func unquote(_ literal: String) -> String {
        literal.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}

import Foundation

/// Why `@Model` refused a declaration.
enum ModelDiagnostic: DiagnosticMessage {
    case notAStruct
    case needsType(String)
    case letWithDefault(String)
    case hiddenNeedsDefault(String)
    case misplaced(String, String, String, String)
    case badPattern(String, String, String)

    var message: String {
        switch self {
        case .notAStruct: return "@Model applies to a struct"
        case .needsType(let name): return "@Model field '\(name)' needs an explicit type annotation"
        case .letWithDefault(let name): return "@Model field '\(name)' has a default value; declare it with 'var' so decoding can set it"
        case .hiddenNeedsDefault(let name): return "@Hidden property '\(name)' needs an explicit type and a default value"
        case .misplaced(let label, let name, let type, let applies):
            return "'\(label)' applies to \(applies), but field '\(name)' is \(type)"
        case .badPattern(let label, let name, let problem):
            return "'\(label)' of field '\(name)': \(problem)"
        }
    }

    var diagnosticID: MessageID { MessageID(domain: "ServiceKitMacros", id: "\(self)".components(separatedBy: "(")[0]) }
    var severity: DiagnosticSeverity { .error }
}
