import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxMacros

/// `@Model` on a struct: from its stored properties (and their `@Field` constraints) generates the
/// validating reader, the memberwise initialiser, `Codable`, the fast JSON writer and the JSON
/// Schema, so a model's field names and rules are written once.
public struct ModelMacro: MemberMacro, ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingMembersOf declaration: some DeclGroupSyntax,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        guard let structDecl = declaration.as(StructDeclSyntax.self) else {
            context.diagnose(Diagnostic(node: node, message: ModelDiagnostic.notAStruct))
            return []
        }
        let fields = ModelField.collect(from: structDecl, in: context)
        guard let fields else { return [] }
        let access = structDecl.modifiers.contains { $0.name.tokenKind == .keyword(.public) } ? "public " : ""
        let typeName = structDecl.name.text
        return ModelCode(typeName: typeName, access: access, fields: fields).members()
    }

    public static func expansion(
        of node: AttributeSyntax,
        attachedTo declaration: some DeclGroupSyntax,
        providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        guard declaration.is(StructDeclSyntax.self) else { return [] }
        let decl: DeclSyntax = "extension \(type.trimmed): ServiceKit.Model {}"
        return [decl.cast(ExtensionDeclSyntax.self)]
    }
}

/// `@Field(...)` only marks a property for `@Model`, which reads its arguments; alone it adds nothing.
public struct FieldMacro: PeerMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingPeersOf declaration: some DeclSyntaxProtocol,
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] { [] }
}

/// `@Hidden` marks a stored property that is not part of the model's JSON (it needs a default).
public struct HiddenMacro: PeerMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingPeersOf declaration: some DeclSyntaxProtocol,
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] { [] }
}
