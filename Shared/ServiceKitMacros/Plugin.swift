import SwiftCompilerPlugin
import SwiftSyntaxMacros

@main
struct ServiceKitMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [ModelMacro.self, FieldMacro.self, HiddenMacro.self]
}
